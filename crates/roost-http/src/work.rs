//! Work queues for agent teams (`/work-queues`, `/work-queue-tasks`): priority tasks handed out
//! with leases, work stealing within a team, 204 when nothing is available. Each handler
//! parses, calls `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roost_api::views::{Deleted, TaskList, TaskReply, TaskView, WorkQueueList, WorkQueueView};
use roost_api::{AddTask, CreateWorkQueue, FinishTask};
use roost_state::Task;
use serde::Deserialize;

use crate::jwt::{Caller, Claims};
use crate::queues::idempotency_key;
use crate::{body, ApiError, AppState};

/// The work-queue routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/work-queues", post(create).get(list))
        .route("/work-queues/{id}", get(get_one).delete(delete))
        .route("/work-queues/{id}/tasks", post(add_task).get(tasks))
        .route("/work-queues/{id}/dequeue", post(dequeue))
        .route("/work-queues/{id}/steal", post(steal))
        .route("/work-queue-tasks/{id}/complete", post(complete))
        .route("/work-queue-tasks/{id}/fail", post(fail))
        .route("/work-queue-tasks/{id}/heartbeat", post(heartbeat))
}

/// `{"task": ...}`, seen now; the token only for its assignee.
fn task_reply(s: &AppState, t: &Task, with_token: bool) -> Response {
    Json(TaskReply {
        task: TaskView::of(t, with_token, s.api.now_ms()),
    })
    .into_response()
}

async fn create(
    State(s): State<AppState>,
    Caller(c): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateWorkQueue = body::json(&bytes)?;
    let queue = s.api.create_work_queue(&c, req).await?;
    Ok((StatusCode::CREATED, Json(WorkQueueView::of(&queue))).into_response())
}

async fn list(State(s): State<AppState>, Caller(c): Caller) -> Result<Response, ApiError> {
    let queues = s.api.list_work_queues(&c).await?;
    Ok(Json(WorkQueueList {
        work_queues: queues.iter().map(WorkQueueView::of).collect(),
    })
    .into_response())
}

async fn get_one(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let queue = s.api.get_work_queue(&c, &id).await?;
    Ok(Json(WorkQueueView::of(&queue)).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.api.delete_work_queue(&c, &id).await?;
    Ok(Json(Deleted::of(&id)).into_response())
}

async fn add_task(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req = AddTask {
        idempotency_key: idempotency_key(&headers)?,
        ..body::json(&bytes)?
    };
    let (task, created) = s.api.add_task(&c, &queue, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, task_reply(&s, &task, false)).into_response())
}

/// Query string of `GET /work-queues/{id}/tasks`.
#[derive(Deserialize)]
struct TasksParams {
    status: Option<String>,
}

async fn tasks(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(queue): Path<String>,
    UrlQuery(p): UrlQuery<TasksParams>,
) -> Result<Response, ApiError> {
    let tasks = s.api.list_tasks(&c, &queue, p.status.as_deref()).await?;
    let now = s.api.now_ms();
    Ok(Json(TaskList {
        tasks: tasks.iter().map(|t| TaskView::of(t, false, now)).collect(),
    })
    .into_response())
}

async fn take(
    s: AppState,
    c: Claims,
    queue: String,
    headers: HeaderMap,
    body: Body,
    steal: bool,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::TakeTask = body::json(&bytes)?;
    match s.api.take_task(&c, &queue, &req.agent_id, steal).await? {
        Some(t) => Ok(task_reply(&s, &t, true)),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn dequeue(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    take(s, c, queue, headers, body, false).await
}

async fn steal(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    take(s, c, queue, headers, body, true).await
}

async fn complete(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: FinishTask = body::json(&bytes)?;
    let task = s.api.complete_task(&c, &task, req).await?;
    Ok(task_reply(&s, &task, false))
}

async fn fail(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: FinishTask = body::json(&bytes)?;
    let task = s.api.fail_task(&c, &task, req).await?;
    Ok(task_reply(&s, &task, false))
}

async fn heartbeat(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: FinishTask = body::json(&bytes)?;
    let task = s
        .api
        .task_heartbeat(&c, &task, req.token.as_deref())
        .await?;
    Ok(task_reply(&s, &task, false))
}
