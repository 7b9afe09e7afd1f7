//! Publishing envelopes (charged against the payer's quota) and pulling them, with long polls.

use roost_state::command as cmd;
use std::net::IpAddr;
use std::time::Duration;

use roost_node::Denied;
use roost_state::{ids, Command, Envelope, Query, QueryResult, Response, Source, Topic};
use tokio::time::Instant;

use super::{consumer_id, Pull, QueueRef};
use crate::doc::json_document;
use crate::input::page_limit;
use crate::keys::digest;
use crate::workspace::idempotency;
use crate::{Api, Error, ErrorCode};

pub use roost_wire::schema::MAX_BATCH;

/// Messages a pull returns when the request names no limit, and the most it may name.
const PULL_PAGE: (u32, u32) = (10, 1000);
/// Longest long poll, in seconds.
pub(crate) const MAX_WAIT_SECS: u64 = 30;

/// What became of a publish.
#[derive(Clone, Debug)]
pub enum Published {
    /// Stored at `seq` (`replayed`: an idempotent repeat answered with the first publish).
    Stored {
        /// Its place in the queue.
        seq: u64,
        /// The envelope id.
        id: String,
        /// When it was stored, ms since the epoch.
        published_at_ms: u64,
        /// Whether this was an idempotent repeat.
        replayed: bool,
    },
    /// Held back by the payer's monthly quota; published when the plan is raised.
    Held {
        /// The held publish's id.
        pending_id: String,
        /// The payer's plan and use (`None`: a retry of a publish held earlier).
        denied: Option<Denied>,
    },
}

/// A page of a pull.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// Who read.
    pub consumer_id: String,
    /// The envelopes, in seq order.
    pub messages: Vec<Envelope>,
    /// The cursor the read started from (after defaulting and flooring).
    pub cursor: u64,
    /// The cursor to ack, and to pull from next.
    pub next_cursor: u64,
    /// Whether more messages wait past `next_cursor`.
    pub has_more: bool,
    /// Every seq at or below this was garbage-collected.
    pub floor: u64,
    /// The cursor asked for was below the floor; the page starts at the floor.
    pub below_floor: bool,
    /// The limit applied.
    pub limit: u32,
}

impl Api {
    /// Publishes `payload` (a JSON document) to `q`, charged to the queue's owning account or
    /// else to the publisher's address `addr`.
    pub async fn publish(
        &self,
        q: &QueueRef,
        addr: Option<IpAddr>,
        payload: &[u8],
        idempotency_key: Option<String>,
    ) -> Result<Published, Error> {
        let command = self.publish_command(q, payload, idempotency_key)?;
        self.publish_checked(command, addr).await
    }

