//! Work queues (`/work-queues`, `/work-queue-tasks`): requests and replies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{Doc, Time};

/// A new work queue (`POST /work-queues`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "docs", "teamId": "writers"}))]
pub struct CreateWorkQueue {
    /// Its name (1-200 characters).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// The team whose agents take its tasks (1-128 characters).
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub team_id: String,
}

/// A new task (`POST /work-queues/{id}/tasks`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "write the docs", "priority": 5}))]
pub struct AddTask {
    /// What to do (1-500 characters).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub name: String,
    /// 1-5, 5 the most urgent (default 3).
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 1, maximum = 5)]
    pub priority: Option<i64>,
    /// JSON for the agent; `{}` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub payload: Option<Doc>,
    /// When it is due (RFC 3339 in UTC, `Z`, from 1970); past it, the task is shown overdue.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](\.[0-9]{1,9})?Z$")]
    pub deadline: Option<Time>,
    /// Makes a retried add return the first task (HTTP: the `Idempotency-Key` header).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

/// An agent taking a task (`POST /work-queues/{id}/dequeue` and `/steal`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"agentId": "agent-7"}))]
pub struct TakeTask {
    /// Who takes it (1-128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub agent_id: String,
}

/// The end of a task (complete or fail) or a heartbeat.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishTask {
    /// The token its dequeue returned; without it, the finish is not fenced.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-fA-F]{1,16}$")]
    pub token: Option<String>,
    /// The result of a completed task (`null` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Doc>,
    /// Why a task failed (at most 4096 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 4096)]
    pub error: Option<String>,
}

/// A work queue with its tasks counted by status.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkQueue {
    /// The queue.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The team whose agents take its tasks.
    pub team_id: String,
    /// When it was created.
    pub created_at: String,
    /// Tasks per status.
    pub counts: BTreeMap<String, u64>,
}

/// `{"workQueues": [...]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkQueueList {
    /// The queues.
    pub work_queues: Vec<WorkQueue>,
}

/// A task; only its assignee (the dequeue answer) sees the token.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The task.
    pub id: String,
    /// Its work queue.
    pub queue_id: String,
    /// What to do.
    pub name: String,
    /// 1-5, 5 the most urgent.
    pub priority: u8,
    /// The JSON for the agent, byte for byte.
    pub payload: Box<RawValue>,
    /// When it is due.
    pub deadline: Option<String>,
    /// Whether it is past its deadline and not done.
    pub overdue: bool,
    /// `pending`, `assigned`, `completed` or `failed`.
    pub status: String,
    /// The agent holding it.
    pub agent_id: Option<String>,
    /// The lease's fencing token (the dequeue answer only).
    pub token: Option<String>,
    /// When the lease ends.
    pub lease_expires_at: Option<String>,
    /// The result, byte for byte.
    pub result: Option<Box<RawValue>>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was added.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// `{"task": ...}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskReply {
    /// The task.
    pub task: Task,
}

/// `{"tasks": [...]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskList {
    /// The tasks.
    pub tasks: Vec<Task>,
}
