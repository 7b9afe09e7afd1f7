//! Queues: the key a request presents, create / inspect / delete, and allowed origins. The
//! message flow is in `messages` (publish, pull), cursors in `consumers` (ack, roster), failures
//! in `dlq` (nack, dead letters, replay), and the account claim of quotas in `claim`.

mod claim;
mod consumers;
mod dlq;
mod messages;
mod origins;

pub use dlq::{DeadLetters, Nacked, Replayed};
pub use messages::{Published, Pulled, MAX_BATCH};
pub use origins::{check_origin, origin_set};
pub use roost_wire::{CreateQueue, Nack, OriginsField, Pull};

use roost_state::command as cmd;
use std::net::IpAddr;

use roost_state::{
    ids, Command, Origins, Query, QueryResult, Queue, QueueId, QueueSettings, Response,
};

use crate::keys::digest;
use crate::{Api, Error, ErrorCode};

use crate::input::MAX_CONSUMERS;

/// A queue as a request addresses it: its id and the digest of the key it presented. Whether
/// the key is right is decided by the queue's shard, with the request.
#[derive(Clone, Debug)]
pub struct QueueRef {
    /// The queue.
    pub id: QueueId,
    /// SHA-256 of the presented key.
    pub auth: [u8; 32],
}

/// A created queue and its key, shown this once.
#[derive(Clone, Debug)]
pub struct CreatedQueue {
    /// The queue.
    pub queue: Queue,
    /// Its key.
    pub key: String,
}

impl Api {
    /// The queue `raw` names, with the key presented (`None`: none was). A malformed id, or one
    /// naming a shard this cluster does not have, is simply not found and costs no Raft round.
    pub fn queue_ref(&self, raw: &str, key: Option<&str>) -> Result<QueueRef, Error> {
        let id = self.queue_id(raw)?;
        Ok(QueueRef {
            id,
            auth: digest(queue_key(key)?.as_bytes()),
        })
    }

    /// The queue `raw` names, if it names an existing shard.
    pub fn queue_id(&self, raw: &str) -> Result<QueueId, Error> {
        QueueId::parse(raw)
            .filter(|id| (1..=self.node().shards()).contains(&id.shard()))
            .ok_or_else(Error::queue_not_found)
    }

    /// Applies `command` in `q`'s shard; a refusal is its error.
    pub(crate) async fn q_write(&self, q: &QueueId, command: Command) -> Result<Response, Error> {
        match self.node().write(q.shard(), command).await? {
            Response::Refused(e) => Err(e.into()),
            other => Ok(other),
        }
    }

    /// Answers `query` in `q`'s shard; a refusal is its error.
    pub(crate) async fn q_read(&self, q: &QueueId, query: Query) -> Result<QueryResult, Error> {
        match self.node().read(q.shard(), query).await? {
            QueryResult::Refused(e) => Err(e.into()),
            other => Ok(other),
        }
    }

    /// Creates a queue for the client at `addr` in a uniformly picked shard, with a freshly
    /// minted key.
    pub async fn create_queue(
        &self,
        addr: Option<IpAddr>,
        req: CreateQueue,
    ) -> Result<CreatedQueue, Error> {
        self.create_limit()
            .check(addr, self.settings().creates_per_minute, "creates")?;
        if req.consumers.len() > MAX_CONSUMERS {
            return Err(Error::new(
                ErrorCode::TooManyConsumersInRequest,
                format!("at most {MAX_CONSUMERS} consumers at create"),
                "Register the rest later with POST /q/{id}/consumers.",
            ));
        }
        let consumers = consumer_ids(&req.consumers)?;
        let max_deliveries = req
            .max_deliveries
            .unwrap_or(QueueSettings::default().max_deliveries);
        if !(1..=100).contains(&max_deliveries) {
            return Err(Error::new(
                ErrorCode::InvalidMaxDeliveries,
                "max_deliveries must be between 1 and 100",
                "Omit max_deliveries for the default of 5.",
            ));
        }
        let allowed_origins = match req.allowed_origins {
            None => Origins::None,
            Some(field) => origins::checked(field)?,
        };
        let key = self.mint_key("qk_");
        let id = QueueId::new(self.node().pick_shard(), self.random());
        let command = self
            .settings()
            .queue_caps
            .limit(Command::CreateQueue(cmd::CreateQueue {
                id: id.clone(),
                key_digest: digest(key.as_bytes()),
                consumers,
                settings: QueueSettings {
                    max_deliveries,
                    allowed_origins,
                    retention: self.settings().retention,
                },
            }));
        match self.q_write(&id, command).await? {
            Response::Created { queue } => Ok(CreatedQueue { queue, key }),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// The queue's state: head, floor, counts, every consumer's cursor, settings.
    pub async fn get_queue(&self, q: &QueueRef) -> Result<Queue, Error> {
        let query = Query::Info {
            queue: q.id.clone(),
            auth: q.auth,
        };
        match self.q_read(&q.id, query).await? {
            QueryResult::Info { queue } => Ok(queue),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Deletes the queue with all its messages, cursors and dead letters.
    pub async fn delete_queue(&self, q: &QueueRef) -> Result<(), Error> {
        let command = Command::DeleteQueue(cmd::DeleteQueue {
            queue: q.id.clone(),
            auth: q.auth,
        });
        match self.q_write(&q.id, command).await? {
            Response::Done => Ok(()),
            other => Err(Error::unexpected(&other)),
        }
    }
}

/// The queue key a request presented; refused when there is none.
pub fn queue_key(key: Option<&str>) -> Result<&str, Error> {
    key.map(str::trim).filter(|k| !k.is_empty()).ok_or_else(|| {
        Error::new(
            ErrorCode::MissingApiKey,
            "missing Authorization: Bearer <queue_api_key>",
            "Send the queue_api_key returned by POST /q/create as 'Authorization: Bearer <key>'.",
        )
    })
}

/// Checks a consumer id: 1-128 characters of letters, digits and `_ - . :`.
pub fn consumer_id(raw: &str) -> Result<String, Error> {
    if ids::is_valid_consumer_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(Error::new(
            ErrorCode::InvalidConsumerId,
            format!("invalid consumer_id {raw:?}"),
            "Use 1-128 characters of letters, digits, '_', '-', '.' or ':'.",
        ))
    }
}

/// Checks a list of consumer ids.
fn consumer_ids(raw: &[String]) -> Result<Vec<String>, Error> {
    raw.iter().map(|c| consumer_id(c)).collect()
}
