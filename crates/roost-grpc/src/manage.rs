//! The queue-management calls of the `Queues` service: create, inspect, delete, the consumer
//! roster, nack and the dead-letter queue. They mirror the HTTP edge's `/q/...` routes and
//! apply the same checks, so a request refused over HTTP is refused here with the same code.

use rand::{Rng, RngCore};
use roost_api::ErrorCode;
use roost_state::{
    Command, DlqEntry, Origins, Query, QueryResult, Queue, QueueId, QueueSettings, Response,
};
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::pb;
use crate::service::{envelope, QueuesService};
use crate::status::{failed, invalid, refused, unexpected};

/// Most consumers registered at create, and most names in one roster change (as over HTTP).
const MAX_CONSUMERS: usize = 100;
/// Dead letters per page when the request names no limit, and the most it may name.
const DLQ_PAGE: (u32, u32) = (50, 1000);

impl QueuesService {
    /// Applies `command` in the queue's shard; a refusal becomes its status.
    pub(crate) async fn apply(
        &self,
        queue: &QueueId,
        command: Command,
    ) -> Result<Response, Status> {
        match self.node.write(queue.shard(), command).await {
            Ok(Response::Refused(e)) => Err(refused(&e)),
            Ok(other) => Ok(other),
            Err(e) => Err(failed(e)),
        }
    }

    /// Answers `query` in the queue's shard; a refusal becomes its status.
    async fn query(&self, queue: &QueueId, query: Query) -> Result<QueryResult, Status> {
        match self.node.read(queue.shard(), query).await {
            Ok(QueryResult::Refused(e)) => Err(refused(&e)),
            Ok(other) => Ok(other),
            Err(e) => Err(failed(e)),
        }
    }

