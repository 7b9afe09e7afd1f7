//! Work queues for agent teams (`/work-queues`, `/work-queue-tasks`): priority tasks handed out
//! with leases, work stealing within a team, 204 when nothing is available. Each handler
//! parses, calls `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_api::views::{Deleted, TaskList, TaskReply, TaskView, WorkQueueList, WorkQueueView};
use roost_api::{AddTask, CreateWorkQueue, FinishTask};
use roost_state::Task;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::jwt::{Caller, Claims};
use crate::openapi::{WorkspaceRead, WorkspaceWrite};
use crate::queues::idempotency_key;
use crate::{body, ApiError, AppState};

/// The work-queue routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, delete))
        .routes(routes!(add_task, tasks))
        .routes(routes!(dequeue))
        .routes(routes!(steal))
        .routes(routes!(complete))
        .routes(routes!(fail))
        .routes(routes!(heartbeat))
}

/// `{"task": ...}`, seen now; the token only for its assignee.
fn task_reply(s: &AppState, t: &Task, with_token: bool) -> Response {
    Json(TaskReply {
        task: TaskView::of(t, with_token, s.api.now_ms()),
    })
    .into_response()
}

/// Creates a work queue for a team.
#[utoipa::path(
    post,
    path = "/work-queues",
    operation_id = "create_work_queue",
    tag = "work queues",
    security(("workspace_token" = [])),
    request_body = CreateWorkQueue,
    responses(
        (status = 201, description = "The work queue.", body = WorkQueueView),
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
    let req: CreateWorkQueue = body::json(&bytes)?;
    let queue = s.api.create_work_queue(&c, req).await?;
    Ok((StatusCode::CREATED, Json(WorkQueueView::of(&queue))).into_response())
}

/// The workspace's work queues (a team token sees its team's).
#[utoipa::path(
    get,
    path = "/work-queues",
    operation_id = "list_work_queues",
    tag = "work queues",
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "The work queues with their tasks counted by status.", body = WorkQueueList),
        WorkspaceRead,
    ),
)]
async fn list(State(s): State<AppState>, Caller(c): Caller) -> Result<Response, ApiError> {
    let queues = s.api.list_work_queues(&c).await?;
    Ok(Json(WorkQueueList {
        work_queues: queues.iter().map(WorkQueueView::of).collect(),
    })
    .into_response())
}

/// A work queue with its tasks counted by status.
#[utoipa::path(
    get,
    path = "/work-queues/{id}",
    operation_id = "get_work_queue",
    tag = "work queues",
    params(("id" = String, Path, description = "The work queue's id.")),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "The work queue.", body = WorkQueueView),
        WorkspaceRead,
    ),
)]
async fn get_one(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let queue = s.api.get_work_queue(&c, &id).await?;
    Ok(Json(WorkQueueView::of(&queue)).into_response())
}

/// Deletes a work queue and its tasks.
#[utoipa::path(
    delete,
    path = "/work-queues/{id}",
    operation_id = "delete_work_queue",
    tag = "work queues",
    params(("id" = String, Path, description = "The work queue's id.")),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = Deleted),
        WorkspaceWrite,
    ),
)]
async fn delete(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.api.delete_work_queue(&c, &id).await?;
    Ok(Json(Deleted::of(&id)).into_response())
}

/// Adds a task (priority 1-5, 5 the most urgent).
#[utoipa::path(
    post,
    path = "/work-queues/{id}/tasks",
    operation_id = "add_task",
    tag = "work queues",
    params(("id" = String, Path, description = "The work queue's id."), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "A retried add with the same key answers the first task.")),
    security(("workspace_token" = [])),
    request_body = AddTask,
    responses(
        (status = 201, description = "The task.", body = TaskReply),
        (status = 200, description = "The task an earlier add with the same Idempotency-Key made.", body = TaskReply),
        WorkspaceWrite,
    ),
)]
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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TasksParams {
    /// Only tasks in this status.
    #[param(pattern = "^(pending|assigned|completed|failed)$")]
    status: Option<String>,
}

/// The queue's tasks, most urgent first.
#[utoipa::path(
    get,
    path = "/work-queues/{id}/tasks",
    operation_id = "list_tasks",
    tag = "work queues",
    params(("id" = String, Path, description = "The work queue's id."), TasksParams),
    security(("workspace_token" = [])),
    responses(
        (status = 200, description = "The tasks.", body = TaskList),
        WorkspaceRead,
    ),
)]
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

/// Takes the most urgent pending task, with a lease and a token.
#[utoipa::path(
    post,
    path = "/work-queues/{id}/dequeue",
    operation_id = "dequeue_task",
    tag = "work queues",
    params(("id" = String, Path, description = "The work queue's id.")),
    security(("workspace_token" = [])),
    request_body = roost_wire::TakeTask,
    responses(
        (status = 200, description = "The task, with its token.", body = TaskReply),
        (status = 204, description = "Nothing to do."),
        WorkspaceWrite,
    ),
)]
async fn dequeue(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    take(s, c, queue, headers, body, false).await
}

/// Takes the most urgent pending task from another queue of this queue's team.
#[utoipa::path(
    post,
    path = "/work-queues/{id}/steal",
    operation_id = "steal_task",
    tag = "work queues",
    params(("id" = String, Path, description = "The work queue's id.")),
    security(("workspace_token" = [])),
    request_body = roost_wire::TakeTask,
    responses(
        (status = 200, description = "The task, with its token.", body = TaskReply),
        (status = 204, description = "Nothing to steal."),
        WorkspaceWrite,
    ),
)]
async fn steal(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    take(s, c, queue, headers, body, true).await
}

/// Completes a task with its result.
#[utoipa::path(
    post,
    path = "/work-queue-tasks/{id}/complete",
    operation_id = "complete_task",
    tag = "work queues",
    params(("id" = String, Path, description = "The task's id.")),
    security(("workspace_token" = [])),
    request_body(content = Option<FinishTask>, description = "Optional: without the token the completion is not fenced."),
    responses(
        (status = 200, description = "The task, completed.", body = TaskReply),
        WorkspaceWrite,
    ),
)]
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

/// Fails a task.
#[utoipa::path(
    post,
    path = "/work-queue-tasks/{id}/fail",
    operation_id = "fail_task",
    tag = "work queues",
    params(("id" = String, Path, description = "The task's id.")),
    security(("workspace_token" = [])),
    request_body(content = Option<FinishTask>, description = "Optional: without the token the failure is not fenced."),
    responses(
        (status = 200, description = "The task, failed.", body = TaskReply),
        WorkspaceWrite,
    ),
)]
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

/// Body of a task's heartbeat.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"token": "00000000000000ff"}))]
struct TaskHeartbeat {
    /// The token the dequeue returned.
    #[schema(pattern = "^[0-9a-fA-F]{1,16}$")]
    token: String,
}

/// Extends a task's lease.
#[utoipa::path(
    post,
    path = "/work-queue-tasks/{id}/heartbeat",
    operation_id = "heartbeat_task",
    tag = "work queues",
    params(("id" = String, Path, description = "The task's id.")),
    security(("workspace_token" = [])),
    request_body = TaskHeartbeat,
    responses(
        (status = 200, description = "The task, its lease extended.", body = TaskReply),
        WorkspaceWrite,
    ),
)]
async fn heartbeat(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: TaskHeartbeat = body::json(&bytes)?;
    let task = s.api.task_heartbeat(&c, &task, Some(&req.token)).await?;
    Ok(task_reply(&s, &task, false))
}
