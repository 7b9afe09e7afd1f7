//! A shard's state machine: applies commands and answers queries, deterministically.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::queue::{IDEMPOTENCY_WINDOW_MS, INSPECTION_PREFIX};
use crate::{
    Command, CommandError, Envelope, GroupId, IdempotencyRecord, LookupError, Query, QueryResult,
    Queue, QueueId, Request, Response, Source, META_GROUP,
};

/// Reads of bulk data kept by storage, needed while applying or querying.
///
/// Implementations must reflect every [`Effect`] already returned earlier in the same apply
/// batch, so consecutive commands see each other's writes.
pub trait Lookup {
    /// The idempotency record for `key` on `queue`, if one was stored.
    fn idempotency(
        &self,
        queue: &QueueId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, LookupError>;
    /// Up to `limit` envelopes of `queue` with `seq > after`, in seq order.
    fn messages(
        &self,
        queue: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, LookupError>;
}

/// A change to persist, in the order given, atomically with the applied log position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The queue's metadata changed: store [`ShardState::queue`]'s current value.
    PutQueue(QueueId),
    /// Store an envelope.
    PutMessage {
        /// Its queue.
        queue: QueueId,
        /// The envelope.
        envelope: Envelope,
    },
    /// Store an idempotency record.
    PutIdempotency {
        /// Its queue.
        queue: QueueId,
        /// The client's key.
        key: String,
        /// What the key maps to.
        record: IdempotencyRecord,
    },
}

/// Group-wide values kept beside the queues; persisted with every applied batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The group's monotonic clock: the highest stamped time applied so far.
    pub clock_ms: u64,
    /// The shard count recorded by the metadata group (`None` elsewhere or before bootstrap).
    pub layout: Option<u32>,
}

/// The in-memory part of one group's state: every queue's metadata and the group header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardState {
    /// Which group this state belongs to; commands for other groups are refused.
    group: GroupId,
    /// Clock and layout.
    header: Header,
    /// Queue metadata by id.
    queues: BTreeMap<QueueId, Queue>,
}

impl ShardState {
    /// An empty shard.
    pub fn new(group: GroupId) -> Self {
        ShardState {
            group,
            ..Default::default()
        }
    }

    /// Rebuilds a shard from persisted parts.
    pub fn from_parts(
        group: GroupId,
        header: Header,
        queues: impl IntoIterator<Item = Queue>,
    ) -> Self {
        ShardState {
            group,
            header,
            queues: queues.into_iter().map(|q| (q.id.clone(), q)).collect(),
        }
    }

    /// The group header (clock, layout).
    pub fn header(&self) -> Header {
        self.header
    }

    /// A queue's metadata.
    pub fn queue(&self, id: &QueueId) -> Option<&Queue> {
        self.queues.get(id)
    }

    /// Every queue, in id order.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// Applies one log entry. A refusal is a normal [`Response`]; only a storage failure is an
    /// error, and then nothing of this entry may be persisted.
    pub fn apply(
        &mut self,
        req: &Request,
        lookup: &dyn Lookup,
    ) -> Result<(Response, Vec<Effect>), LookupError> {
        self.header.clock_ms = self.header.clock_ms.max(req.stamped_ms);
        let now = self.header.clock_ms;
        let mut effects = Vec::new();
        if let Some(q) = req.command.queue() {
            if q.shard() != self.group {
                let msg = format!("queue {q} does not belong to group {}", self.group);
                return Ok((Response::Refused(CommandError::Invalid(msg)), effects));
            }
        }
        let response = match &req.command {
            Command::Noop => Response::Done,
            Command::InitLayout { .. } if self.group != META_GROUP => Response::Refused(
                CommandError::Invalid("the layout lives in the metadata group".into()),
            ),
            Command::InitLayout { shards } => {
                Response::Layout {
                    shards: *self.header.layout.get_or_insert(*shards),
                }
            }
            Command::CreateQueue {
                id,
                key_digest,
                consumers,
                settings,
            } => {
                if self.queues.contains_key(id) {
                    Response::Refused(CommandError::QueueExists)
                } else {
                    let queue = Queue {
                        id: id.clone(),
                        key_digest: *key_digest,
                        created_at_ms: now,
                        head_seq: 0,
                        consumers: consumers
                            .iter()
                            .filter(|c| !c.starts_with(INSPECTION_PREFIX))
                            .map(|c| (c.clone(), 0))
                            .collect(),
                        settings: settings.clone(),
                    };
                    self.queues.insert(id.clone(), queue.clone());
                    effects.push(Effect::PutQueue(id.clone()));
                    Response::Created { queue }
                }
            }
            Command::Publish {
                queue,
                auth,
                id,
                payload,
                idempotency,
            } => self.publish(
                now,
                queue,
                auth,
                id,
                payload,
                idempotency.as_ref(),
                lookup,
                &mut effects,
            )?,
            Command::Ack {
                queue,
                auth,
                consumer,
                cursor,
            } => match self.authorized_mut(queue, auth) {
                Err(e) => Response::Refused(e),
                Ok(_) if consumer.starts_with(INSPECTION_PREFIX) => Response::Refused(
                    CommandError::Invalid(format!(
                        "consumer ids starting with {INSPECTION_PREFIX} are for inspection and cannot ack"
                    )),
                ),
                Ok(q) if *cursor > q.head_seq => Response::Refused(CommandError::CursorPastHead {
                    cursor: *cursor,
                    head: q.head_seq,
                }),
                Ok(q) => {
                    let stored = q.consumers.entry(consumer.clone()).or_insert(0);
                    if *cursor > *stored {
                        *stored = *cursor;
                        effects.push(Effect::PutQueue(queue.clone()));
                    } else if *stored == 0 && *cursor == 0 {
                        // A first ack at 0 still registers the consumer.
                        effects.push(Effect::PutQueue(queue.clone()));
                    }
                    Response::Acked { cursor: *stored }
                }
            },
        };
        Ok((response, effects))
    }