    /// Publishes `messages` (each a payload and its optional idempotency key) to `q`, each as
    /// if published alone: its own result, its own key. Every message is checked before any is
    /// published, so a bad one refuses the whole batch and changes nothing. They are proposed
    /// in their order (the proposer, and a forward to the leader, keep the order they are
    /// started in), so they normally take consecutive seqs in that order; a retry after a
    /// leader change, or publishes of other clients, can come between. With quotas on, each
    /// message is first charged (a read and a write), so they are published one after another.
    /// When every message was refused for one reason (a wrong key, no such queue), that is the
    /// batch's error.
    pub async fn publish_batch(
        &self,
        q: &QueueRef,
        addr: Option<IpAddr>,
        messages: &[(&[u8], Option<String>)],
    ) -> Result<Vec<Result<Published, Error>>, Error> {
        if messages.is_empty() || messages.len() > MAX_BATCH {
            return Err(Error::invalid_field(
                "messages",
                &format!("must hold 1 to {MAX_BATCH} messages"),
            ));
        }
        let commands = messages
            .iter()
            .enumerate()
            .map(|(i, (payload, key))| {
                self.publish_command(q, payload, key.clone())
                    .map_err(|e| Error {
                        message: format!("messages[{i}]: {}", e.message),
                        ..e
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let results = if self.node().config().quotas.is_some() {
            let mut results = Vec::with_capacity(commands.len());
            for command in commands {
                results.push(self.publish_checked(command, addr).await);
            }
            results
        } else {
            let publishes = commands.into_iter().map(|c| self.publish_checked(c, addr));
            futures::future::join_all(publishes).await
        };
        if let Some(Err(first)) = results.first() {
            if results
                .iter()
                .all(|r| matches!(r, Err(e) if e.code == first.code))
            {
                return Err(first.clone());
            }
        }
        Ok(results)
    }

    /// The publish of `payload` to `q`, checked.
    fn publish_command(
        &self,
        q: &QueueRef,
        payload: &[u8],
        idempotency_key: Option<String>,
    ) -> Result<Command, Error> {
        let text = json_document("message body", payload, self.settings().max_document_bytes)?;
        let idempotency = idempotency(idempotency_key)?.map(|k| (k, digest(payload)));
        Ok(Command::Publish(cmd::Publish {
            queue: q.id.clone(),
            auth: q.auth,
            id: ids::message_id(self.random()),
            payload: text.to_owned(),
            source: Source::Publish,
            idempotency,
            hold: None,
        }))
    }

    /// Proposes a checked publish, charged to the queue's owner or else to `addr`.
    async fn publish_checked(
        &self,
        command: Command,
        addr: Option<IpAddr>,
    ) -> Result<Published, Error> {
        let charged = self.node().publish_charged(command, &payer(addr)).await?;
        match charged.response {
            Response::Published {
                seq,
                id,
                published_at_ms,
                replayed,
            } => Ok(Published::Stored {
                seq,
                id,
                published_at_ms,
                replayed,
            }),
            Response::Held { pending_id } => Ok(Published::Held {
                pending_id,
                denied: charged.denied,
            }),
            Response::Refused(e) => Err(e.into()),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Reads up to `limit` messages past the cursor; with `wait`, long-polls until one shows up
    /// or the wait is over. `addr` is counted against the per-address cap on waiting requests
    /// (`None`: the caller holds a place already, or is in-process).
    pub async fn pull(
        &self,
        q: &QueueRef,
        addr: Option<IpAddr>,
        req: Pull,
    ) -> Result<Pulled, Error> {
        let consumer = consumer_id(&req.consumer_id)?;
        let limit = page_limit(req.limit, PULL_PAGE)?;
        let wait = req.wait.unwrap_or(0);
        if wait > MAX_WAIT_SECS {
            return Err(Error::new(
                ErrorCode::InvalidWait,
                format!("wait must be at most {MAX_WAIT_SECS} seconds"),
                "Use wait=30 or less and poll again when it returns empty.",
            ));
        }
        let query = Query::Pull {
            queue: q.id.clone(),
            auth: q.auth,
            consumer: consumer.clone(),
            cursor: req.cursor,
            limit: limit as usize,
        };
        // Long poll: re-read whenever this node applies a change of the queue, until a message
        // shows up or the wait is over.
        let deadline = Instant::now() + Duration::from_secs(wait);
        let _slot = if wait > 0 {
            self.wait_slot(addr)?
        } else {
            None
        };
        let mut changes = (wait > 0).then(|| self.node().subscribe(Topic::Queue(q.id.clone())));
        loop {
            let result = self.q_read(&q.id, query.clone()).await?;
            let QueryResult::Pulled {
                messages,
                cursor,
                next_cursor,
                has_more,
                floor,
                below_floor,
            } = result
            else {
                return Err(Error::unexpected(&result));
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match &mut changes {
                Some(changes) if messages.is_empty() && !left.is_zero() => {
                    changes.changed(left).await;
                }
                _ => {
                    return Ok(Pulled {
                        consumer_id: consumer,
                        messages,
                        cursor,
                        next_cursor,
                        has_more,
                        floor,
                        below_floor,
                        limit,
                    })
                }
            }
        }
    }
}

/// Who pays for a publish to a queue no account owns: the publisher's address.
pub(crate) fn payer(addr: Option<IpAddr>) -> String {
    addr.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}
