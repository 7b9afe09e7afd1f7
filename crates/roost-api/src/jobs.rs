//! Async jobs: enqueue, inspect, list, cancel, retry, wait, follow events, and the worker side
//! (claim, heartbeat, complete, fail). Every call is scoped to the caller's workspace.

use roost_state::command as cmd;
use std::net::IpAddr;
use std::time::Duration;

use roost_auth::Claims;
use roost_state::{ids, Command, Job, JobEvent, JobStatus, Query, QueryResult, Response, Topic};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::doc::time_ms;
use crate::input::page_limit;
use crate::input::{self, JOB_LEASE_MS};
use crate::workspace::idempotency;
use crate::{Api, Doc, Error};
pub use roost_wire::{ClaimJobs, CreateJob, ListJobs};

/// Jobs per list page when the request names no limit, and the most it may name.
const LIST_PAGE: (u32, u32) = (50, 200);
/// Longest one event stream follows a job.
const FOLLOW_FOR: Duration = Duration::from_secs(3600);
/// Events read per look.
const EVENTS_PER_READ: usize = 100;

/// A page of jobs.
#[derive(Clone, Debug)]
pub struct JobPage {
    /// The jobs, oldest first.
    pub jobs: Vec<Job>,
    /// The cursor of the next page.
    pub next_cursor: u64,
    /// Whether there is a next page.
    pub has_more: bool,
}

/// What a heartbeat tells the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// Whether the job's cancellation was asked for: the worker should stop.
    pub cancel_requested: bool,
    /// When the extended lease ends, in ms since the epoch.
    pub lease_expires_ms: u64,
}

/// One event of a job's log, with the job's status when it was read.
#[derive(Clone, Debug)]
pub struct EventItem {
    /// The event.
    pub event: JobEvent,
    /// The job's status.
    pub status: JobStatus,
}

impl Api {
    /// Enqueues a job.
    pub async fn create_job(&self, c: &Claims, req: CreateJob) -> Result<Job, Error> {
        let run_at_ms = req
            .run_at
            .as_ref()
            .map(|t| time_ms(t, "runAt"))
            .transpose()?;
        let spec = input::job_spec(input::NewJob {
            job_type: req.job_type,
            payload: req.payload.map(Doc::into_string),
            max_retries: req.max_retries,
            timeout_secs: req.timeout_seconds,
            priority: req.priority,
            run_at_ms,
            webhook: req.webhook,
        })?;
        let command = Command::CreateJob(cmd::CreateJob {
            id: ids::job_id(self.workspace_shard(&c.workspace), self.random()),
            workspace: c.workspace.clone(),
            spec,
            idempotency: idempotency(req.idempotency_key)?,
            ttl: self.settings().job_ttl,
        });
        self.job_command(c, command).await
    }

