//! Commands on a workspace's work queues and their tasks. Work-queue and task ids name their
//! workspace's shard.

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::{ids, GroupId};

/// Creates a work queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWorkQueue {
    /// Id chosen by the proposer (encodes this shard).
    pub id: String,
    /// The owning workspace.
    pub workspace: String,
    /// A label.
    pub name: String,
    /// The team.
    pub team: String,
}

impl Operation for CreateWorkQueue {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        ids::work_shard(&self.id)
    }
}

/// Deletes a work queue and its tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteWorkQueue {
    /// The caller's workspace.
    pub workspace: String,
    /// The queue.
    pub id: String,
}

impl Operation for DeleteWorkQueue {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        ids::work_shard(&self.id)
    }
}

/// Adds a task (or, for a known Idempotency-Key, answers the existing one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddTask {
    /// Id chosen by the proposer.
    pub id: String,
    /// The caller's workspace.
    pub workspace: String,
    /// The queue.
    pub queue: String,
    /// What to do.
    pub name: String,
    /// 1–5, 5 the most urgent.
    pub priority: u8,
    /// JSON for the agent.
    pub payload: String,
    /// Due by.
    pub deadline_ms: Option<u64>,
    /// The client's `Idempotency-Key`.
    pub idempotency: Option<String>,
}

impl Operation for AddTask {
    // An idempotency key makes a repeat answer the first task.
    fn retry_safe(&self) -> bool {
        self.idempotency.is_some()
    }

    fn group(&self) -> Option<GroupId> {
        ids::work_shard(&self.queue)
    }
}

/// Assigns the most urgent pending task of `queue` (or, stealing, of another queue of the
/// same team) to an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dequeue {
    /// The caller's workspace.
    pub workspace: String,
    /// The queue asked.
    pub queue: String,
    /// The agent.
    pub agent: String,
    /// Fencing token chosen by the proposer.
    pub token: u64,
    /// Lease length.
    pub lease_ms: u64,
    /// Take from the team's other queues instead.
    pub steal: bool,
}

impl Operation for Dequeue {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        ids::work_shard(&self.queue)
    }
}

/// Extends a task's lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHeartbeat {
    /// The caller's workspace.
    pub workspace: String,
    /// The task.
    pub task: String,
    /// Its token.
    pub token: u64,
    /// New lease length from now.
    pub lease_ms: u64,
}

impl Operation for TaskHeartbeat {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        ids::work_shard(&self.task)
    }
}

/// Completes (`Ok(result)`) or fails (`Err(error)`) an assigned task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishTask {
    /// The caller's workspace.
    pub workspace: String,
    /// The task.
    pub task: String,
    /// The assignment's token, when the agent sends it.
    pub token: Option<u64>,
    /// Result JSON or error text.
    pub outcome: Result<String, String>,
}

impl Operation for FinishTask {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        ids::work_shard(&self.task)
    }
}
