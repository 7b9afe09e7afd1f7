//! Work queues: priority task assignment for teams of agents, with leases and stealing.

use serde::{Deserialize, Serialize};

/// A work queue of a team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkQueue {
    /// `wq_` + shard + random.
    pub id: String,
    /// The owning workspace.
    pub workspace: String,
    /// A label.
    pub name: String,
    /// The team whose queues may steal from each other.
    pub team: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
}

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Waiting for an agent.
    Pending,
    /// Held by an agent under a lease.
    Assigned,
    /// Done.
    Completed,
    /// Given up.
    Failed,
}

impl TaskStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            TaskStatus::Pending,
            TaskStatus::Assigned,
            TaskStatus::Completed,
            TaskStatus::Failed,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// A task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// `wt_` + shard + random.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// The owning workspace.
    pub workspace: String,
    /// What to do.
    pub name: String,
    /// 1–5, 5 the most urgent.
    pub priority: u8,
    /// JSON for the agent.
    pub payload: String,
    /// Due by (ms since the epoch).
    pub deadline_ms: Option<u64>,
    /// Where it is.
    pub status: TaskStatus,
    /// The agent holding it (or that finished it).
    pub agent_id: Option<String>,
    /// Fencing token of the current assignment.
    pub token: Option<u64>,
    /// The assignment lapses then unless heartbeats extend it.
    pub lease_expires_ms: Option<u64>,
    /// Result JSON once completed.
    pub result: Option<String>,
    /// Error once failed.
    pub error: Option<String>,
    /// Order of creation within the shard (FIFO tie-break).
    pub seq: u64,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// Times, ms since the epoch.
    pub created_ms: u64,
    /// Last change.
    pub updated_ms: u64,
}

impl Task {
    /// Whether the deadline has passed while the task is not done.
    pub fn overdue(&self, now_ms: u64) -> bool {
        matches!(self.status, TaskStatus::Pending | TaskStatus::Assigned)
            && self.deadline_ms.is_some_and(|d| d < now_ms)
    }
}
