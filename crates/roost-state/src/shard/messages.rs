//! Appending envelopes (publish, DLQ replay) and reading them (pull).

use super::{refuse, Effect, Effects, Lookup, Outcome, ShardState};
use crate::queue::IDEMPOTENCY_WINDOW_MS;
use crate::{
    CommandError, Envelope, IdempotencyRecord, QueryResult, Queue, QueueId, Response, Source,
};

/// The parts of a new envelope chosen by the proposer.
pub(super) struct NewMessage<'a> {
    pub id: &'a str,
    pub payload: &'a str,
    pub source: &'a Source,
}

impl ShardState {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn publish(
        &mut self,
        now: u64,
        queue: &QueueId,
        auth: &[u8; 32],
        msg: NewMessage<'_>,
        idempotency: Option<&(String, [u8; 32])>,
        release_held: bool,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.authorized(queue, auth) {
            return refuse(e);
        }
        if let Some((key, digest)) = idempotency {
            if let Some(rec) = lookup.idempotency(queue, key)? {
                if now.saturating_sub(rec.at_ms) < IDEMPOTENCY_WINDOW_MS {
                    if rec.body_digest != *digest {
                        return refuse(CommandError::IdempotencyMismatch);
                    }
                    if rec.seq == 0 {
                        // The first attempt was held back by a quota.
                        return Ok(Ok(Response::Held { pending_id: rec.id }));
                    }
                    return Ok(Ok(Response::Published {
                        seq: rec.seq,
                        id: rec.id,
                        published_at_ms: rec.at_ms,
                        replayed: true,
                    }));
                }
            }
        }
        // Entries from before charged publishes (plain `Publish`) release held publishes first,
        // in the order they were sent; a charged publish (`KeepHeld`) leaves them held.
        if release_held {
            self.drain_held_into(now, queue, u64::MAX, lookup, fx)?;
        }
        let Some(q) = self.queues.get_mut(queue) else {
            return refuse(CommandError::QueueNotFound);
        };
        let envelope = append(q, now, msg, fx);
        if let Some((key, digest)) = idempotency {
            fx.push(Effect::PutIdempotency {
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
        self.collect_garbage(now, queue, lookup, fx)?;
        Ok(Ok(Response::Published {
            seq: envelope.seq,
            id: envelope.id,
            published_at_ms: now,
            replayed: false,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn replay(
        &mut self,
        now: u64,
        queue: &QueueId,
        auth: &[u8; 32],
        dlq_msg_id: &str,
        id: &str,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.authorized(queue, auth) {
            return refuse(e);
        }
        let Some((row, entry)) = lookup.dlq_row(queue, dlq_msg_id)? else {
            return refuse(CommandError::DlqMessageNotFound);
        };
        let source = Source::DlqReplay {
            replayed_from: dlq_msg_id.to_owned(),
        };
        let msg = NewMessage {
            id,
            payload: &entry.envelope.payload,
            source: &source,
        };
        let Some(q) = self.queues.get_mut(queue) else {
            return refuse(CommandError::QueueNotFound);
        };
        let envelope = append(q, now, msg, fx);
        q.dlq_len = q.dlq_len.saturating_sub(1);
        fx.push(Effect::DeleteDlq {
            queue: queue.clone(),
            row,
            msg_id: dlq_msg_id.to_owned(),
        });
        self.collect_garbage(now, queue, lookup, fx)?;
        Ok(Ok(Response::Replayed { envelope }))
    }

    pub(super) fn pull(
        &self,
        queue: &QueueId,
        auth: &[u8; 32],
        consumer: &str,
        cursor: Option<u64>,
        limit: usize,
        lookup: &dyn Lookup,
    ) -> Outcome<QueryResult> {
        let q = match self.authorized(queue, auth) {
            Ok(q) => q,
            Err(e) => return refuse(e),
        };
        let asked = cursor.unwrap_or_else(|| q.consumers.get(consumer).copied().unwrap_or(0));
        let start = asked.max(q.floor_seq);
        let messages = lookup.messages(queue, start, limit)?;
        let next_cursor = messages.last().map_or(start, |m| m.seq);
        Ok(Ok(QueryResult::Pulled {
            has_more: next_cursor < q.head_seq,
            messages,
            cursor: start,
            next_cursor,
            floor: q.floor_seq,
            below_floor: asked < q.floor_seq,
        }))
    }
}

/// Appends an envelope to `q`.
pub(super) fn append(q: &mut Queue, now: u64, msg: NewMessage<'_>, fx: &mut Effects) -> Envelope {
    q.head_seq += 1;
    let envelope = Envelope {
        id: msg.id.to_owned(),
        seq: q.head_seq,
        published_at_ms: now,
        source: msg.source.clone(),
        payload: msg.payload.to_owned(),
    };
    fx.push(Effect::PutQueue(q.id.clone()));
    fx.push(Effect::PutMessage {
        queue: q.id.clone(),
        envelope: envelope.clone(),
    });
    envelope
}
