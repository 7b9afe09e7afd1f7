//! Jobs: long-running work handed to workers by type, with leases, retries and an event log.

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JobStatus {
    /// Waiting for a worker (possibly until `run_at`).
    Pending,
    /// Claimed by a worker under a lease.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished after its retries ran out (or a non-retryable failure).
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether the job is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// What a new job asks for (validated by `roost-api`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The worker type that handles it.
    pub job_type: String,
    /// JSON handed to the worker.
    pub payload: String,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// How long one attempt may run.
    pub timeout_secs: u32,
    /// Higher runs first.
    pub priority: i32,
    /// Not before this time (ms since the epoch).
    pub run_at_ms: Option<u64>,
    /// Where to POST the outcome.
    pub webhook: Option<String>,
}

/// The current attempt's lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Fencing token: only the holder may heartbeat, complete or fail.
    pub token: u64,
    /// The worker holding it.
    pub worker_id: String,
    /// The lease lapses then unless heartbeats extend it.
    pub expires_ms: u64,
    /// When the attempt started; it times out after `timeout_secs`.
    pub started_ms: u64,
}

/// A job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `job_` + shard + random.
    pub id: String,
    /// The workspace that owns it.
    pub workspace: String,
    /// Order of creation within the shard (list order and cursor).
    pub seq: u64,
    /// What was asked.
    pub spec: JobSpec,
    /// Where it is.
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempt: u32,
    /// 0–100, reported by the worker.
    pub progress: u8,
    /// The current attempt's lease while running.
    pub lease: Option<Lease>,
    /// The worker of the latest attempt.
    pub worker_id: Option<String>,
    /// Cancellation was requested while running; the worker learns it from heartbeats.
    pub cancel_requested: bool,
    /// The result JSON once completed.
    pub result: Option<String>,
    /// The latest error.
    pub error: Option<String>,
    /// Not claimable before this time (retry backoff, `runAt`).
    pub run_at_ms: u64,
    /// Timestamps, ms since the epoch.
    pub created_ms: u64,
    /// Last change.
    pub updated_ms: u64,
    /// When it finished.
    pub finished_ms: Option<u64>,
    /// Events recorded so far (their seqs are 1..=events).
    pub events: u64,
    /// Attempts this job may start before it fails for good (raised by a manual retry).
    pub attempts_allowed: u32,
    /// The `Idempotency-Key` it was created with.
    pub idempotency_key: Option<String>,
    /// How long it is kept once finished.
    pub ttl: JobTtl,
    /// The lease token that completed the job, so a repeated completion gets the same answer.
    pub completed_by: Option<u64>,
    /// Delivery of the finish webhook, once the job is over and has one.
    pub webhook_delivery: Option<WebhookDelivery>,
}

/// Progress of delivering a finished job's webhook (at least once, retried with backoff).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Which finish this delivery reports (the job's `events` count when it finished), so a
    /// late report about an earlier finish never lands on a newer one.
    pub generation: u64,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, ms since the epoch.
    pub next_at_ms: u64,
    /// Delivered, or given up.
    pub done: bool,
}

/// Attempts before a webhook is given up (about 11.4 hours with the backoff below).
pub const WEBHOOK_MAX_ATTEMPTS: u32 = 20;

/// The wait after failed webhook attempt `attempts`: 5 s doubling, capped at 1 h.
pub fn webhook_backoff_ms(attempts: u32) -> u64 {
    (5_000u64 << attempts.min(12)).min(3_600_000)
}

impl Job {
    /// When the running attempt ends unless something happens: lease lapse or timeout.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.lease.as_ref().map(|l| {
            l.expires_ms
                .min(l.started_ms + u64::from(self.spec.timeout_secs) * 1000)
        })
    }

    /// When a finished job expires.
    pub fn expires_ms(&self) -> Option<u64> {
        let ttl = match self.status {
            JobStatus::Completed => self.ttl.completed_ms,
            JobStatus::Failed => self.ttl.failed_ms,
            JobStatus::Cancelled => self.ttl.cancelled_ms,
            _ => return None,
        };
        self.finished_ms.map(|f| f.saturating_add(ttl))
    }
}

/// One entry of a job's append-only event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// Position in the job's log, from 1.
    pub seq: u64,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// `enqueued`, `claimed`, `progress`, `retry_scheduled`, `completed`, `failed`,
    /// `cancel_requested`, `cancelled`, `expired`, `lease_lost`, `timed_out`.
    pub kind: String,
    /// Details as a JSON object.
    pub data: String,
}

/// How long finished jobs are kept, per final status (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTtl {
    /// After completing.
    pub completed_ms: u64,
    /// After failing.
    pub failed_ms: u64,
    /// After being cancelled.
    pub cancelled_ms: u64,
}

/// The backoff before retry `attempt` (1-based) of job `id`: exponential from 1 s, capped at
/// 10 min, with up to 25 % jitter derived from the id so replicas agree.
pub fn retry_backoff_ms(id: &str, attempt: u32) -> u64 {
    let base = 1_000u64.saturating_mul(1 << attempt.min(20).saturating_sub(1));
    let capped = base.min(600_000);
    // FNV-1a of the id and attempt: deterministic, spread.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    capped + h % (capped / 4 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_is_deterministic() {
        let a1 = retry_backoff_ms("job_x", 1);
        assert!((1_000..=1_250).contains(&a1));
        assert!((2_000..=2_500).contains(&retry_backoff_ms("job_x", 2)));
        assert!(retry_backoff_ms("job_x", 30) <= 750_000);
        assert_eq!(a1, retry_backoff_ms("job_x", 1));
        assert_eq!(JobStatus::parse("running"), Some(JobStatus::Running));
    }

    #[test]
    fn webhook_retry_window_is_about_eleven_hours() {
        // Waits follow failed attempts 1..MAX; the last failure gives up.
        let total: u64 = (1..WEBHOOK_MAX_ATTEMPTS).map(webhook_backoff_ms).sum();
        assert_eq!(total, 41_110_000);
        assert!((11 * 3_600_000..12 * 3_600_000).contains(&total));
    }
}
