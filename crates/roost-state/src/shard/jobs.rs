//! Jobs: enqueue, claim under leases with fencing tokens, heartbeats, completion, failure with
//! deterministic backoff, cancellation, manual retry, and expiry — all driven by commands and
//! ticks, so every replica agrees.

use std::collections::BTreeSet;

use super::{refuse, Effect, Effects, Outcome, ShardState};
use crate::job::{retry_backoff_ms, webhook_backoff_ms, WEBHOOK_MAX_ATTEMPTS};
use crate::{
    CommandError, Job, JobEvent, JobSpec, JobStatus, JobTtl, Lease, Response, WebhookDelivery,
};

/// The indexes kept beside the jobs; rebuilt from the jobs at load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct JobIndex {
    /// `(workspace, seq) -> id`: list order.
    pub order: BTreeSet<(String, u64, String)>,
    /// `(workspace, key) -> id`.
    pub keys: std::collections::BTreeMap<(String, String), String>,
    /// Claimable jobs, each twice: under its type and under `""` (any type).
    pub pending: BTreeSet<PendingKey>,
    /// Running attempts by deadline.
    pub running: BTreeSet<(u64, String)>,
    /// Finished jobs by expiry.
    pub finished: BTreeSet<(u64, String)>,
    /// Webhook deliveries by due time.
    pub webhooks: BTreeSet<(u64, String)>,
}

impl JobIndex {
    /// Adds `job` to the indexes its state calls for.
    pub fn insert(&mut self, job: &Job) {
        self.order
            .insert((job.workspace.clone(), job.seq, job.id.clone()));
        if let Some(key) = &job.idempotency_key {
            self.keys
                .insert((job.workspace.clone(), key.clone()), job.id.clone());
        }
        match job.status {
            JobStatus::Pending => {
                let [typed, any] = pending_keys(job);
                self.pending.insert(typed);
                self.pending.insert(any);
            }
            JobStatus::Running => {
                if let Some(d) = job.deadline_ms() {
                    self.running.insert((d, job.id.clone()));
                }
            }
            _ => {
                if let Some(e) = job.expires_ms() {
                    self.finished.insert((e, job.id.clone()));
                }
            }
        }
        if let Some(d) = job.webhook_delivery.as_ref().filter(|d| !d.done) {
            self.webhooks.insert((d.next_at_ms, job.id.clone()));
        }
    }

    /// Removes `job` (as it is now) from every index.
    pub fn remove(&mut self, job: &Job) {
        self.order
            .remove(&(job.workspace.clone(), job.seq, job.id.clone()));
        if let Some(key) = &job.idempotency_key {
            self.keys.remove(&(job.workspace.clone(), key.clone()));
        }
        for key in pending_keys(job) {
            self.pending.remove(&key);
        }
        if let Some(d) = job.deadline_ms() {
            self.running.remove(&(d, job.id.clone()));
        }
        if let Some(e) = job.expires_ms() {
            self.finished.remove(&(e, job.id.clone()));
        }
        if let Some(d) = &job.webhook_delivery {
            self.webhooks.remove(&(d.next_at_ms, job.id.clone()));
        }
    }

    /// Up to `limit` pending jobs of `workspace` due at `now`, of `job_type` (`""`: any), in
    /// the order claims take them: by priority, then due time, then creation. Within one
    /// priority the due jobs come first, so the walk takes them and jumps to the next priority:
    /// jobs due later are never visited, however many there are.
    fn due(&self, workspace: &str, job_type: &str, now: u64, limit: usize) -> Vec<&PendingKey> {
        let mut out = Vec::new();
        let mut level = i64::MIN;
        while out.len() < limit {
            let from = (
                workspace.to_owned(),
                job_type.to_owned(),
                level,
                0,
                0,
                String::new(),
            );
            let mut scope = self
                .pending
                .range(from..)
                .take_while(|k| k.0 == workspace && k.1 == job_type)
                .peekable();
            let Some(at) = scope.peek().map(|k| k.2) else {
                break;
            };
            let room = limit - out.len();
            out.extend(scope.take_while(|k| k.2 == at && k.3 <= now).take(room));
            match at.checked_add(1) {
                Some(next) => level = next,
                None => break,
            }
        }
        out
    }
}

