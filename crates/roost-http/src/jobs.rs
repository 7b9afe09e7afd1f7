//! The jobs API (`/jobs`): enqueue, inspect, list, cancel, retry, events (SSE), wait, and the
//! worker side (claim, heartbeat, complete, fail). Each handler parses, calls `roost_api::Api`
//! and renders.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roost_api::views::{ClaimedView, EventView, HeartbeatView, JobPageView, JobReply, JobView};
use roost_api::{ClaimJobs, CreateJob, ErrorCode, ListJobs};
use roost_state::{Job, JobStatus};
use serde::{Deserialize, Serialize};

use crate::client_ip::ClientIp;
use crate::jwt::Caller;
use crate::queues::{idempotency_key, parse_param};
use crate::wire::base_url;
use crate::{body, ApiError, AppState};

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

async fn get_job(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = s.api.get_job(&c, &id).await?;
    Ok(job_response(&job, StatusCode::OK))
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

async fn retry(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = s.api.retry_job(&c, &id).await?;
    Ok(job_response(&job, StatusCode::ACCEPTED))
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
    let secs = parse_param("timeout", p.timeout.as_deref(), ErrorCode::InvalidTimeout)?;
    let job = s.api.wait_job(&c, ip, &id, secs).await?;
    Ok(job_response(&job, StatusCode::OK))
}

/// `GET /jobs/{id}/events`: the event log as server-sent events, resuming after
/// `Last-Event-ID`, until the job is over.
async fn events(
    State(s): State<AppState>,
    Caller(c): Caller,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
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
