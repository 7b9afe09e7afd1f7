//! Work queues for agent teams (`/work-queues`, `/work-queue-tasks`): priority tasks handed out
//! with leases, work stealing within a team, 204 when nothing is available.

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use roost_state::{
    ids, input, Command, Query, QueryResult, Response as Applied, Task, TaskStatus, WorkQueue,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, value::RawValue, Value};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::jwt::{Caller, Claims};
use crate::queues::{idempotency_key, unexpected};
use crate::views::TaskView;
use crate::wire::{time_field, timestamp};
use crate::workspace::{read, write};
use crate::{body, ApiError, AppState};

use roost_state::input::TASK_LEASE_MS;

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

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn queue_json(q: &WorkQueue, counts: &BTreeMap<String, u64>) -> Value {
    json!({"id": q.id, "name": q.name, "teamId": q.team, "createdAt": timestamp(q.created_ms), "counts": counts})
}

/// `{"task": ...}`.
#[derive(Serialize)]
struct TaskReply<'a> {
    task: TaskView<'a>,
}

fn task_reply(t: &Task, with_token: bool) -> Json<TaskReply<'_>> {
    Json(TaskReply {
        task: TaskView::of(t, with_token, now_ms()),
    })
}

/// `{"tasks": [...]}`.
#[derive(Serialize)]
struct TaskList<'a> {
    tasks: Vec<TaskView<'a>>,
}

/// Refuses a token scoped to other teams acting on work queue or task `id`. A queue's team
/// never changes, nor a task's queue, so reading it before the write that follows cannot race.
async fn team_gate(s: &AppState, c: &Claims, id: &str) -> Result<(), ApiError> {
    if c.teams.is_empty() {
        return Ok(());
    }
    let query = Query::Team {
        workspace: c.workspace.clone(),
        id: id.to_owned(),
    };
    match read(s, &c.workspace, query).await? {
        QueryResult::Team(team) => reaches(c, &team),
        other => Err(unexpected(&other)),
    }
}

fn reaches(c: &Claims, team: &str) -> Result<(), ApiError> {
    if c.reaches_team(team) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "team_forbidden",
        format!("this token acts for teams {:?}, not {team:?}", c.teams),
        "Use a token created with --team for this team, or one without --team (workspace-wide).",
    ))
}

/// Body of `POST /work-queues`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    name: String,
    team_id: String,
}

async fn create(
    State(s): State<AppState>,
    Caller(c): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateBody = body::json(&bytes)?;
    input::work_queue(&req.name, &req.team_id)?;
    reaches(&c, &req.team_id)?;
    let shard = ids::workspace_shard(&c.workspace, s.node.shards());
    let command = Command::CreateWorkQueue {
        id: ids::work_queue_id(shard, rand::rng().random()),
        workspace: c.workspace.clone(),
        name: req.name,
        team: req.team_id,
    };
    match write(&s, &c.workspace, command).await? {
        Applied::WorkQueueState { queue } => Ok((
            StatusCode::CREATED,
            Json(queue_json(&queue, &BTreeMap::new())),
        )
            .into_response()),
        other => Err(unexpected(&other)),
    }
}

async fn list(State(s): State<AppState>, Caller(c): Caller) -> Result<Response, ApiError> {
    match read(
        &s,
        &c.workspace,
        Query::WorkQueues {
            workspace: c.workspace.clone(),
        },
    )
    .await?
    {
        QueryResult::WorkQueues(list) => Ok(Json(json!({
            "workQueues": list
                .iter()
                .filter(|(q, _)| c.reaches_team(&q.team))
                .map(|(q, n)| queue_json(q, n))
                .collect::<Vec<_>>()
        }))
        .into_response()),
        other => Err(unexpected(&other)),
    }
}

async fn get_one(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match read(
        &s,
        &c.workspace,
        Query::WorkQueue {
            workspace: c.workspace.clone(),
            id,
        },
    )
    .await?
    {
        QueryResult::WorkQueues(list) => match list.first() {
            Some((q, n)) => {
                reaches(&c, &q.team)?;
                Ok(Json(queue_json(q, n)).into_response())
            }
            None => Err(roost_state::CommandError::WorkNotFound("work queue".into()).into()),
        },
        other => Err(unexpected(&other)),
    }
}

async fn delete(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    team_gate(&s, &c, &id).await?;
    match write(
        &s,
        &c.workspace,
        Command::DeleteWorkQueue {
            workspace: c.workspace.clone(),
            id: id.clone(),
        },
    )
    .await?
    {
        Applied::Done => Ok(Json(json!({"ok": true, "id": id, "deleted": true})).into_response()),
        other => Err(unexpected(&other)),
    }
}