/// A pending job in the claim index: `(workspace, type or "", -priority, run_at, seq, id)`.
pub(super) type PendingKey = (String, String, i64, u64, u64, String);

/// `job`'s two places in the claim index: under its type, and under any type.
fn pending_keys(job: &Job) -> [PendingKey; 2] {
    let key = |job_type: &str| {
        (
            job.workspace.clone(),
            job_type.to_owned(),
            -i64::from(job.spec.priority),
            job.run_at_ms,
            job.seq,
            job.id.clone(),
        )
    };
    [key(&job.spec.job_type), key("")]
}

fn event(job: &mut Job, now: u64, kind: &str, data: serde_json::Value, fx: &mut Effects) {
    job.events += 1;
    fx.push(Effect::PutJobEvent {
        job: job.id.clone(),
        event: JobEvent {
            seq: job.events,
            at_ms: now,
            kind: kind.to_owned(),
            data: data.to_string(),
        },
    });
}

impl ShardState {
    /// Changes job `id` through `change`, keeping the indexes right and persisting it.
    fn with_job<T>(
        &mut self,
        id: &str,
        fx: &mut Effects,
        change: impl FnOnce(&mut Job, &mut Effects) -> T,
    ) -> Option<T> {
        let job = self.jobs.get_mut(id)?;
        self.job_index.remove(job);
        let out = change(job, fx);
        self.job_index.insert(job);
        fx.push(Effect::PutJob(id.to_owned()));
        Some(out)
    }

