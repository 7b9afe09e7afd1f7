//! Replies as JSON clients see them (HTTP bodies, MCP structured results), with the JSON
//! documents clients stored (payloads, results, event data) served byte for byte. Going through `serde_json::Value` would turn
//! what a client may legally send into `null` (`1e400` overflows an f64) or into other bytes.

use std::collections::BTreeMap;

use roost_state::{Job, JobEvent, JobStatus, Task};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::{timestamp, Heartbeat, QueueWithCounts};

mod queues;

pub use queues::{
    origins_text, BatchItemView, BatchView, ConsumersView, CreatedView, DeadLetterPage,
    DeadLetterView, EnvelopeView, NackedView, QueueInfoView, ReplayedView, StoredView,
};

/// `{error, code, _help}`: a failure as every edge shows it (an HTTP error reply, one message's
/// refusal in a batch).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(
    as = Error,
    example = json!({"error": "no such queue", "code": "queue_not_found", "_help": "Check the queue id; create a queue with POST /q/create."})
)]
pub struct ErrorView<'a> {
    /// What went wrong, for people.
    error: &'a str,
    /// What went wrong, for programs: one of a fixed list, stable across releases.
    code: &'static str,
    /// What to do next, in one sentence.
    #[serde(rename = "_help")]
    help: &'a str,
}

impl<'a> ErrorView<'a> {
    /// The view of `e`.
    pub fn of(e: &'a crate::Error) -> Self {
        ErrorView {
            error: &e.message,
            code: e.code.as_str(),
            help: &e.help,
        }
    }
}

/// A stored JSON document as it was accepted. Stored documents were checked at the door; one
/// that somehow is not JSON is served as `null` rather than breaking the whole answer.
pub fn raw(stored: &str) -> &RawValue {
    serde_json::from_str(stored).unwrap_or(RawValue::NULL)
}

/// A job (seed 004's field names), with its lease when the caller just claimed it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    job_type: &'a str,
    status: &'static str,
    progress: u8,
    attempt: u32,
    retry_count: u32,
    max_retries: u32,
    timeout_seconds: u32,
    priority: i32,
    #[schema(value_type = serde_json::Value)]
    payload: &'a RawValue,
    #[schema(value_type = Option<serde_json::Value>)]
    result: Option<&'a RawValue>,
    error: Option<&'a str>,
    worker_id: Option<&'a str>,
    cancel_requested: bool,
    webhook: Option<&'a str>,
    run_at: String,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_expires_at: Option<String>,
}

impl<'a> JobView<'a> {
    /// The job without its lease.
    pub fn of(j: &'a Job) -> Self {
        JobView {
            id: &j.id,
            job_type: &j.spec.job_type,
            status: j.status.as_str(),
            progress: j.progress,
            attempt: j.attempt,
            retry_count: j.attempt.saturating_sub(1),
            max_retries: j.spec.max_retries,
            timeout_seconds: j.spec.timeout_secs,
            priority: j.spec.priority,
            payload: raw(&j.spec.payload),
            result: j.result.as_deref().map(raw),
            error: j.error.as_deref(),
            worker_id: j.worker_id.as_deref(),
            cancel_requested: j.cancel_requested,
            webhook: j.spec.webhook.as_deref(),
            run_at: timestamp(j.run_at_ms),
            created_at: timestamp(j.created_ms),
            updated_at: timestamp(j.updated_ms),
            finished_at: j.finished_ms.map(timestamp),
            token: None,
            lease_expires_at: None,
        }
    }

    /// The job with its lease, for the worker that claimed it.
    pub fn leased(j: &'a Job) -> Self {
        JobView {
            token: j.lease.as_ref().map(|l| format!("{:016x}", l.token)),
            lease_expires_at: j.lease.as_ref().map(|l| timestamp(l.expires_ms)),
            ..JobView::of(j)
        }
    }
}

/// One event of a job's log, as an SSE `data` line carries it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView<'a> {
    seq: u64,
    at: String,
    kind: &'a str,
    #[schema(value_type = serde_json::Value)]
    data: &'a RawValue,
    status: &'static str,
}

impl<'a> EventView<'a> {
    /// Event `e` of a job now in `status`.
    pub fn of(e: &'a JobEvent, status: JobStatus) -> Self {
        EventView {
            seq: e.seq,
            at: timestamp(e.at_ms),
            kind: &e.kind,
            data: raw(&e.data),
            status: status.as_str(),
        }
    }
}