    /// `CreateQueue`: a new queue in a uniformly picked shard, with a freshly minted key.
    pub(crate) async fn create_queue(
        &self,
        req: pb::CreateQueueRequest,
    ) -> Result<pb::CreateQueueReply, Status> {
        if req.consumers.len() > MAX_CONSUMERS {
            return Err(invalid(
                ErrorCode::TooManyConsumersInRequest,
                "at most 100 consumers at create",
            ));
        }
        let consumers = consumer_ids(req.consumers)?;
        let max_deliveries = match req.max_deliveries {
            0 => QueueSettings::default().max_deliveries,
            n @ 1..=100 => n,
            _ => {
                return Err(invalid(
                    ErrorCode::InvalidMaxDeliveries,
                    "max_deliveries must be between 1 and 100",
                ))
            }
        };
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let key = format!(
            "qk_{}",
            secret
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let id = QueueId::new(self.node.pick_shard(), rand::rng().random());
        let command = self.caps.limit(Command::CreateQueue {
            id: id.clone(),
            key_digest: Sha256::digest(key.as_bytes()).into(),
            consumers,
            settings: QueueSettings {
                max_deliveries,
                allowed_origins: Origins::None,
                retention: self.retention,
            },
        });
        match self.apply(&id, command).await? {
            Response::Created { queue } => Ok(pb::CreateQueueReply {
                queue_id: id.as_str().to_owned(),
                queue_api_key: key,
                consumers: queue.consumers.into_keys().collect(),
                max_deliveries,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// `GetQueue`: head, floor, counts and every consumer's cursor and lag.
    pub(crate) async fn get_queue(
        &self,
        auth: [u8; 32],
        req: pb::QueueRef,
    ) -> Result<pb::QueueInfo, Status> {
        let queue = self.queue(&req.queue_id)?;
        let query = Query::Info {
            queue: queue.clone(),
            auth,
        };
        match self.query(&queue, query).await? {
            QueryResult::Info { queue } => Ok(info(&queue)),
            other => Err(unexpected(&other)),
        }
    }

    /// `DeleteQueue`.
    pub(crate) async fn delete_queue(
        &self,
        auth: [u8; 32],
        req: pb::QueueRef,
    ) -> Result<pb::DeleteQueueReply, Status> {
        let queue = self.queue(&req.queue_id)?;
        let command = Command::DeleteQueue {
            queue: queue.clone(),
            auth,
        };
        match self.apply(&queue, command).await? {
            Response::Done => Ok(pb::DeleteQueueReply { deleted: true }),
            other => Err(unexpected(&other)),
        }
    }

    /// `SetConsumers`: registers and unregisters, then answers the queue's state.
    pub(crate) async fn set_consumers(
        &self,
        auth: [u8; 32],
        req: pb::SetConsumersRequest,
    ) -> Result<pb::QueueInfo, Status> {
        let queue = self.queue(&req.queue_id)?;
        if req.add.len() + req.remove.len() > MAX_CONSUMERS {
            return Err(invalid(
                ErrorCode::TooManyConsumersInRequest,
                "at most 100 consumers per change",
            ));
        }
        let command = self.caps.limit(Command::SetConsumers {
            queue: queue.clone(),
            auth,
            add: consumer_ids(req.add)?,
            remove: consumer_ids(req.remove)?,
        });
        match self.apply(&queue, command).await? {
            Response::Consumers { .. } => {
                self.get_queue(
                    auth,
                    pb::QueueRef {
                        queue_id: req.queue_id,
                    },
                )
                .await
            }
            other => Err(unexpected(&other)),
        }
    }

    /// `Nack`: counts a failed delivery, dead-lettering the message when asked or when it
    /// has failed `max_deliveries` times.
    pub(crate) async fn nack(
        &self,
        auth: [u8; 32],
        req: pb::NackRequest,
    ) -> Result<pb::NackReply, Status> {
        let queue = self.queue(&req.queue_id)?;
        let consumer = consumer_ids(vec![req.consumer_id])?.remove(0);
        if req.error.len() > roost_api::input::MAX_ERROR_BYTES {
            return Err(invalid(
                ErrorCode::InvalidError,
                "error must be at most 4096 bytes",
            ));
        }
        let command = Command::Nack {
            queue: queue.clone(),
            auth,
            consumer,
            seq: req.seq,
            error: req.error,
            dead_letter: req.dead_letter,
        };
        match self.apply(&queue, command).await? {
            Response::Nacked {
                seq,
                nack_count,
                dead_lettered,
            } => Ok(pb::NackReply {
                seq,
                nack_count,
                dead_lettered,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// `ListDeadLetters`: one exact page of the dead-letter queue.
    pub(crate) async fn list_dead_letters(
        &self,
        auth: [u8; 32],
        req: pb::DeadLettersRequest,
    ) -> Result<pb::DeadLettersReply, Status> {
        let queue = self.queue(&req.queue_id)?;
        let limit = match req.limit {
            0 => DLQ_PAGE.0,
            n if n <= DLQ_PAGE.1 => n,
            _ => {
                return Err(invalid(
                    ErrorCode::InvalidLimit,
                    "limit must be at most 1000",
                ))
            }
        };
        let query = Query::Dlq {
            queue: queue.clone(),
            auth,
            after: req.cursor,
            limit: limit as usize,
        };
        match self.query(&queue, query).await? {
            QueryResult::DlqPage {
                rows,
                next_cursor,
                has_more,
            } => Ok(pb::DeadLettersReply {
                messages: rows.into_iter().map(dead_letter).collect(),
                next_cursor,
                has_more,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// `ReplayDeadLetter`: the dead letter published again as a new envelope.
    pub(crate) async fn replay_dead_letter(
        &self,
        auth: [u8; 32],
        publisher: &str,
        req: pb::ReplayRequest,
    ) -> Result<pb::Envelope, Status> {
        let queue = self.queue(&req.queue_id)?;
        let command = Command::ReplayDlq {
            queue: queue.clone(),
            auth,
            dlq_msg_id: req.dlq_msg_id,
            id: roost_state::ids::message_id(rand::rng().random()),
        };
        let replayed = self
            .node
            .replay_charged(command, publisher)
            .await
            .map_err(crate::status::failed)?;
        match replayed {
            roost_node::Replay::OverQuota(d) => Err(crate::status::over_quota(&d)),
            roost_node::Replay::Applied(applied) => match *applied {
                Response::Replayed { envelope: e } => Ok(envelope(e)),
                Response::Refused(e) => Err(refused(&e)),
                other => Err(unexpected(&other)),
            },
        }
    }
}

/// Checks consumer ids as the HTTP edge does.
fn consumer_ids(raw: Vec<String>) -> Result<Vec<String>, Status> {
    match raw
        .iter()
        .find(|c| !roost_state::ids::is_valid_consumer_id(c))
    {
        Some(_) => Err(invalid(
            ErrorCode::InvalidConsumerId,
            "consumer_id must be 1-128 letters, digits, '_', '-', '.' or ':'",
        )),
        None => Ok(raw),
    }
}

/// A queue's state as the reply message.
fn info(queue: &Queue) -> pb::QueueInfo {
    pb::QueueInfo {
        queue_id: queue.id.as_str().to_owned(),
        head_seq: queue.head_seq,
        floor_seq: queue.floor_seq,
        message_count: queue.message_count(),
        dlq_count: queue.dlq_len,
        consumers: queue
            .consumers
            .iter()
            .map(|(c, cursor)| pb::ConsumerCursor {
                consumer_id: c.clone(),
                cursor: *cursor,
                lag: queue.head_seq.saturating_sub(*cursor),
            })
            .collect(),
        created_at_ms: queue.created_at_ms,
        max_deliveries: queue.settings.max_deliveries,
    }
}

/// One dead-letter row as the reply message.
fn dead_letter((row, e): (u64, DlqEntry)) -> pb::DeadLetter {
    pb::DeadLetter {
        envelope: Some(envelope(e.envelope)),
        nack_count: e.nack_count,
        last_error: e.last_error,
        dead_lettered_at_ms: e.dead_lettered_at_ms,
        dlq_cursor: row,
    }
}
