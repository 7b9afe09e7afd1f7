//! Consumer cursors (ack, roster) and the garbage collection they gate.

use super::{refuse, Effect, Effects, Lookup, Outcome, ShardState};
use crate::queue::{IDEMPOTENCY_WINDOW_MS, INSPECTION_PREFIX};
use crate::{CommandError, LookupError, Queue, QueueId, Response};

/// How often ticks sweep expired idempotency keys.
const SWEEP_EVERY_MS: u64 = 60_000;
/// Most keys one sweep forgets per queue (the next sweep continues).
const SWEEP_BATCH: usize = 10_000;

/// Envelopes examined per lookup while looking for the age-retention boundary.
const AGE_SCAN_CHUNK: usize = 256;

impl ShardState {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ack(
        &mut self,
        now: u64,
        queue: &QueueId,
        auth: &[u8; 32],
        consumer: &str,
        cursor: u64,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        if consumer.starts_with(INSPECTION_PREFIX) {
            return refuse(CommandError::Invalid(format!(
                "consumer ids starting with {INSPECTION_PREFIX} are for inspection and cannot ack"
            )));
        }
        let q = match self.authorized_mut(queue, auth) {
            Ok(q) => q,
            Err(e) => return refuse(e),
        };
        if cursor > q.head_seq {
            return refuse(CommandError::CursorPastHead {
                cursor,
                head: q.head_seq,
            });
        }
        let known = q.consumers.contains_key(consumer);
        let stored = q.consumers.entry(consumer.to_owned()).or_insert(0);
        let moved = cursor > *stored;
        *stored = (*stored).max(cursor);
        let stored = *stored;
        if moved || !known {
            fx.push(Effect::PutQueue(queue.clone()));
            self.collect_garbage(now, queue, lookup, fx)?;
        }
        Ok(Ok(Response::Acked { cursor: stored }))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn set_consumers(
        &mut self,
        now: u64,
        queue: &QueueId,
        auth: &[u8; 32],
        add: &[String],
        remove: &[String],
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        if let Some(c) = add.iter().find(|c| c.starts_with(INSPECTION_PREFIX)) {
            return refuse(CommandError::Invalid(format!(
                "{c}: consumer ids starting with {INSPECTION_PREFIX} are for inspection and are never registered"
            )));
        }
        let q = match self.authorized_mut(queue, auth) {
            Ok(q) => q,
            Err(e) => return refuse(e),
        };
        for c in remove {
            q.consumers.remove(c);
        }
        let head = q.head_seq;
        for c in add {
            // New consumers see only future messages.
            q.consumers.entry(c.clone()).or_insert(head);
        }
        let consumers = q.consumers.clone();
        fx.push(Effect::PutQueue(queue.clone()));
        self.collect_garbage(now, queue, lookup, fx)?;
        Ok(Ok(Response::Consumers { consumers }))
    }

    /// Reaps expired envelopes of every queue (age retention needs time to pass).
    pub(super) fn tick(
        &mut self,
        now: u64,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Result<(), LookupError> {
        let ids: Vec<QueueId> = self
            .queues
            .values()
            .filter(|q| q.consumers.is_empty() && q.floor_seq < q.head_seq)
            .map(|q| q.id.clone())
            .collect();
        for id in ids {
            self.collect_garbage(now, &id, lookup, fx)?;
        }
        if now.saturating_sub(self.header.last_sweep_ms) >= SWEEP_EVERY_MS {
            self.header.last_sweep_ms = now;
            let cutoff = now.saturating_sub(IDEMPOTENCY_WINDOW_MS);
            let ids: Vec<QueueId> = self.queues.keys().cloned().collect();
            for queue in ids {
                for (at_ms, key) in lookup.expired_idempotency(&queue, cutoff, SWEEP_BATCH)? {
                    let record = lookup
                        .idempotency(&queue, &key)?
                        .is_some_and(|r| r.at_ms == at_ms);
                    fx.push(Effect::DeleteIdempotency {
                        queue: queue.clone(),
                        key,
                        at_ms,
                        record,
                    });
                }
            }
        }
        Ok(())
    }

    /// Raises the queue's floor as far as its consumers (or, with none, its retention) allow.
    pub(super) fn collect_garbage(
        &mut self,
        now: u64,
        queue: &QueueId,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Result<(), LookupError> {
        let Some(q) = self.queues.get(queue) else {
            return Ok(());
        };
        let floor = reap_floor(q, now, lookup)?;
        if floor <= q.floor_seq {
            return Ok(());
        }
        let after = q.floor_seq;
        if let Some(q) = self.queues.get_mut(queue) {
            q.floor_seq = floor;
            q.nacks = q.nacks.split_off(&(floor + 1));
        }
        fx.push(Effect::DeleteMessages {
            queue: queue.clone(),
            after,
            through: floor,
        });
        fx.push(Effect::PutQueue(queue.clone()));
        Ok(())
    }
}

/// The highest seq that may be reaped: the slowest registered consumer's cursor, or with no
/// registered consumer, what the retention limits let go.
fn reap_floor(q: &Queue, now: u64, lookup: &dyn Lookup) -> Result<u64, LookupError> {
    if let Some(min) = q.consumers.values().min() {
        return Ok(*min);
    }
    let retention = q.settings.retention;
    let mut floor = q.floor_seq;
    if let Some(max) = retention.max_messages {
        floor = floor.max(q.head_seq.saturating_sub(max));
    }
    if let Some(max_age) = retention.max_age_ms {
        let cutoff = now.saturating_sub(max_age);
        'scan: while floor < q.head_seq {
            let chunk = lookup.messages(&q.id, floor, AGE_SCAN_CHUNK)?;
            if chunk.is_empty() {
                break;
            }
            for m in chunk {
                if m.published_at_ms >= cutoff {
                    break 'scan;
                }
                floor = m.seq;
            }
        }
    }
    Ok(floor)
}
