//! The `Jobs` service: the HTTP edge's `/jobs` over gRPC, with the same checks, commands and
//! error codes (the limits live in `roost_state::input`).

use std::time::{Duration, Instant};

use rand::Rng;
use roost_state::{
    ids, input, Command, Job, JobStatus, JobTtl, Query, QueryResult, Response, Topic,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response as GrpcResponse, Status};

use crate::pb;
use crate::status::{invalid, invalid_field, unexpected};
use crate::workspace::{idempotency, Workspaces};

use roost_state::input::JOB_LEASE_MS;
/// Jobs per list page when the request names no limit, and the most it may name.
const LIST_PAGE: (u32, u32) = (50, 200);
/// Longest a `WatchJob` stream follows one job.
const WATCH_FOR: Duration = Duration::from_secs(3600);

/// Serves jobs of the caller's workspace.
#[derive(Clone)]
pub struct JobsService {
    /// Auth and routing.
    ws: Workspaces,
    /// How long finished jobs are kept (the node's configuration).
    ttl: JobTtl,
}

impl JobsService {
    /// The tonic service.
    pub fn server(ws: Workspaces, ttl: JobTtl) -> pb::jobs_server::JobsServer<Self> {
        pb::jobs_server::JobsServer::new(JobsService { ws, ttl })
    }

    /// Applies a command that answers one job.
    async fn job_command(&self, workspace: &str, command: Command) -> Result<pb::Job, Status> {
        match self.ws.write(workspace, command).await? {
            Response::JobState { job, .. } => Ok(job_pb(&job)),
            other => Err(unexpected(&other)),
        }
    }

    /// The job as it is now.
    async fn get(&self, workspace: &str, id: String) -> Result<Job, Status> {
        let query = Query::Job {
            workspace: workspace.to_owned(),
            id,
        };
        match self.ws.read(workspace, query).await? {
            QueryResult::Job(j) => Ok(*j),
            other => Err(unexpected(&other)),
        }
    }
}

/// A stored JSON document as bytes (none: empty).
fn doc(s: Option<&str>) -> Vec<u8> {
    s.map(|s| s.as_bytes().to_vec()).unwrap_or_default()
}

/// A job as the reply message (the lease token only for its claimant).
fn job_pb(j: &Job) -> pb::Job {
    pb::Job {
        id: j.id.clone(),
        r#type: j.spec.job_type.clone(),
        status: j.status.as_str().to_owned(),
        progress: j.progress.into(),
        attempt: j.attempt,
        max_retries: j.spec.max_retries,
        timeout_seconds: j.spec.timeout_secs,
        priority: j.spec.priority,
        payload: j.spec.payload.as_bytes().to_vec(),
        result: doc(j.result.as_deref()),
        error: j.error.clone().unwrap_or_default(),
        worker_id: j.worker_id.clone().unwrap_or_default(),
        cancel_requested: j.cancel_requested,
        webhook: j.spec.webhook.clone().unwrap_or_default(),
        run_at_ms: j.run_at_ms,
        created_at_ms: j.created_ms,
        updated_at_ms: j.updated_ms,
        finished_at_ms: j.finished_ms.unwrap_or(0),
        token: String::new(),
        lease_expires_at_ms: 0,
    }
}

/// A lease token from a request.
fn token(raw: &str) -> Result<u64, Status> {
    input::lease_token(raw).map_err(|e| invalid_field(&e))
}

