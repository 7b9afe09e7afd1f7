//! One Raft group as a node runs it.

use std::sync::Arc;

use roost_storage::{ShardReader, SnapshotStats};
use roost_types::Raft;

use crate::proposer::Proposer;
use crate::read_barrier::ReadBarrier;

/// A local Raft group: the Raft instance, read access to its state, and its read barrier.
#[derive(Clone)]
pub struct Group {
    /// The group's Raft instance on this node.
    pub raft: Raft,
    /// Applied-state reads, valid on the leader after the barrier.
    pub reader: ShardReader,
    /// Batched leadership checks for linearizable reads.
    pub barrier: ReadBarrier,
    /// Batched proposals of commands.
    pub proposer: Proposer,
    /// The group's snapshot builds and installs here, for metrics.
    pub snapshots: Arc<SnapshotStats>,
}
