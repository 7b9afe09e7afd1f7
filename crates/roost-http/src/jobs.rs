//! The jobs API (`/jobs`): enqueue, inspect, list, cancel, retry, events (SSE), wait, and the
//! worker side (claim, heartbeat, complete, fail). Each handler parses, calls `roost_api::Api`
//! and renders.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_api::views::{ClaimedView, EventView, HeartbeatView, JobPageView, JobReply, JobView};
use roost_api::{ClaimJobs, CreateJob, ErrorCode, ListJobs};
use roost_state::{Job, JobStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::client_ip::ClientIp;
use crate::jwt::Caller;
use crate::openapi::{WorkspaceRead, WorkspaceWrite};
use crate::queues::{idempotency_key, parse_param};
use crate::wire::base_url;
use crate::{body, ApiError, AppState};

/// The `/jobs` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(claim))
        .routes(routes!(get_job, cancel))
        .routes(routes!(events))
        .routes(routes!(wait))
        .routes(routes!(heartbeat))
        .routes(routes!(complete))
        .routes(routes!(fail))
        .routes(routes!(retry))
}

/// The answer to `POST /jobs`.
#[derive(Serialize, ToSchema)]
struct Accepted<'a> {
    /// The job.
    id: &'a str,
    /// Its status (`pending`).
    status: &'static str,
    /// Where to poll it.
    status_url: String,
    /// The job.
    job: JobView<'a>,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'static str,
}

/// `{"job": ...}` with `status`, and `Retry-After` while the job is not over.
fn job_response(j: &Job, status: StatusCode) -> Response {
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
    resp
}

/// Enqueues a job for workers of its type.
#[utoipa::path(
    post,
    path = "/jobs",
    operation_id = "create_job",
    tag = "jobs",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "A retried create with the same key answers the first job.")),
    security(("workspace_token" = [])),
    request_body = CreateJob,
    responses(
        (status = 202, description = "Accepted.", body = Accepted, headers(("Retry-After" = String, description = "Seconds to wait before polling again, while the job is not over."))),
        WorkspaceWrite,
    ),
)]
async fn create(
    State(s): State<AppState>,
    Caller(c): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req = CreateJob {
        idempotency_key: idempotency_key(&headers)?,
        ..body::json(&bytes)?
    };
    let job = s.api.create_job(&c, req).await?;
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

/// The job.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id.")),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "The job.", body = JobReply, headers(("Retry-After" = String, description = "Seconds to wait before polling again, while the job is not over."))),
        WorkspaceRead,
    ),
)]
async fn get_job(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = s.api.get_job(&c, &id).await?;
    Ok(job_response(&job, StatusCode::OK))
}

/// Query string of `GET /jobs`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only jobs in this status.
    #[param(pattern = "^(pending|running|completed|failed|cancelled)$")]
    status: Option<String>,
    /// Only jobs of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    job_type: Option<String>,
    /// Jobs per page (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 18446744073709551615_f64)]
    cursor: Option<String>,
}

/// The workspace's jobs, oldest first.
#[utoipa::path(
    get,
    path = "/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    params(ListParams),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "A page of jobs.", body = JobPageView),
        WorkspaceRead,
    ),
)]
async fn list(
    State(s): State<AppState>,
    Caller(c): Caller,
    UrlQuery(p): UrlQuery<ListParams>,
) -> Result<Response, ApiError> {
    let req = ListJobs {
        status: p.status,
        job_type: p.job_type,
        limit: parse_param("limit", p.limit.as_deref(), ErrorCode::InvalidLimit)?,
        cursor: parse_param("cursor", p.cursor.as_deref(), ErrorCode::InvalidCursor)?,
    };
    let page = s.api.list_jobs(&c, req).await?;
    Ok(Json(JobPageView {
        jobs: page.jobs.iter().map(JobView::of).collect(),
        next_cursor: page.next_cursor,
        has_more: page.has_more,
    })
    .into_response())
}

/// Cancels a pending job, or asks a running one to stop (cooperatively).
#[utoipa::path(
    delete,
    path = "/jobs/{id}",
    operation_id = "cancel_job",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id.")),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "Cancelled.", body = JobReply),
        (status = 202, description = "Cancellation requested; the worker learns it at its next heartbeat.", body = JobReply, headers(("Retry-After" = String, description = "Seconds to wait before polling again, while the job is not over."))),
        WorkspaceWrite,
    ),
)]
async fn cancel(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = s.api.cancel_job(&c, &id).await?;
    let status = if job.status == JobStatus::Cancelled {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(job_response(&job, status))
}

/// Runs a failed or cancelled job again.
#[utoipa::path(
    post,
    path = "/jobs/{id}/retry",
    operation_id = "retry_job",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id.")),
    security(("workspace_token" = [])),
    responses(
        (status = 202, description = "Pending again.", body = JobReply, headers(("Retry-After" = String, description = "Seconds to wait before polling again, while the job is not over."))),
        WorkspaceWrite,
    ),
)]
async fn retry(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = s.api.retry_job(&c, &id).await?;
    Ok(job_response(&job, StatusCode::ACCEPTED))
}

/// Query string of `/jobs/{id}/wait`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WaitParams {
    /// Seconds to wait at most (default 30).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 300)]
    timeout: Option<String>,
}