/// A work-queue task; only its assignee (the dequeue answer) sees the token.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView<'a> {
    id: &'a str,
    queue_id: &'a str,
    name: &'a str,
    priority: u8,
    #[schema(value_type = serde_json::Value)]
    payload: &'a RawValue,
    deadline: Option<String>,
    overdue: bool,
    status: &'static str,
    agent_id: Option<&'a str>,
    token: Option<String>,
    lease_expires_at: Option<String>,
    #[schema(value_type = Option<serde_json::Value>)]
    result: Option<&'a RawValue>,
    error: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

impl<'a> TaskView<'a> {
    /// Task `t` as seen at `now_ms`, with its token when `with_token`.
    pub fn of(t: &'a Task, with_token: bool, now_ms: u64) -> Self {
        TaskView {
            id: &t.id,
            queue_id: &t.queue,
            name: &t.name,
            priority: t.priority,
            payload: raw(&t.payload),
            deadline: t.deadline_ms.map(timestamp),
            overdue: t.overdue(now_ms),
            status: t.status.as_str(),
            agent_id: t.agent_id.as_deref(),
            token: t.token.filter(|_| with_token).map(|x| format!("{x:016x}")),
            lease_expires_at: t.lease_expires_ms.map(timestamp),
            result: t.result.as_deref().map(raw),
            error: t.error.as_deref(),
            created_at: timestamp(t.created_ms),
            updated_at: timestamp(t.updated_ms),
        }
    }
}

/// `{"job": ...}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobReply<'a> {
    /// The job.
    pub job: JobView<'a>,
}

/// A page of jobs.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobPageView<'a> {
    /// The jobs.
    pub jobs: Vec<JobView<'a>>,
    /// The cursor of the next page.
    pub next_cursor: u64,
    /// Whether there is a next page.
    pub has_more: bool,
}

/// The answer to a claim: the jobs taken, each with its lease.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClaimedView<'a> {
    /// The jobs.
    pub jobs: Vec<JobView<'a>>,
    /// What to do next.
    #[serde(rename = "_help")]
    pub help: &'static str,
}

impl<'a> ClaimedView<'a> {
    /// The claimed `jobs`.
    pub fn of(jobs: &'a [Job]) -> Self {
        ClaimedView {
            jobs: jobs.iter().map(JobView::leased).collect(),
            help: "Run each job; POST /jobs/{id}/heartbeat {token, progress} well within the lease, then complete {token, result} or fail {token, error, retryable}.",
        }
    }
}

/// The answer to a job heartbeat.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatView {
    ok: bool,
    cancel_requested: bool,
    lease_expires_at: String,
}

impl HeartbeatView {
    /// Heartbeat `h`.
    pub fn of(h: Heartbeat) -> Self {
        HeartbeatView {
            ok: true,
            cancel_requested: h.cancel_requested,
            lease_expires_at: timestamp(h.lease_expires_ms),
        }
    }
}

/// A work queue with its tasks counted by status.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkQueueView<'a> {
    id: &'a str,
    name: &'a str,
    team_id: &'a str,
    created_at: String,
    counts: &'a BTreeMap<String, u64>,
}

impl<'a> WorkQueueView<'a> {
    /// Queue `q`.
    pub fn of(q: &'a QueueWithCounts) -> Self {
        WorkQueueView {
            id: &q.queue.id,
            name: &q.queue.name,
            team_id: &q.queue.team,
            created_at: timestamp(q.queue.created_ms),
            counts: &q.counts,
        }
    }
}

/// `{"workQueues": [...]}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkQueueList<'a> {
    /// The queues.
    pub work_queues: Vec<WorkQueueView<'a>>,
}

/// `{"task": ...}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskReply<'a> {
    /// The task.
    pub task: TaskView<'a>,
}

/// `{"tasks": [...]}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskList<'a> {
    /// The tasks.
    pub tasks: Vec<TaskView<'a>>,
}

/// `{"ok": true, "id": ..., "deleted": true}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted<'a> {
    ok: bool,
    id: &'a str,
    deleted: bool,
}

impl<'a> Deleted<'a> {
    /// `id` was deleted.
    pub fn of(id: &'a str) -> Self {
        Deleted {
            ok: true,
            id,
            deleted: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_documents_are_served_byte_for_byte() {
        for doc in [r#"{"n": 1e400}"#, "[1.0, -0, 1E+2]", r#"{"b":1,"a":2}"#] {
            assert_eq!(raw(doc).get(), doc);
        }
        let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(raw(&deep).get(), deep);
        assert_eq!(raw("not json").get(), "null");
    }
}
