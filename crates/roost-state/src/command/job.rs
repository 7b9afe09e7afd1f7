//! Commands on a workspace's async jobs: enqueue, claims with leases, heartbeats, outcomes,
//! cancellation, retries and webhook deliveries. A job id names its workspace's shard.

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::{ids, GroupId, JobSpec, JobTtl};

/// Enqueues a job (or, for a known Idempotency-Key, answers the existing one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateJob {
    /// Id chosen by the proposer (encodes this shard).
    pub id: String,
    /// The owning workspace.
    pub workspace: String,
    /// What to run.
    pub spec: JobSpec,
    /// The client's `Idempotency-Key`.
    pub idempotency: Option<String>,
    /// How long it is kept once finished.
    pub ttl: JobTtl,
}

impl Operation for CreateJob {
    // An idempotency key makes a repeat answer the first job.
    fn retry_safe(&self) -> bool {
        self.idempotency.is_some()
    }

    fn group(&self) -> Option<GroupId> {
        ids::job_shard(&self.id)
    }
}

/// Hands up to `tokens.len()` pending jobs of the given types to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimJobs {
    /// The worker's workspace.
    pub workspace: String,
    /// The worker.
    pub worker_id: String,
    /// Job types it handles.
    pub types: Vec<String>,
    /// Lease length.
    pub lease_ms: u64,
    /// Fencing tokens chosen by the proposer, one per job it may get.
    pub tokens: Vec<u64>,
}

impl Operation for ClaimJobs {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        None
    }
}

/// Extends a lease and reports progress; answers whether cancellation was requested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The worker's workspace.
    pub workspace: String,
    /// The job.
    pub job: String,
    /// The lease token.
    pub token: u64,
    /// 0–100, when reported.
    pub progress: Option<u8>,
    /// New lease length from now.
    pub lease_ms: u64,
}

impl Operation for Heartbeat {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        ids::job_shard(&self.job)
    }
}

/// Finishes the current attempt successfully.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteJob {
    /// The worker's workspace.
    pub workspace: String,
    /// The job.
    pub job: String,
    /// The lease token.
    pub token: u64,
    /// Result JSON.
    pub result: String,
}

impl Operation for CompleteJob {
    // A repeated completion answers the completed job.
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        ids::job_shard(&self.job)
    }
}

/// Finishes the current attempt with an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailJob {
    /// The worker's workspace.
    pub workspace: String,
    /// The job.
    pub job: String,
    /// The lease token.
    pub token: u64,
    /// Why.
    pub error: String,
    /// Whether another attempt may help.
    pub retryable: bool,
}

impl Operation for FailJob {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        ids::job_shard(&self.job)
    }
}

/// Cancels a pending job, or asks a running one to stop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelJob {
    /// The caller's workspace.
    pub workspace: String,
    /// The job.
    pub job: String,
}

impl Operation for CancelJob {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        ids::job_shard(&self.job)
    }
}

/// Records one webhook delivery attempt for a finished job (`attempt` is 1-based; a
/// repeated or stale report is ignored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempted {
    /// The job.
    pub job: String,
    /// The delivery's generation (see `WebhookDelivery::generation`).
    pub generation: u64,
    /// Which attempt this reports.
    pub attempt: u32,
    /// The receiver's HTTP status, or why nothing was delivered.
    pub outcome: Result<u16, String>,
    /// Stop trying (the address is not allowed).
    pub give_up: bool,
}

impl Operation for WebhookAttempted {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        ids::job_shard(&self.job)
    }
}

/// Runs a failed or cancelled job again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryJob {
    /// The caller's workspace.
    pub workspace: String,
    /// The job.
    pub job: String,
}

impl Operation for RetryJob {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        ids::job_shard(&self.job)
    }
}