/// Waits until the job is over (or the timeout), then answers it.
#[utoipa::path(
    get,
    path = "/jobs/{id}/wait",
    operation_id = "wait_for_job",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id."), WaitParams),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "The job, over or as it is at the timeout.", body = JobReply, headers(("Retry-After" = String, description = "Seconds to wait before polling again, while the job is not over."))),
        WorkspaceRead,
    ),
)]
async fn wait(
    State(s): State<AppState>,
    Caller(c): Caller,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<WaitParams>,
) -> Result<Response, ApiError> {
    let secs = parse_param("timeout", p.timeout.as_deref(), ErrorCode::InvalidTimeout)?;
    let job = s.api.wait_job(&c, ip, &id, secs).await?;
    Ok(job_response(&job, StatusCode::OK))
}

/// One server-sent event of a job's log, as the document describes the stream.
struct SseEvent;

impl utoipa::PartialSchema for SseEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::Type;
        use utoipa::openapi::ObjectBuilder;
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "id",
                text("The event's seq; send it as Last-Event-ID to resume."),
            )
            .property(
                "event",
                text("The event's kind (`enqueued`, `claimed`, `progress`, ...)."),
            )
            .property("data", text("The event as JSON: an `EventView`."))
            .required("data")
            .into()
    }
}

impl ToSchema for SseEvent {}

/// `GET /jobs/{id}/events`: the event log as server-sent events, resuming after
/// `Last-Event-ID`, until the job is over.
#[utoipa::path(
    get,
    path = "/jobs/{id}/events",
    operation_id = "job_events",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id."), ("Last-Event-ID" = Option<u64>, Header, nullable = false, minimum = 0, maximum = 18446744073709551615_f64, description = "Resume after this event (the `id` of the last one received).")),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "Server-sent events, each an `EventView` as JSON; the stream ends when the job is over.", content_type = "text/event-stream", body = SseEvent),
        WorkspaceRead,
    ),
)]
async fn events(
    State(s): State<AppState>,
    Caller(c): Caller,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").trim());
    let after = parse_param("Last-Event-ID", last, ErrorCode::InvalidCursor)?.unwrap_or(0);
    let mut items = s.api.follow_job(&c, ip, &id, after).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        // A failure mid-stream ends it: SSE has no error frame the client would expect.
        while let Some(Ok(item)) = items.recv().await {
            let Ok(data) = serde_json::to_string(&EventView::of(&item.event, item.status)) else {
                return;
            };
            let event = Event::default()
                .id(item.event.seq.to_string())
                .event(item.event.kind.clone())
                .data(data);
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Claims due jobs of the worker's types, each with a lease and a token.
#[utoipa::path(
    post,
    path = "/jobs/claim",
    operation_id = "claim_jobs",
    tag = "jobs",
    security(("workspace_token" = [])),
    request_body = ClaimJobs,
    responses(
        (status = 200, description = "The jobs claimed (maybe none), each with its token.", body = ClaimedView),
        WorkspaceWrite,
    ),
)]
async fn claim(
    State(s): State<AppState>,
    Caller(c): Caller,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: ClaimJobs = body::json(&bytes)?;
    let jobs = s.api.claim_jobs(&c, ip, req).await?;
    Ok(Json(ClaimedView::of(&jobs)).into_response())
}

/// Extends the lease of a claimed job and reports progress; says when cancellation was asked.
#[utoipa::path(
    post,
    path = "/jobs/{id}/heartbeat",
    operation_id = "heartbeat_job",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id.")),
    security(("workspace_token" = [])),
    request_body = roost_wire::JobHeartbeat,
    responses(
        (status = 200, description = "The lease, extended.", body = HeartbeatView),
        WorkspaceWrite,
    ),
)]
async fn heartbeat(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::JobHeartbeat = body::json(&bytes)?;
    let beat = s
        .api
        .heartbeat_job(&c, &id, &req.token, req.progress)
        .await?;
    Ok(Json(HeartbeatView::of(beat)).into_response())
}

/// Finishes a claimed job with its result.
#[utoipa::path(
    post,
    path = "/jobs/{id}/complete",
    operation_id = "complete_job",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id.")),
    security(("workspace_token" = [])),
    request_body = roost_wire::CompleteJob,
    responses(
        (status = 200, description = "The job, completed.", body = JobReply),
        WorkspaceWrite,
    ),
)]
async fn complete(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::CompleteJob = body::json(&bytes)?;
    let job = s.api.complete_job(&c, &id, &req.token, req.result).await?;
    Ok(job_response(&job, StatusCode::OK))
}

/// Fails a claimed job: retried with backoff while retries remain, else `failed`.
#[utoipa::path(
    post,
    path = "/jobs/{id}/fail",
    operation_id = "fail_job",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id.")),
    security(("workspace_token" = [])),
    request_body = roost_wire::FailJob,
    responses(
        (status = 200, description = "The job, pending a retry or failed.", body = JobReply),
        WorkspaceWrite,
    ),
)]
async fn fail(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::FailJob = body::json(&bytes)?;
    let job = s
        .api
        .fail_job(&c, &id, &req.token, req.error, req.retryable)
        .await?;
    Ok(job_response(&job, StatusCode::OK))
}