    /// The job as it is now.
    pub async fn get_job(&self, c: &Claims, id: &str) -> Result<Job, Error> {
        let query = Query::Job {
            workspace: c.workspace.clone(),
            id: id.to_owned(),
        };
        match self.ws_read(&c.workspace, query).await? {
            QueryResult::Job(j) => Ok(*j),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// A page of the workspace's jobs.
    pub async fn list_jobs(&self, c: &Claims, req: ListJobs) -> Result<JobPage, Error> {
        let status = req
            .status
            .as_deref()
            .map(|s| {
                JobStatus::parse(s).ok_or_else(|| {
                    Error::invalid_field(
                        "status",
                        "must be pending, running, completed, failed or cancelled",
                    )
                })
            })
            .transpose()?;
        let limit = page_limit(req.limit, LIST_PAGE)?;
        let query = Query::Jobs {
            workspace: c.workspace.clone(),
            status,
            job_type: req.job_type,
            after: req.cursor.unwrap_or(0),
            limit: limit as usize,
        };
        match self.ws_read(&c.workspace, query).await? {
            QueryResult::JobPage {
                jobs,
                next_cursor,
                has_more,
            } => Ok(JobPage {
                jobs,
                next_cursor,
                has_more,
            }),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Cancels a pending job at once, or asks a running one's worker to stop.
    pub async fn cancel_job(&self, c: &Claims, id: &str) -> Result<Job, Error> {
        let command = Command::CancelJob(cmd::CancelJob {
            workspace: c.workspace.clone(),
            job: id.to_owned(),
        });
        self.job_command(c, command).await
    }

    /// Runs a failed or cancelled job again.
    pub async fn retry_job(&self, c: &Claims, id: &str) -> Result<Job, Error> {
        let command = Command::RetryJob(cmd::RetryJob {
            workspace: c.workspace.clone(),
            job: id.to_owned(),
        });
        self.job_command(c, command).await
    }

    /// The job once it is over, or as it is after `timeout_secs` (0-300, default 30).
    pub async fn wait_job(
        &self,
        c: &Claims,
        addr: Option<IpAddr>,
        id: &str,
        timeout_secs: Option<u64>,
    ) -> Result<Job, Error> {
        let secs = input::job_wait(timeout_secs)?;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let _slot = self.wait_slot(addr)?;
        let mut changes = self.node().subscribe(Topic::Workspace(c.workspace.clone()));
        loop {
            let job = self.get_job(c, id).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if job.status.is_final() || left.is_zero() {
                return Ok(job);
            }
            changes.changed(left).await;
        }
    }

    /// The job's events after seq `after`, then each new one as it happens, until the job is
    /// over (or an hour passes). An unknown job fails here, before anything is streamed; a
    /// failure later ends the stream with it. Dropping the receiver stops the follower.
    pub async fn follow_job(
        &self,
        c: &Claims,
        addr: Option<IpAddr>,
        id: &str,
        mut after: u64,
    ) -> Result<mpsc::Receiver<Result<EventItem, Error>>, Error> {
        self.get_job(c, id).await?;
        let slot = self.wait_slot(addr)?;
        let (tx, rx) = mpsc::channel(16);
        let (api, c, id) = (self.clone(), c.clone(), id.to_owned());
        tokio::spawn(async move {
            let _slot = slot;
            let deadline = Instant::now() + FOLLOW_FOR;
            let mut changes = api.node().subscribe(Topic::Workspace(c.workspace.clone()));
            while Instant::now() < deadline {
                let query = Query::JobEvents {
                    workspace: c.workspace.clone(),
                    id: id.clone(),
                    after,
                    limit: EVENTS_PER_READ,
                };
                let (job, events) = match api.ws_read(&c.workspace, query).await {
                    Ok(QueryResult::JobEvents { job, events }) => (job, events),
                    Ok(other) => {
                        let _ = tx.send(Err(Error::unexpected(&other))).await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                for event in events.iter().cloned() {
                    after = event.seq;
                    let item = EventItem {
                        event,
                        status: job.status,
                    };
                    if tx.send(Ok(item)).await.is_err() {
                        return;
                    }
                }
                if events.is_empty() {
                    if job.status.is_final() {
                        return;
                    }
                    // Stop at once when the client goes away.
                    tokio::select! {
                        () = changes.changed(Duration::from_secs(15)) => {}
                        _ = tx.closed() => return,
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Takes due jobs of the claim's types, each with a lease and a fencing token; waits up to
    /// `wait` seconds for one when none is due.
    pub async fn claim_jobs(
        &self,
        c: &Claims,
        addr: Option<IpAddr>,
        req: ClaimJobs,
    ) -> Result<Vec<Job>, Error> {
        input::worker_id(&req.worker_id)?;
        input::claim_types(&req.types)?;
        let limit = input::claim_limit(req.limit)?;
        let wait = input::claim_wait(req.wait)?;
        let deadline = Instant::now() + Duration::from_secs(wait);
        let _slot = if wait > 0 {
            self.wait_slot(addr)?
        } else {
            None
        };
        // Jobs also come due by the clock (`runAt`, retries), which announces nothing: look
        // again at least every second.
        let mut changes = self.node().subscribe(Topic::Workspace(c.workspace.clone()));
        // Until a claim proposed on this node's word comes back empty.
        let mut trust_here = true;
        loop {
            // Ask first: a claim that would find nothing is not proposed, so waiting (and
            // idle, polling) workers never write to the log. What this node has applied
            // answers first, without a round to the leader: a job due here is proposed for at
            // once (the claim is linearizable, and takes nothing if another worker was faster
            // or this node is behind). "Nothing due" is asked of the leader, linearizably: an
            // empty answer must not miss a job enqueued before the claim.
            let query = Query::ClaimableJobs {
                workspace: c.workspace.clone(),
                types: req.types.clone(),
                now_ms: self.now_ms(),
            };
            let due_here = trust_here
                && matches!(
                    self.node()
                        .read_applied(self.workspace_shard(&c.workspace), &query)?,
                    QueryResult::ClaimableJobs(true)
                );
            let due = due_here
                || match self.ws_read(&c.workspace, query).await? {
                    QueryResult::ClaimableJobs(due) => due,
                    other => return Err(Error::unexpected(&other)),
                };
            if due {
                let command = Command::ClaimJobs(cmd::ClaimJobs {
                    workspace: c.workspace.clone(),
                    worker_id: req.worker_id.clone(),
                    types: req.types.clone(),
                    lease_ms: JOB_LEASE_MS,
                    tokens: (0..limit).map(|_| self.random()).collect(),
                });
                let jobs = match self.ws_write(&c.workspace, command).await? {
                    Response::Claimed { jobs } => jobs,
                    other => return Err(Error::unexpected(&other)),
                };
                if !jobs.is_empty() {
                    return Ok(jobs);
                }
                trust_here = false;
                // Another worker took what the read saw, or the group's clock is behind this
                // node's: wait for the next change rather than propose again at once.
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            changes.changed(left.min(Duration::from_secs(1))).await;
        }
    }

    /// Extends a claimed job's lease, recording `progress` (0-100) when given.
    pub async fn heartbeat_job(
        &self,
        c: &Claims,
        id: &str,
        token: &str,
        progress: Option<i64>,
    ) -> Result<Heartbeat, Error> {
        let command = Command::Heartbeat(cmd::Heartbeat {
            workspace: c.workspace.clone(),
            job: id.to_owned(),
            token: input::lease_token(token)?,
            progress: input::progress(progress)?,
            lease_ms: JOB_LEASE_MS,
        });
        match self.ws_write(&c.workspace, command).await? {
            Response::HeartbeatAck {
                expires_ms,
                cancel_requested,
            } => Ok(Heartbeat {
                cancel_requested,
                lease_expires_ms: expires_ms,
            }),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Finishes a claimed job with `result` (`null` when none).
    pub async fn complete_job(
        &self,
        c: &Claims,
        id: &str,
        token: &str,
        result: Option<Doc>,
    ) -> Result<Job, Error> {
        let command = Command::CompleteJob(cmd::CompleteJob {
            workspace: c.workspace.clone(),
            job: id.to_owned(),
            token: input::lease_token(token)?,
            result: result.map_or_else(|| "null".to_owned(), Doc::into_string),
        });
        self.job_command(c, command).await
    }

    /// Fails a claimed job's attempt; it runs again if `retryable` and retries are left.
    pub async fn fail_job(
        &self,
        c: &Claims,
        id: &str,
        token: &str,
        error: String,
        retryable: bool,
    ) -> Result<Job, Error> {
        input::error_text(&error)?;
        let command = Command::FailJob(cmd::FailJob {
            workspace: c.workspace.clone(),
            job: id.to_owned(),
            token: input::lease_token(token)?,
            error,
            retryable,
        });
        self.job_command(c, command).await
    }

    /// Applies a command that answers one job.
    async fn job_command(&self, c: &Claims, command: Command) -> Result<Job, Error> {
        match self.ws_write(&c.workspace, command).await? {
            Response::JobState { job, .. } => Ok(*job),
            other => Err(Error::unexpected(&other)),
        }
    }
}
