//! The operator's statistics of a shard, read from the in-memory metadata alone (queues,
//! jobs and tasks all live there), so they cost no storage read.

use std::cmp::Reverse;

use super::ShardState;
use crate::stats::{QueueStat, QueueStats, WorkloadStats, CONSUMERS_SHOWN};
use crate::Queue;

impl ShardState {
    /// Totals over every queue, and the `limit` deepest in full.
    pub(super) fn queue_stats(&self, limit: usize) -> QueueStats {
        let mut stats = QueueStats {
            queues: self.queues.len() as u64,
            ..QueueStats::default()
        };
        let mut by_depth: Vec<&Queue> = Vec::with_capacity(self.queues.len());
        for q in self.queues.values() {
            stats.messages += q.message_count();
            stats.dlq += q.dlq_len;
            by_depth.push(q);
        }
        // Selecting before sorting keeps this linear in the number of queues.
        let deepest = |q: &&Queue| (Reverse(q.message_count()), q.id.clone());
        if limit < by_depth.len() {
            by_depth.select_nth_unstable_by_key(limit, deepest);
            by_depth.truncate(limit);
        }
        by_depth.sort_by_key(deepest);
        stats.deepest = by_depth.into_iter().map(queue_stat).collect();
        stats
    }

    /// Jobs and tasks counted by status.
    pub(super) fn workload_stats(&self) -> WorkloadStats {
        let mut stats = WorkloadStats {
            work_queues: self.work_queues.len() as u64,
            ..WorkloadStats::default()
        };
        for job in self.jobs.values() {
            *stats
                .jobs
                .entry(job.status.as_str().to_owned())
                .or_default() += 1;
        }
        for task in self.tasks.values() {
            *stats
                .tasks
                .entry(task.status.as_str().to_owned())
                .or_default() += 1;
        }
        stats
    }
}

/// One queue's statistics, its slowest consumers first.
fn queue_stat(q: &Queue) -> QueueStat {
    let mut consumers: Vec<(String, u64)> =
        q.consumers.iter().map(|(c, at)| (c.clone(), *at)).collect();
    consumers.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    consumers.truncate(CONSUMERS_SHOWN);
    QueueStat {
        id: q.id.clone(),
        head_seq: q.head_seq,
        messages: q.message_count(),
        dlq: q.dlq_len,
        held: q.held_len,
        consumer_count: q.consumers.len() as u64,
        consumers,
    }
}