    /// The job `id` if it belongs to `workspace` (others' jobs do not exist for the caller).
    pub(super) fn job_in(&self, workspace: &str, id: &str) -> Result<&Job, CommandError> {
        self.jobs
            .get(id)
            .filter(|j| j.workspace == workspace)
            .ok_or(CommandError::JobNotFound)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_job(
        &mut self,
        now: u64,
        id: &str,
        workspace: &str,
        spec: &JobSpec,
        idempotency: Option<&String>,
        ttl: JobTtl,
        fx: &mut Effects,
    ) -> Outcome {
        if let Some(key) = idempotency {
            if let Some(existing) = self
                .job_index
                .keys
                .get(&(workspace.to_owned(), key.clone()))
            {
                if let Some(job) = self.jobs.get(existing) {
                    // The same key with another job is a client bug, not a retry.
                    if job.spec != *spec {
                        return refuse(CommandError::IdempotencyMismatch);
                    }
                    return Ok(Ok(Response::JobState {
                        job: Box::new(job.clone()),
                        created: false,
                    }));
                }
            }
        }
        if self.jobs.contains_key(id) {
            return refuse(CommandError::Invalid("job id already exists".into()));
        }
        self.header.job_seq += 1;
        let mut job = Job {
            id: id.to_owned(),
            workspace: workspace.to_owned(),
            seq: self.header.job_seq,
            spec: spec.clone(),
            status: JobStatus::Pending,
            attempt: 0,
            progress: 0,
            lease: None,
            worker_id: None,
            cancel_requested: false,
            result: None,
            error: None,
            run_at_ms: spec.run_at_ms.unwrap_or(now),
            created_ms: now,
            updated_ms: now,
            finished_ms: None,
            events: 0,
            attempts_allowed: spec.max_retries + 1,
            idempotency_key: idempotency.cloned(),
            ttl,
            completed_by: None,
            webhook_delivery: None,
        };
        event(
            &mut job,
            now,
            "enqueued",
            serde_json::json!({"type": spec.job_type}),
            fx,
        );
        self.job_index.insert(&job);
        self.jobs.insert(id.to_owned(), job.clone());
        fx.push(Effect::PutJob(id.to_owned()));
        Ok(Ok(Response::JobState {
            job: Box::new(job),
            created: true,
        }))
    }

    /// Up to `limit` jobs a claim at `now` would take, in the order it takes them: pending in
    /// `workspace`, due, and of one of `types` (any when empty). Each type's due jobs are
    /// found in the index and merged in claim order.
    fn claimable(&self, now: u64, workspace: &str, types: &[String], limit: usize) -> Vec<String> {
        let index = &self.job_index;
        let mut found = if types.is_empty() {
            index.due(workspace, "", now, limit)
        } else {
            types
                .iter()
                .flat_map(|t| index.due(workspace, t, now, limit))
                .collect()
        };
        found.sort_unstable_by_key(|k| (k.2, k.3, k.4));
        // A type named twice finds its jobs twice.
        found.dedup_by_key(|k| k.4);
        found.into_iter().take(limit).map(|k| k.5.clone()).collect()
    }

    /// Whether a claim at `now` would find a job (see [`crate::Query::ClaimableJobs`]).
    pub(super) fn any_claimable(
        &self,
        now: u64,
        workspace: &str,
        types: &[String],
    ) -> crate::QueryResult {
        crate::QueryResult::ClaimableJobs(!self.claimable(now, workspace, types, 1).is_empty())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn claim_jobs(
        &mut self,
        now: u64,
        workspace: &str,
        worker_id: &str,
        types: &[String],
        lease_ms: u64,
        tokens: &[u64],
        fx: &mut Effects,
    ) -> Outcome {
        let chosen = self.claimable(now, workspace, types, tokens.len());
        let mut jobs = Vec::with_capacity(chosen.len());
        for (id, token) in chosen.iter().zip(tokens) {
            let claimed = self.with_job(id, fx, |job, fx| {
                job.status = JobStatus::Running;
                job.attempt += 1;
                job.progress = 0;
                job.worker_id = Some(worker_id.to_owned());
                job.lease = Some(Lease {
                    token: *token,
                    worker_id: worker_id.to_owned(),
                    expires_ms: now + lease_ms,
                    started_ms: now,
                });
                job.updated_ms = now;
                let data = serde_json::json!({"workerId": worker_id, "attempt": job.attempt});
                event(job, now, "claimed", data, fx);
                job.clone()
            });
            jobs.extend(claimed);
        }
        Ok(Ok(Response::Claimed { jobs }))
    }

    /// Checks that `token` holds `id`'s current lease in `workspace`.
    /// Checks that `token` holds `id`'s current lease in `workspace` and that the attempt has
    /// neither lapsed nor timed out (even if no tick has ended it yet).
    fn leased(&self, now: u64, workspace: &str, id: &str, token: u64) -> Result<(), CommandError> {
        let job = self.job_in(workspace, id)?;
        let live = job.deadline_ms().is_some_and(|d| now < d);
        match &job.lease {
            Some(l) if l.token == token && job.status == JobStatus::Running && live => Ok(()),
            _ => Err(CommandError::StaleToken),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn heartbeat(
        &mut self,
        now: u64,
        workspace: &str,
        id: &str,
        token: u64,
        progress: Option<u8>,
        lease_ms: u64,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.leased(now, workspace, id, token) {
            return refuse(e);
        }
        let answer = self.with_job(id, fx, |job, fx| {
            if let Some(lease) = job.lease.as_mut() {
                lease.expires_ms = now + lease_ms;
            }
            if let Some(p) = progress {
                let p = p.min(100);
                if p != job.progress {
                    job.progress = p;
                    event(job, now, "progress", serde_json::json!({"progress": p}), fx);
                }
            }
            job.updated_ms = now;
            Response::HeartbeatAck {
                expires_ms: now + lease_ms,
                cancel_requested: job.cancel_requested,
            }
        });
        answer.map_or_else(|| refuse(CommandError::JobNotFound), |r| Ok(Ok(r)))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn complete_job(
        &mut self,
        now: u64,
        workspace: &str,
        id: &str,
        token: u64,
        result: &str,
        fx: &mut Effects,
    ) -> Outcome {
        if let Ok(done) = self.job_in(workspace, id) {
            if done.status == JobStatus::Completed && done.completed_by == Some(token) {
                return Ok(Ok(Response::JobState {
                    job: Box::new(done.clone()),
                    created: false,
                }));
            }
        }
        if let Err(e) = self.leased(now, workspace, id, token) {
            return refuse(e);
        }
        let job = self.with_job(id, fx, |job, fx| {
            job.status = JobStatus::Completed;
            job.progress = 100;
            job.result = Some(result.to_owned());
            job.lease = None;
            job.completed_by = Some(token);
            finish(job, now);
            job.updated_ms = now;
            event(
                job,
                now,
                "completed",
                serde_json::json!({"attempt": job.attempt}),
                fx,
            );
            job.clone()
        });
        job_state(job)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn fail_job(
        &mut self,
        now: u64,
        workspace: &str,
        id: &str,
        token: u64,
        error: &str,
        retryable: bool,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.leased(now, workspace, id, token) {
            return refuse(e);
        }
        let job = self.with_job(id, fx, |job, fx| {
            end_attempt(job, now, error, retryable, "failed", fx);
            job.clone()
        });
        job_state(job)
    }

    pub(super) fn cancel_job(
        &mut self,
        now: u64,
        workspace: &str,
        id: &str,
        fx: &mut Effects,
    ) -> Outcome {
        let status = match self.job_in(workspace, id) {
            Ok(j) => j.status,
            Err(e) => return refuse(e),
        };
        if status.is_final() {
            return refuse(CommandError::JobState(status.as_str().into()));
        }
        let job = self.with_job(id, fx, |job, fx| {
            if job.status == JobStatus::Pending {
                job.status = JobStatus::Cancelled;
                finish(job, now);
                event(job, now, "cancelled", serde_json::json!({}), fx);
            } else if !job.cancel_requested {
                job.cancel_requested = true;
                event(job, now, "cancel_requested", serde_json::json!({}), fx);
            }
            job.updated_ms = now;
            job.clone()
        });
        job_state(job)
    }

    pub(super) fn retry_job(
        &mut self,
        now: u64,
        workspace: &str,
        id: &str,
        fx: &mut Effects,
    ) -> Outcome {
        let status = match self.job_in(workspace, id) {
            Ok(j) => j.status,
            Err(e) => return refuse(e),
        };
        if !matches!(status, JobStatus::Failed | JobStatus::Cancelled) {
            return refuse(CommandError::JobState(status.as_str().into()));
        }
        let job = self.with_job(id, fx, |job, fx| {
            job.status = JobStatus::Pending;
            job.attempts_allowed = job.attempt + job.spec.max_retries + 1;
            job.run_at_ms = now;
            job.finished_ms = None;
            job.webhook_delivery = None;
            job.cancel_requested = false;
            job.updated_ms = now;
            event(
                job,
                now,
                "retry_scheduled",
                serde_json::json!({"manual": true, "runAt": now}),
                fx,
            );
            job.clone()
        });
        job_state(job)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn webhook_attempted(
        &mut self,
        now: u64,
        id: &str,
        generation: u64,
        attempt: u32,
        outcome: &Result<u16, String>,
        give_up: bool,
        fx: &mut Effects,
    ) -> Outcome {
        let current = self
            .jobs
            .get(id)
            .and_then(|j| j.webhook_delivery.as_ref())
            .filter(|d| !d.done && d.generation == generation && d.attempts + 1 == attempt);
        if current.is_none() {
            // Already recorded (a repeated report) or nothing to deliver: nothing to change.
            return Ok(Ok(Response::Done));
        }
        self.with_job(id, fx, |job, fx| {
            let delivered = matches!(outcome, Ok(status) if (200..300).contains(status));
            let data = match outcome {
                Ok(status) => serde_json::json!({"attempt": attempt, "status": status}),
                Err(error) => serde_json::json!({"attempt": attempt, "error": error}),
            };
            event(job, now, "webhook_attempt", data, fx);
            if let Some(d) = job.webhook_delivery.as_mut() {
                d.attempts = attempt;
                if delivered || give_up || attempt >= WEBHOOK_MAX_ATTEMPTS {
                    d.done = true;
                } else {
                    d.next_at_ms = now + webhook_backoff_ms(attempt);
                }
            }
            if !delivered && job.webhook_delivery.as_ref().is_some_and(|d| d.done) {
                event(
                    job,
                    now,
                    "webhook_gave_up",
                    serde_json::json!({"attempts": attempt}),
                    fx,
                );
            }
        });
        Ok(Ok(Response::Done))
    }

    /// Jobs whose webhook attempt is due by `until_ms`, soonest first.
    pub(super) fn webhooks_due(&self, until_ms: u64, limit: usize) -> crate::QueryResult {
        crate::QueryResult::Jobs(
            self.job_index
                .webhooks
                .range(..=(until_ms, String::from("\u{10ffff}")))
                .take(limit)
                .filter_map(|(_, id)| self.jobs.get(id).cloned())
                .collect(),
        )
    }

    /// A page of `workspace`'s jobs in creation order.
    pub(super) fn job_page(
        &self,
        workspace: &str,
        status: Option<JobStatus>,
        job_type: Option<&str>,
        after: u64,
        limit: usize,
    ) -> crate::QueryResult {
        let lo = (workspace.to_owned(), after.saturating_add(1), String::new());
        let mut jobs = Vec::new();
        let mut next_cursor = after;
        let mut has_more = false;
        for (ws, seq, id) in self.job_index.order.range(lo..) {
            if ws != workspace {
                break;
            }
            let Some(job) = self.jobs.get(id) else {
                continue;
            };
            if status.is_some_and(|s| s != job.status)
                || job_type.is_some_and(|t| t != job.spec.job_type)
            {
                continue;
            }
            if jobs.len() == limit {
                has_more = true;
                break;
            }
            next_cursor = *seq;
            jobs.push(job.clone());
        }
        crate::QueryResult::JobPage {
            jobs,
            next_cursor,
            has_more,
        }
    }

    /// Ends attempts whose lease lapsed or that outran their timeout, and expires finished jobs.
    pub(super) fn tick_jobs(&mut self, now: u64, fx: &mut Effects) {
        let due: Vec<String> = self
            .job_index
            .running
            .range(..=(now, String::from("\u{10ffff}")))
            .map(|(_, id)| id.clone())
            .collect();
        for id in due {
            self.with_job(&id, fx, |job, fx| {
                let timed_out = job
                    .lease
                    .as_ref()
                    .is_some_and(|l| now >= l.started_ms + u64::from(job.spec.timeout_secs) * 1000);
                let (kind, why) = if timed_out {
                    ("timed_out", "attempt exceeded timeoutSeconds")
                } else {
                    ("lease_lost", "lease expired without a heartbeat")
                };
                end_attempt(job, now, why, true, kind, fx);
            });
        }
        let expired: Vec<String> = self
            .job_index
            .finished
            .range(..=(now, String::from("\u{10ffff}")))
            .map(|(_, id)| id.clone())
            .collect();
        for id in expired {
            // A job whose webhook is still being delivered waits for it.
            if self
                .jobs
                .get(&id)
                .and_then(|j| j.webhook_delivery.as_ref())
                .is_some_and(|d| !d.done)
            {
                continue;
            }
            if let Some(job) = self.jobs.remove(&id) {
                self.job_index.remove(&job);
                fx.push(Effect::DeleteJob(id));
            }
        }
    }
}

/// Marks `job` finished now and, when it has a webhook, due for delivery.
fn finish(job: &mut Job, now: u64) {
    job.finished_ms = Some(now);
    if job.spec.webhook.is_some() {
        job.webhook_delivery = Some(WebhookDelivery {
            generation: job.events,
            attempts: 0,
            next_at_ms: now,
            done: false,
        });
    }
}

/// Ends the running attempt with `error`: another attempt after a backoff when allowed, or the
/// job fails (a cancellation request turns into cancelled).
fn end_attempt(
    job: &mut Job,
    now: u64,
    error: &str,
    retryable: bool,
    kind: &str,
    fx: &mut Effects,
) {
    job.lease = None;
    job.error = Some(error.to_owned());
    job.updated_ms = now;
    if job.cancel_requested {
        job.status = JobStatus::Cancelled;
        finish(job, now);
        event(
            job,
            now,
            "cancelled",
            serde_json::json!({"error": error}),
            fx,
        );
    } else if retryable && job.attempt < job.attempts_allowed {
        job.status = JobStatus::Pending;
        job.run_at_ms = now + retry_backoff_ms(&job.id, job.attempt);
        let data = serde_json::json!({"error": error, "attempt": job.attempt, "runAt": job.run_at_ms, "reason": kind});
        event(job, now, "retry_scheduled", data, fx);
    } else {
        job.status = JobStatus::Failed;
        finish(job, now);
        let data = serde_json::json!({"error": error, "attempt": job.attempt, "reason": kind});
        event(job, now, "failed", data, fx);
    }
}

/// The answer of an operation that changed a job (`None`: it vanished meanwhile).
fn job_state(job: Option<Job>) -> Outcome {
    job.map_or_else(
        || refuse(CommandError::JobNotFound),
        |job| {
            Ok(Ok(Response::JobState {
                job: Box::new(job),
                created: false,
            }))
        },
    )
}
