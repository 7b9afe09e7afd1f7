//! The jobs API (`/jobs`): enqueue, inspect, list, cancel, retry, events (SSE), wait, and the
//! worker side (claim, heartbeat, complete, fail). Every call is scoped to the token's workspace.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use roost_state::{
    ids, input, Command, Job, JobSpec, JobStatus, JobTtl, Query, QueryResult, Response as Applied,
    Topic,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, value::RawValue};

use crate::jwt::Caller;
use crate::queues::{limit_param, parse_param, unexpected};
use crate::views::{EventView, JobView};
use crate::waiters::ClientIp;
use crate::wire::{base_url, time_field, timestamp};
use crate::workspace::{read, write};
use crate::{body, ApiError, AppState};

use roost_state::input::JOB_LEASE_MS;

/// The `/jobs` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs", post(create).get(list))
        .route("/jobs/claim", post(claim))
        .route("/jobs/{id}", get(get_job).delete(cancel))
        .route("/jobs/{id}/events", get(events))
        .route("/jobs/{id}/wait", get(wait))
        .route("/jobs/{id}/heartbeat", post(heartbeat))
        .route("/jobs/{id}/complete", post(complete))
        .route("/jobs/{id}/fail", post(fail))
        .route("/jobs/{id}/retry", post(retry))
}

/// `{"job": ...}`.
#[derive(Serialize)]
struct JobReply<'a> {
    job: JobView<'a>,
}

/// The answer to `POST /jobs`.
#[derive(Serialize)]
struct Accepted<'a> {
    id: &'a str,
    status: &'static str,
    status_url: String,
    job: JobView<'a>,
    #[serde(rename = "_help")]
    help: &'static str,
}

/// A page of `GET /jobs`.
#[derive(Serialize)]
struct JobPage<'a> {
    jobs: Vec<JobView<'a>>,
    next_cursor: u64,
    has_more: bool,
}

/// The answer to a claim.
#[derive(Serialize)]
struct Claimed<'a> {
    jobs: Vec<JobView<'a>>,
    #[serde(rename = "_help")]
    help: &'static str,
}

fn job_response(s: &AppState, j: &Job, status: StatusCode) -> Response {
    let mut resp = (
        status,
        Json(JobReply {
            job: JobView::of(j),
        }),
    )
        .into_response();
    if !j.status.is_final() {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    let _ = s;
    resp
}

fn job_of(r: Applied) -> Result<Job, ApiError> {
    match r {
        Applied::JobState { job, .. } => Ok(*job),
        other => Err(unexpected(&other)),
    }
}

/// Body of `POST /jobs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    #[serde(rename = "type")]
    job_type: String,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
    max_retries: Option<i64>,
    timeout_seconds: Option<i64>,
    priority: Option<i64>,
    run_at: Option<String>,
    webhook: Option<String>,
}

fn spec_of(req: CreateBody) -> Result<JobSpec, ApiError> {
    Ok(input::job_spec(input::NewJob {
        job_type: req.job_type,
        payload: req.payload.map(|p| p.get().to_owned()),
        max_retries: req.max_retries,
        timeout_secs: req.timeout_seconds,
        priority: req.priority,
        run_at_ms: time_field("runAt", req.run_at.as_deref())?,
        webhook: req.webhook,
    })?)
}

async fn create(
    State(s): State<AppState>,
    Caller(c): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateBody = body::json(&bytes)?;
    let spec = spec_of(req)?;
    let key = crate::queues::idempotency_key(&headers)?;
    let shard = ids::workspace_shard(&c.workspace, s.node.shards());
    let command = Command::CreateJob {
        id: ids::job_id(shard, rand::rng().random()),
        workspace: c.workspace.clone(),
        spec,
        idempotency: key,
        ttl: s.limits.job_ttl,
    };
    let job = job_of(write(&s, &c.workspace, command).await?)?;
    let base = base_url(&s.links, &headers);
    let mut resp = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            id: &job.id,
            status: job.status.as_str(),
            status_url: format!("{base}/jobs/{}", job.id),
            job: JobView::of(&job),
            help: "Job accepted. Poll status_url (honour Retry-After), wait on /jobs/{id}/wait, or stream /jobs/{id}/events.",
        }),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    Ok(resp)
}

async fn get_job(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match read(
        &s,
        &c.workspace,
        Query::Job {
            workspace: c.workspace.clone(),
            id,
        },
    )
    .await?
    {
        QueryResult::Job(j) => Ok(job_response(&s, &j, StatusCode::OK)),
        other => Err(unexpected(&other)),
    }
}

