//! What an applied change is about, so a node wakes only the waiters of that (a long poll on a
//! queue, a job's watchers, a workspace's waiting claims) instead of every waiter of the shard.

use crate::QueueId;

/// A subject waiters subscribe to and applied changes are announced on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A queue: its messages, cursors or settings changed.
    Queue(QueueId),
    /// A workspace: one of its jobs, work queues or tasks changed.
    Workspace(String),
}
