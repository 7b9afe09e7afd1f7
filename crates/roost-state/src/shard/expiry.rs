//! Expiry of queues nobody used. Creating a queue needs no key, and every queue is state each
//! replica keeps in memory and reloads at every start; a queue nothing was ever published to is
//! the trace of a client that went away (or of someone filling the node), so an operator can
//! have such queues removed after a while.

use super::{Effect, Effects, ShardState};
use crate::{QueueId, Response};

impl ShardState {
    /// Deletes the queues with no message ever published, created at least `unused_for_ms`
    /// before `now`, and claimed by no account.
    pub(super) fn expire_unused(
        &mut self,
        now: u64,
        unused_for_ms: u64,
        fx: &mut Effects,
    ) -> Response {
        let expired: Vec<QueueId> = self
            .queues
            .values()
            .filter(|q| {
                q.head_seq == 0
                    && q.held_len == 0
                    && q.owner.is_none()
                    && now.saturating_sub(q.created_at_ms) >= unused_for_ms
            })
            .map(|q| q.id.clone())
            .collect();
        for id in &expired {
            self.queues.remove(id);
            fx.push(Effect::DeleteQueueData(id.clone()));
            fx.push(Effect::PutQueue(id.clone()));
        }
        Response::Done
    }
}