/// Body of `POST /work-queues/{id}/tasks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    name: String,
    priority: Option<i64>,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
    deadline: Option<String>,
}

async fn add_task(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: TaskBody = body::json(&bytes)?;
    let priority = input::task(&req.name, req.priority)?;
    let deadline_ms = time_field("deadline", req.deadline.as_deref())?;
    team_gate(&s, &c, &queue).await?;
    let shard = ids::workspace_shard(&c.workspace, s.node.shards());
    let command = Command::AddTask {
        id: ids::task_id(shard, rand::rng().random()),
        workspace: c.workspace.clone(),
        queue,
        name: req.name,
        priority,
        payload: req
            .payload
            .map_or_else(|| "{}".to_owned(), |p| p.get().to_owned()),
        deadline_ms,
        idempotency: idempotency_key(&headers)?,
    };
    match write(&s, &c.workspace, command).await? {
        Applied::TaskState { task, created } => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, task_reply(&task, false)).into_response())
        }
        other => Err(unexpected(&other)),
    }
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
    let status = p
        .status
        .as_deref()
        .map(|st| {
            TaskStatus::parse(st).ok_or_else(|| {
                ApiError::invalid_field("status", "must be pending, assigned, completed or failed")
            })
        })
        .transpose()?;
    team_gate(&s, &c, &queue).await?;
    match read(
        &s,
        &c.workspace,
        Query::Tasks {
            workspace: c.workspace.clone(),
            queue,
            status,
        },
    )
    .await?
    {
        QueryResult::Tasks(list) => Ok(Json(TaskList {
            tasks: list
                .iter()
                .map(|t| TaskView::of(t, false, now_ms()))
                .collect(),
        })
        .into_response()),
        other => Err(unexpected(&other)),
    }
}

/// Body of dequeue and steal.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AgentBody {
    agent_id: String,
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
    let req: AgentBody = body::json(&bytes)?;
    input::agent_id(&req.agent_id)?;
    team_gate(&s, &c, &queue).await?;
    let command = Command::Dequeue {
        workspace: c.workspace.clone(),
        queue,
        agent: req.agent_id,
        token: rand::rng().random(),
        lease_ms: TASK_LEASE_MS,
        steal,
    };
    match write(&s, &c.workspace, command).await? {
        Applied::Dequeued { task: Some(t) } => Ok(task_reply(&t, true).into_response()),
        Applied::Dequeued { task: None } => Ok(StatusCode::NO_CONTENT.into_response()),
        other => Err(unexpected(&other)),
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

/// Body of complete / fail / heartbeat.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishBody {
    token: Option<String>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<String>,
}

async fn finish(
    s: AppState,
    c: Claims,
    task: String,
    headers: HeaderMap,
    body: Body,
    ok: bool,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: FinishBody = body::json(&bytes)?;
    let outcome = if ok {
        Ok(req
            .result
            .map_or_else(|| "null".to_owned(), |r| r.get().to_owned()))
    } else {
        let error = req.error.unwrap_or_default();
        input::error_text(&error)?;
        Err(error)
    };
    team_gate(&s, &c, &task).await?;
    let command = Command::FinishTask {
        workspace: c.workspace.clone(),
        task,
        token: req.token.as_deref().map(input::lease_token).transpose()?,
        outcome,
    };
    match write(&s, &c.workspace, command).await? {
        Applied::TaskState { task, .. } => Ok(task_reply(&task, false).into_response()),
        other => Err(unexpected(&other)),
    }
}

async fn complete(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    finish(s, c, task, headers, body, true).await
}

async fn fail(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    finish(s, c, task, headers, body, false).await
}

async fn heartbeat(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: FinishBody = body::json(&bytes)?;
    let token = req
        .token
        .as_deref()
        .map(input::lease_token)
        .transpose()?
        .ok_or_else(|| ApiError::invalid_field("token", "is required"))?;
    team_gate(&s, &c, &task).await?;
    let command = Command::TaskHeartbeat {
        workspace: c.workspace.clone(),
        task,
        token,
        lease_ms: TASK_LEASE_MS,
    };
    match write(&s, &c.workspace, command).await? {
        Applied::TaskState { task, .. } => Ok(task_reply(&task, false).into_response()),
        other => Err(unexpected(&other)),
    }
}
