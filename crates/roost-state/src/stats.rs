//! The operator's view of a shard's contents: queue depths and lags, jobs and tasks by status.
//! Counts, ids and cursors only — never a payload or a key digest — so the status page can
//! show them to whoever holds the operator key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::QueueId;

/// At most this many consumers are reported per queue (the furthest behind), so one queue
/// with a thousand consumers cannot swell an answer.
pub const CONSUMERS_SHOWN: usize = 10;

/// One queue's depth, DLQ size and consumers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStat {
    /// The queue.
    pub id: QueueId,
    /// Seq of the newest envelope (publish rates come from successive values).
    pub head_seq: u64,
    /// Envelopes stored (above the floor).
    pub messages: u64,
    /// Dead letters waiting.
    pub dlq: u64,
    /// Publishes held back by a quota.
    pub held: u64,
    /// Registered consumers in all.
    pub consumer_count: u64,
    /// The [`CONSUMERS_SHOWN`] consumers furthest behind, with their acked cursors.
    pub consumers: Vec<(String, u64)>,
}

/// A shard's queues: totals, and the deepest few in full.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Queues held.
    pub queues: u64,
    /// Envelopes stored across them.
    pub messages: u64,
    /// Dead letters across them.
    pub dlq: u64,
    /// The deepest queues (most envelopes stored, then id), deepest first.
    pub deepest: Vec<QueueStat>,
}

/// A shard's jobs and work queues by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadStats {
    /// Jobs by status name (`pending`, `running`, …); statuses with none are left out.
    pub jobs: BTreeMap<String, u64>,
    /// Work queues held.
    pub work_queues: u64,
    /// Tasks by status name, across the work queues.
    pub tasks: BTreeMap<String, u64>,
}
