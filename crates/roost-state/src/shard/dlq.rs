//! Failed deliveries and the dead-letter queue.

use super::{refuse, Effect, Effects, Lookup, Outcome, ShardState};
use crate::{CommandError, DlqEntry, NackRecord, QueryResult, QueueId, Response};

impl ShardState {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn nack(
        &mut self,
        now: u64,
        queue: &QueueId,
        auth: &[u8; 32],
        seq: u64,
        error: &str,
        dead_letter: bool,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        let q = match self.authorized(queue, auth) {
            Ok(q) => q,
            Err(e) => return refuse(e),
        };
        if seq <= q.floor_seq || seq > q.head_seq {
            return refuse(CommandError::SeqOutOfRange {
                seq,
                floor: q.floor_seq,
                head: q.head_seq,
            });
        }
        let previous = q.nacks.get(&seq).cloned();
        let count = previous.as_ref().map_or(0, |r| r.count).saturating_add(1);
        let already = previous.as_ref().is_some_and(|r| r.dead_lettered);
        let move_now = !already && (dead_letter || count >= q.settings.max_deliveries);
        let envelope = if move_now {
            match lookup.messages(queue, seq - 1, 1)?.into_iter().next() {
                Some(e) if e.seq == seq => Some(e),
                _ => {
                    return Err(crate::LookupError(format!(
                        "envelope {seq} of {queue} is missing"
                    )))
                }
            }
        } else {
            None
        };
        let Some(q) = self.queues.get_mut(queue) else {
            return refuse(CommandError::QueueNotFound);
        };
        q.nacks.insert(
            seq,
            NackRecord {
                count,
                last_error: error.to_owned(),
                dead_lettered: already || move_now,
            },
        );
        if let Some(envelope) = envelope {
            let row = q.dlq_next_row;
            q.dlq_next_row += 1;
            q.dlq_len += 1;
            fx.push(Effect::PutDlq {
                queue: queue.clone(),
                row,
                entry: DlqEntry {
                    envelope,
                    nack_count: count,
                    last_error: error.to_owned(),
                    dead_lettered_at_ms: now,
                },
            });
        }
        fx.push(Effect::PutQueue(queue.clone()));
        Ok(Ok(Response::Nacked {
            seq,
            nack_count: count,
            dead_lettered: already || move_now,
        }))
    }

    pub(super) fn dlq_page(
        &self,
        queue: &QueueId,
        auth: &[u8; 32],
        after: u64,
        limit: usize,
        lookup: &dyn Lookup,
    ) -> Outcome<QueryResult> {
        if let Err(e) = self.authorized(queue, auth) {
            return refuse(e);
        }
        let rows = lookup.dlq_page(queue, after, limit)?;
        let next_cursor = rows.last().map_or(after, |(row, _)| *row);
        // Rows are numbered in order and never reused, so more exist exactly when a row past
        // the last returned one does.
        let has_more = rows.len() == limit && !lookup.dlq_page(queue, next_cursor, 1)?.is_empty();
        Ok(Ok(QueryResult::DlqPage {
            rows,
            next_cursor,
            has_more,
        }))
    }
}