#[tonic::async_trait]
impl pb::jobs_server::Jobs for JobsService {
    async fn create_job(
        &self,
        req: Request<pb::CreateJobRequest>,
    ) -> Result<GrpcResponse<pb::Job>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let spec = input::job_spec(input::NewJob {
            job_type: req.r#type,
            payload: Some(self.ws.json_doc("payload", req.payload, "{}")?),
            max_retries: req.max_retries,
            timeout_secs: req.timeout_seconds,
            priority: req.priority,
            run_at_ms: req
                .run_at_ms
                .map(|ms| input::time_ms("runAt", ms))
                .transpose()
                .map_err(|e| invalid_field(&e))?,
            webhook: (!req.webhook.is_empty()).then_some(req.webhook),
        })
        .map_err(|e| invalid_field(&e))?;
        let command = Command::CreateJob {
            id: ids::job_id(self.ws.shard(&c.workspace), rand::rng().random()),
            workspace: c.workspace.clone(),
            spec,
            idempotency: idempotency(req.idempotency_key)?,
            ttl: self.ttl,
        };
        let job = self.job_command(&c.workspace, command).await?;
        Ok(GrpcResponse::new(job))
    }

    async fn get_job(&self, req: Request<pb::JobRef>) -> Result<GrpcResponse<pb::Job>, Status> {
        let c = self.ws.caller(&req)?;
        let job = self.get(&c.workspace, req.into_inner().job_id).await?;
        Ok(GrpcResponse::new(job_pb(&job)))
    }

    async fn list_jobs(
        &self,
        req: Request<pb::ListJobsRequest>,
    ) -> Result<GrpcResponse<pb::ListJobsReply>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let status = match req.status.as_str() {
            "" => None,
            s => Some(JobStatus::parse(s).ok_or_else(|| {
                invalid(
                    "invalid_field",
                    "status: must be pending, running, completed, failed or cancelled",
                )
            })?),
        };
        let limit = match req.limit {
            0 => LIST_PAGE.0,
            n if n <= LIST_PAGE.1 => n,
            _ => return Err(invalid("invalid_limit", "limit must be at most 200")),
        };
        let query = Query::Jobs {
            workspace: c.workspace.clone(),
            status,
            job_type: (!req.r#type.is_empty()).then_some(req.r#type),
            after: req.cursor,
            limit: limit as usize,
        };
        match self.ws.read(&c.workspace, query).await? {
            QueryResult::JobPage {
                jobs,
                next_cursor,
                has_more,
            } => Ok(GrpcResponse::new(pb::ListJobsReply {
                jobs: jobs.iter().map(job_pb).collect(),
                next_cursor,
                has_more,
            })),
            other => Err(unexpected(&other)),
        }
    }

    async fn cancel_job(&self, req: Request<pb::JobRef>) -> Result<GrpcResponse<pb::Job>, Status> {
        let c = self.ws.caller(&req)?;
        let command = Command::CancelJob {
            workspace: c.workspace.clone(),
            job: req.into_inner().job_id,
        };
        Ok(GrpcResponse::new(
            self.job_command(&c.workspace, command).await?,
        ))
    }

    async fn retry_job(&self, req: Request<pb::JobRef>) -> Result<GrpcResponse<pb::Job>, Status> {
        let c = self.ws.caller(&req)?;
        let command = Command::RetryJob {
            workspace: c.workspace.clone(),
            job: req.into_inner().job_id,
        };
        Ok(GrpcResponse::new(
            self.job_command(&c.workspace, command).await?,
        ))
    }

    async fn wait_job(
        &self,
        req: Request<pb::WaitJobRequest>,
    ) -> Result<GrpcResponse<pb::Job>, Status> {
        let c = self.ws.caller(&req)?;
        let _slot = crate::status::wait_slot(&self.ws.node, &req)?;
        let req = req.into_inner();
        let secs = input::job_wait(req.wait_secs).map_err(|e| invalid_field(&e))?;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut changes = self
            .ws
            .node
            .subscribe(Topic::Workspace(c.workspace.clone()));
        loop {
            let job = self.get(&c.workspace, req.job_id.clone()).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if job.status.is_final() || left.is_zero() {
                return Ok(GrpcResponse::new(job_pb(&job)));
            }
            changes.changed(left).await;
        }
    }

    type WatchJobStream = ReceiverStream<Result<pb::JobEvent, Status>>;

    async fn watch_job(
        &self,
        req: Request<pb::WatchJobRequest>,
    ) -> Result<GrpcResponse<Self::WatchJobStream>, Status> {
        let c = self.ws.caller(&req)?;
        let slot = crate::status::wait_slot(&self.ws.node, &req)?;
        let req = req.into_inner();
        // Fail fast (not found) before the stream starts.
        self.get(&c.workspace, req.job_id.clone()).await?;
        let (tx, rx) = mpsc::channel(16);
        let ws = self.ws.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let (mut after, deadline) = (req.after_seq, Instant::now() + WATCH_FOR);
            let mut changes = ws.node.subscribe(Topic::Workspace(c.workspace.clone()));
            while Instant::now() < deadline {
                let query = Query::JobEvents {
                    workspace: c.workspace.clone(),
                    id: req.job_id.clone(),
                    after,
                    limit: 100,
                };
                let (job, events) = match ws.read(&c.workspace, query).await {
                    Ok(QueryResult::JobEvents { job, events }) => (job, events),
                    Ok(other) => {
                        let _ = tx.send(Err(unexpected(&other))).await;
                        return;
                    }
                    Err(s) => {
                        let _ = tx.send(Err(s)).await;
                        return;
                    }
                };
                for e in events.iter() {
                    after = e.seq;
                    let event = pb::JobEvent {
                        seq: e.seq,
                        at_ms: e.at_ms,
                        kind: e.kind.clone(),
                        data: e.data.as_bytes().to_vec(),
                        status: job.status.as_str().to_owned(),
                    };
                    if tx.send(Ok(event)).await.is_err() {
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
        Ok(GrpcResponse::new(ReceiverStream::new(rx)))
    }

    async fn claim_jobs(
        &self,
        req: Request<pb::ClaimJobsRequest>,
    ) -> Result<GrpcResponse<pb::ClaimJobsReply>, Status> {
        let c = self.ws.caller(&req)?;
        let _slot = if req.get_ref().wait_secs > 0 {
            crate::status::wait_slot(&self.ws.node, &req)?
        } else {
            None
        };
        let req = req.into_inner();
        let checked = input::worker_id(&req.worker_id).and_then(|()| {
            Ok((
                input::claim_limit(req.limit)?,
                input::claim_wait(Some(req.wait_secs))?,
            ))
        });
        let (limit, wait) = checked
            .and_then(|lw| input::claim_types(&req.types).map(|()| lw))
            .map_err(|e| invalid_field(&e))?;
        let deadline = Instant::now() + Duration::from_secs(wait);
        // Jobs also come due by the clock, which announces nothing: look again every second.
        let mut changes = self
            .ws
            .node
            .subscribe(Topic::Workspace(c.workspace.clone()));
        loop {
            // Ask first, a read: a claim that would find nothing is not proposed (as over HTTP).
            let query = Query::ClaimableJobs {
                workspace: c.workspace.clone(),
                types: req.types.clone(),
                now_ms: crate::work::now_ms(),
            };
            let due = match self.ws.read(&c.workspace, query).await? {
                QueryResult::ClaimableJobs(due) => due,
                other => return Err(unexpected(&other)),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if !due && !left.is_zero() {
                changes.changed(left.min(Duration::from_secs(1))).await;
                continue;
            }
            if !due {
                return Ok(GrpcResponse::new(pb::ClaimJobsReply { jobs: Vec::new() }));
            }
            let command = Command::ClaimJobs {
                workspace: c.workspace.clone(),
                worker_id: req.worker_id.clone(),
                types: req.types.clone(),
                lease_ms: JOB_LEASE_MS,
                tokens: (0..limit).map(|_| rand::rng().random()).collect(),
            };
            let jobs = match self.ws.write(&c.workspace, command).await? {
                Response::Claimed { jobs } => jobs,
                other => return Err(unexpected(&other)),
            };
            if !jobs.is_empty() || deadline <= Instant::now() {
                let jobs = jobs
                    .iter()
                    .map(|j| {
                        let mut out = job_pb(j);
                        if let Some(l) = &j.lease {
                            out.token = format!("{:016x}", l.token);
                            out.lease_expires_at_ms = l.expires_ms;
                        }
                        out
                    })
                    .collect();
                return Ok(GrpcResponse::new(pb::ClaimJobsReply { jobs }));
            }
            // Another worker took what the read saw, or the group's clock is behind this
            // node's: wait for the next change rather than propose again at once.
            let left = deadline.saturating_duration_since(Instant::now());
            changes.changed(left.min(Duration::from_secs(1))).await;
        }
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<GrpcResponse<pb::HeartbeatReply>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let command = Command::Heartbeat {
            workspace: c.workspace.clone(),
            job: req.job_id,
            token: token(&req.token)?,
            progress: input::progress(req.progress).map_err(|e| invalid_field(&e))?,
            lease_ms: JOB_LEASE_MS,
        };
        match self.ws.write(&c.workspace, command).await? {
            Response::HeartbeatAck {
                expires_ms,
                cancel_requested,
            } => Ok(GrpcResponse::new(pb::HeartbeatReply {
                cancel_requested,
                lease_expires_at_ms: expires_ms,
            })),
            other => Err(unexpected(&other)),
        }
    }

    async fn complete_job(
        &self,
        req: Request<pb::CompleteJobRequest>,
    ) -> Result<GrpcResponse<pb::Job>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let command = Command::CompleteJob {
            workspace: c.workspace.clone(),
            job: req.job_id,
            token: token(&req.token)?,
            result: self.ws.json_doc("result", req.result, "null")?,
        };
        Ok(GrpcResponse::new(
            self.job_command(&c.workspace, command).await?,
        ))
    }

    async fn fail_job(
        &self,
        req: Request<pb::FailJobRequest>,
    ) -> Result<GrpcResponse<pb::Job>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        input::error_text(&req.error).map_err(|e| invalid_field(&e))?;
        let command = Command::FailJob {
            workspace: c.workspace.clone(),
            job: req.job_id,
            token: token(&req.token)?,
            error: req.error,
            retryable: req.retryable.unwrap_or(true),
        };
        Ok(GrpcResponse::new(
            self.job_command(&c.workspace, command).await?,
        ))
    }
}
