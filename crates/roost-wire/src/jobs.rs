//! The jobs API (`/jobs`): requests in the HTTP API's camelCase, and the replies.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{Doc, Time};

/// A new job (`POST /jobs`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"type": "render", "payload": {"page": 1}, "maxRetries": 3}))]
pub struct CreateJob {
    /// The worker type (1-100 characters).
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub job_type: String,
    /// JSON handed to the worker; `{}` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub payload: Option<Doc>,
    /// Retries after the first attempt (0-10, default 3).
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 10)]
    pub max_retries: Option<i64>,
    /// Seconds one attempt may run (10-86400, default 300).
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 10, maximum = 86400)]
    pub timeout_seconds: Option<i64>,
    /// Higher runs first (-1000..=1000, default 0).
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = -1000, maximum = 1000)]
    pub priority: Option<i64>,
    /// Not before this time: RFC 3339 in UTC (`Z`), from 1970.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](\.[0-9]{1,9})?Z$")]
    pub run_at: Option<Time>,
    /// Where to POST the outcome, an http(s) URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 2048,
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"
    )]
    pub webhook: Option<String>,
    /// Makes a retried create return the first job (HTTP: the `Idempotency-Key` header).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

/// A page of a workspace's jobs (`GET /jobs`, the query string).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ListJobs {
    /// Only jobs in this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only jobs of this type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    /// Jobs per page (1-200, default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Where the previous page ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
}

/// A worker's claim (`POST /jobs/claim`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"workerId": "worker-1", "types": ["render"], "limit": 1}))]
pub struct ClaimJobs {
    /// Who is claiming (1-128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub worker_id: String,
    /// The job types it runs (each 1-100 characters); empty: every type.
    #[serde(default)]
    #[schema(schema_with = crate::schema::claim_types)]
    pub types: Vec<String>,
    /// Most jobs to take (1-100, default 1).
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Seconds to wait for a job when none is due (0-30, default 0).
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 30)]
    pub wait: Option<u64>,
}

/// A worker's heartbeat (`POST /jobs/{id}/heartbeat`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "00000000000000ff", "progress": 50}))]
pub struct JobHeartbeat {
    /// The lease's token, from the claim.
    #[schema(pattern = "^[0-9a-fA-F]{1,16}$")]
    pub token: String,
    /// Progress, 0-100.
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<i64>,
}

/// A completed job (`POST /jobs/{id}/complete`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "00000000000000ff", "result": {"summary": "done"}}))]
pub struct CompleteJob {
    /// The lease's token, from the claim.
    #[schema(pattern = "^[0-9a-fA-F]{1,16}$")]
    pub token: String,
    /// The result (`null` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Doc>,
}

/// A failed attempt (`POST /jobs/{id}/fail`).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "00000000000000ff", "error": "upstream timed out", "retryable": true}))]
pub struct FailJob {
    /// The lease's token, from the claim.
    #[schema(pattern = "^[0-9a-fA-F]{1,16}$")]
    pub token: String,
    /// Why (at most 4096 bytes).
    #[serde(default)]
    #[schema(max_length = 4096)]
    pub error: String,
    /// Whether another attempt may succeed (default true); false fails the job for good.
    #[serde(default = "yes")]
    pub retryable: bool,
}

fn yes() -> bool {
    true
}

/// A job (seed 004's field names); `token` and `leaseExpiresAt` only in a claim's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The job.
    pub id: String,
    /// The worker type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// 0-100, from the worker's heartbeats.
    pub progress: u8,
    /// Attempts started.
    pub attempt: u32,
    /// Attempts after the first.
    pub retry_count: u32,
    /// Retries allowed.
    pub max_retries: u32,
    /// Seconds one attempt may run.
    pub timeout_seconds: u32,
    /// Higher runs first.
    pub priority: i32,
    /// The JSON handed to the worker, byte for byte.
    pub payload: Box<RawValue>,
    /// The worker's result, byte for byte.
    pub result: Option<Box<RawValue>>,
    /// The last failure's reason.
    pub error: Option<String>,
    /// The worker holding or last holding it.
    pub worker_id: Option<String>,
    /// Whether cancellation was asked for while it ran.
    pub cancel_requested: bool,
    /// Where the outcome is POSTed.
    pub webhook: Option<String>,
    /// Not before this time.
    pub run_at: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// The lease's fencing token (claims only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the lease ends (claims only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<String>,
}

/// The answer to `POST /jobs`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobAccepted {
    /// The job.
    pub id: String,
    /// Its status.
    pub status: String,
    /// Where to poll it.
    pub status_url: String,
    /// The job.
    pub job: Job,
    /// What to do next.
    #[serde(rename = "_help")]
    pub help: String,
}

/// `{"job": ...}`: get, cancel, wait, complete, fail.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobReply {
    /// The job.
    pub job: Job,
}

/// A page of jobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobPage {
    /// The jobs, oldest first.
    pub jobs: Vec<Job>,
    /// The cursor of the next page.
    pub next_cursor: u64,
    /// Whether there is a next page.
    pub has_more: bool,
}

/// The answer to a claim: the jobs taken, each with its lease.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claimed {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// What to do next.
    #[serde(rename = "_help")]
    pub help: String,
}

/// The answer to a heartbeat.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobHeartbeatReply {
    /// Always true.
    pub ok: bool,
    /// Whether cancellation was asked for: the worker should stop.
    pub cancel_requested: bool,
    /// When the extended lease ends.
    pub lease_expires_at: String,
}