    #[allow(clippy::too_many_arguments)]
    fn publish(
        &mut self,
        now: u64,
        queue: &QueueId,
        auth: &[u8; 32],
        id: &str,
        payload: &str,
        idempotency: Option<&(String, [u8; 32])>,
        lookup: &dyn Lookup,
        effects: &mut Vec<Effect>,
    ) -> Result<Response, LookupError> {
        if let Err(e) = self.authorized(queue, auth) {
            return Ok(Response::Refused(e));
        }
        if let Some((key, digest)) = idempotency {
            if let Some(rec) = lookup.idempotency(queue, key)? {
                if now.saturating_sub(rec.at_ms) < IDEMPOTENCY_WINDOW_MS {
                    if rec.body_digest != *digest {
                        return Ok(Response::Refused(CommandError::IdempotencyMismatch));
                    }
                    return Ok(Response::Published {
                        seq: rec.seq,
                        id: rec.id,
                        published_at_ms: rec.at_ms,
                        replayed: true,
                    });
                }
            }
        }
        let Some(q) = self.queues.get_mut(queue) else {
            return Ok(Response::Refused(CommandError::QueueNotFound));
        };
        q.head_seq += 1;
        let envelope = Envelope {
            id: id.to_owned(),
            seq: q.head_seq,
            published_at_ms: now,
            source: Source::Publish,
            payload: payload.to_owned(),
        };
        if let Some((key, digest)) = idempotency {
            effects.push(Effect::PutIdempotency {
                queue: queue.clone(),
                key: key.clone(),
                record: IdempotencyRecord {
                    body_digest: *digest,
                    seq: envelope.seq,
                    id: envelope.id.clone(),
                    at_ms: now,
                },
            });
        }
        let response = Response::Published {
            seq: envelope.seq,
            id: envelope.id.clone(),
            published_at_ms: now,
            replayed: false,
        };
        effects.push(Effect::PutQueue(queue.clone()));
        effects.push(Effect::PutMessage {
            queue: queue.clone(),
            envelope,
        });
        Ok(response)
    }

    /// Answers a read from the applied state.
    pub fn query(&self, query: &Query, lookup: &dyn Lookup) -> Result<QueryResult, LookupError> {
        match query {
            Query::Pull {
                queue,
                auth,
                consumer,
                cursor,
                limit,
            } => {
                let q = match self.authorized(queue, auth) {
                    Ok(q) => q,
                    Err(e) => return Ok(QueryResult::Refused(e)),
                };
                let start =
                    cursor.unwrap_or_else(|| q.consumers.get(consumer).copied().unwrap_or(0));
                let messages = lookup.messages(queue, start, *limit)?;
                let next_cursor = messages.last().map_or(start, |m| m.seq);
                Ok(QueryResult::Pulled {
                    has_more: next_cursor < q.head_seq,
                    messages,
                    cursor: start,
                    next_cursor,
                })
            }
        }
    }

    fn authorized(&self, id: &QueueId, auth: &[u8; 32]) -> Result<&Queue, CommandError> {
        let q = self.queues.get(id).ok_or(CommandError::QueueNotFound)?;
        if bool::from(q.key_digest.ct_eq(auth)) {
            Ok(q)
        } else {
            Err(CommandError::Unauthorized)
        }
    }

    fn authorized_mut(
        &mut self,
        id: &QueueId,
        auth: &[u8; 32],
    ) -> Result<&mut Queue, CommandError> {
        self.authorized(id, auth)?;
        self.queues.get_mut(id).ok_or(CommandError::QueueNotFound)
    }
}

#[cfg(test)]
mod tests;