/// Query string of `GET /jobs`.
#[derive(Deserialize)]
struct ListParams {
    status: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    Caller(c): Caller,
    UrlQuery(p): UrlQuery<ListParams>,
) -> Result<Response, ApiError> {
    let status = p
        .status
        .as_deref()
        .map(|st| {
            JobStatus::parse(st).ok_or_else(|| {
                ApiError::invalid_field(
                    "status",
                    "must be pending, running, completed, failed or cancelled",
                )
            })
        })
        .transpose()?;
    let limit = limit_param(p.limit.as_deref(), 50, 200)?;
    let after: u64 = parse_param("cursor", p.cursor.as_deref(), "invalid_cursor")?.unwrap_or(0);
    let query = Query::Jobs {
        workspace: c.workspace.clone(),
        status,
        job_type: p.job_type,
        after,
        limit,
    };
    match read(&s, &c.workspace, query).await? {
        QueryResult::JobPage {
            jobs,
            next_cursor,
            has_more,
        } => Ok(Json(JobPage {
            jobs: jobs.iter().map(JobView::of).collect(),
            next_cursor,
            has_more,
        })
        .into_response()),
        other => Err(unexpected(&other)),
    }
}

async fn cancel(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = job_of(
        write(
            &s,
            &c.workspace,
            Command::CancelJob {
                workspace: c.workspace.clone(),
                job: id,
            },
        )
        .await?,
    )?;
    let status = if job.status == JobStatus::Cancelled {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(job_response(&s, &job, status))
}

async fn retry(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = job_of(
        write(
            &s,
            &c.workspace,
            Command::RetryJob {
                workspace: c.workspace.clone(),
                job: id,
            },
        )
        .await?,
    )?;
    Ok(job_response(&s, &job, StatusCode::ACCEPTED))
}

/// Query string of `/jobs/{id}/wait`.
#[derive(Deserialize)]
struct WaitParams {
    timeout: Option<String>,
}

async fn wait(
    State(s): State<AppState>,
    Caller(c): Caller,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<WaitParams>,
) -> Result<Response, ApiError> {
    let secs = input::job_wait(parse_param(
        "timeout",
        p.timeout.as_deref(),
        "invalid_timeout",
    )?)?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let _slot = crate::waiters::slot(&s, ip)?;
    let mut changes = s.node.subscribe(Topic::Workspace(c.workspace.clone()));
    loop {
        let job = match read(
            &s,
            &c.workspace,
            Query::Job {
                workspace: c.workspace.clone(),
                id: id.clone(),
            },
        )
        .await?
        {
            QueryResult::Job(j) => j,
            other => return Err(unexpected(&other)),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if job.status.is_final() || left.is_zero() {
            return Ok(job_response(&s, &job, StatusCode::OK));
        }
        changes.changed(left).await;
    }
}

/// `GET /jobs/{id}/events`: the event log as server-sent events, resuming after
/// `Last-Event-ID`, until the job is over (or an hour passes).
async fn events(
    State(s): State<AppState>,
    Caller(c): Caller,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // Fail fast (404) before the stream starts.
    read(
        &s,
        &c.workspace,
        Query::Job {
            workspace: c.workspace.clone(),
            id: id.clone(),
        },
    )
    .await?;
    let shard = ids::workspace_shard(&c.workspace, s.node.shards());
    let slot = crate::waiters::slot(&s, ip)?;
    let stream = async_stream(move |tx| async move {
        let _slot = slot;
        let deadline = Instant::now() + Duration::from_secs(3600);
        let mut changes = s.node.subscribe(Topic::Workspace(c.workspace.clone()));
        while Instant::now() < deadline {
            let query = Query::JobEvents {
                workspace: c.workspace.clone(),
                id: id.clone(),
                after,
                limit: 100,
            };
            let Ok(QueryResult::JobEvents { job, events }) = s.node.read(shard, query).await else {
                return;
            };
            for e in &events {
                after = e.seq;
                let Ok(data) = serde_json::to_string(&EventView::of(e, &job)) else {
                    return;
                };
                let event = Event::default()
                    .id(e.seq.to_string())
                    .event(e.kind.clone())
                    .data(data);
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
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A stream fed by a task: the task ends when the client goes away (its sends fail).
fn async_stream<F, Fut>(task: F) -> impl futures_core::Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(task(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Body of `POST /jobs/claim`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClaimBody {
    worker_id: String,
    #[serde(default)]
    types: Vec<String>,
    limit: Option<u32>,
    wait: Option<u64>,
}

async fn claim(
    State(s): State<AppState>,
    Caller(c): Caller,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: ClaimBody = body::json(&bytes)?;
    input::worker_id(&req.worker_id)?;
    input::claim_types(&req.types)?;
    let limit = input::claim_limit(req.limit)?;
    let wait = input::claim_wait(req.wait)?;
    let deadline = Instant::now() + Duration::from_secs(wait);
    let _slot = if wait > 0 {
        crate::waiters::slot(&s, ip)?
    } else {
        None
    };
    // Jobs also come due by the clock (`runAt`, retries), which announces nothing: look
    // again at least every second.
    let mut changes = s.node.subscribe(Topic::Workspace(c.workspace.clone()));
    loop {
        // Ask first, a read: a claim that would find nothing is not proposed, so waiting
        // (and idle, polling) workers never write to the log.
        let query = Query::ClaimableJobs {
            workspace: c.workspace.clone(),
            types: req.types.clone(),
            now_ms: crate::work::now_ms(),
        };
        let due = match read(&s, &c.workspace, query).await? {
            QueryResult::ClaimableJobs(due) => due,
            other => return Err(unexpected(&other)),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if !due {
            if left.is_zero() {
                return Ok(claimed(&[]));
            }
            changes.changed(left.min(Duration::from_secs(1))).await;
            continue;
        }
        let command = Command::ClaimJobs {
            workspace: c.workspace.clone(),
            worker_id: req.worker_id.clone(),
            types: req.types.clone(),
            lease_ms: JOB_LEASE_MS,
            tokens: (0..limit).map(|_| rand::rng().random()).collect(),
        };
        let jobs = match write(&s, &c.workspace, command).await? {
            Applied::Claimed { jobs } => jobs,
            other => return Err(unexpected(&other)),
        };
        if !jobs.is_empty() || deadline <= Instant::now() {
            return Ok(claimed(&jobs));
        }
        // Another worker took what the read saw, or the group's clock is behind this node's:
        // wait for the next change rather than propose again at once.
        let left = deadline.saturating_duration_since(Instant::now());
        changes.changed(left.min(Duration::from_secs(1))).await;
    }
}

/// The answer to a claim: the jobs taken, each with its lease.
fn claimed(jobs: &[Job]) -> Response {
    Json(Claimed {
        jobs: jobs.iter().map(JobView::leased).collect(),
        help: "Run each job; POST /jobs/{id}/heartbeat {token, progress} well within the lease, then complete {token, result} or fail {token, error, retryable}.",
    })
    .into_response()
}

/// Body of `POST /jobs/{id}/heartbeat`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatBody {
    token: String,
    progress: Option<i64>,
}

async fn heartbeat(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: HeartbeatBody = body::json(&bytes)?;
    let progress = input::progress(req.progress)?;
    let command = Command::Heartbeat {
        workspace: c.workspace.clone(),
        job: id,
        token: input::lease_token(&req.token)?,
        progress,
        lease_ms: JOB_LEASE_MS,
    };
    match write(&s, &c.workspace, command).await? {
        Applied::HeartbeatAck {
            expires_ms,
            cancel_requested,
        } => Ok(Json(json!({
            "ok": true,
            "cancelRequested": cancel_requested,
            "leaseExpiresAt": timestamp(expires_ms),
        }))
        .into_response()),
        other => Err(unexpected(&other)),
    }
}

/// Body of `POST /jobs/{id}/complete`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    token: String,
    #[serde(default)]
    result: Option<Box<RawValue>>,
}

async fn complete(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CompleteBody = body::json(&bytes)?;
    let result = req
        .result
        .map_or_else(|| "null".to_owned(), |r| r.get().to_owned());
    let command = Command::CompleteJob {
        workspace: c.workspace.clone(),
        job: id,
        token: input::lease_token(&req.token)?,
        result,
    };
    let job = job_of(write(&s, &c.workspace, command).await?)?;
    Ok(job_response(&s, &job, StatusCode::OK))
}

/// Body of `POST /jobs/{id}/fail`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailBody {
    token: String,
    #[serde(default)]
    error: String,
    #[serde(default = "yes")]
    retryable: bool,
}

fn yes() -> bool {
    true
}

async fn fail(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: FailBody = body::json(&bytes)?;
    input::error_text(&req.error)?;
    let command = Command::FailJob {
        workspace: c.workspace.clone(),
        job: id,
        token: input::lease_token(&req.token)?,
        error: req.error,
        retryable: req.retryable,
    };
    let job = job_of(write(&s, &c.workspace, command).await?)?;
    Ok(job_response(&s, &job, StatusCode::OK))
}

/// Default lifetimes of finished jobs.
pub fn default_ttl() -> JobTtl {
    JobTtl {
        completed_ms: 7 * 24 * 3600 * 1000,
        failed_ms: 30 * 24 * 3600 * 1000,
        cancelled_ms: 7 * 24 * 3600 * 1000,
    }
}
