//! The `WorkQueues` service: the HTTP edge's `/work-queues` over gRPC, with the same checks,
//! commands and error codes (the limits live in `roost_state::input`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use roost_state::{ids, input, Command, Query, QueryResult, Response, Task, TaskStatus, WorkQueue};
use tonic::{Request, Response as GrpcResponse, Status};

use crate::pb;
use crate::status::{invalid, invalid_field, unexpected};
use crate::workspace::{idempotency, Workspaces};
use roost_auth::Claims;

use roost_state::input::TASK_LEASE_MS;

/// Serves work queues of the caller's workspace.
#[derive(Clone)]
pub struct WorkQueuesService {
    /// Auth and routing.
    ws: Workspaces,
}

impl WorkQueuesService {
    /// The tonic service.
    pub fn server(ws: Workspaces) -> pb::work_queues_server::WorkQueuesServer<Self> {
        pb::work_queues_server::WorkQueuesServer::new(WorkQueuesService { ws })
    }

    /// Applies a command that answers one task.
    async fn task_command(&self, workspace: &str, command: Command) -> Result<pb::Task, Status> {
        match self.ws.write(workspace, command).await? {
            Response::TaskState { task, .. } => Ok(task_pb(&task, false)),
            other => Err(unexpected(&other)),
        }
    }

    /// Refuses a token scoped to other teams acting on work queue or task `id`. A queue's
    /// team never changes, nor a task's queue, so reading it before the write that follows
    /// cannot race.
    async fn team_gate(&self, c: &Claims, id: &str) -> Result<(), Status> {
        if c.teams.is_empty() {
            return Ok(());
        }
        let query = Query::Team {
            workspace: c.workspace.clone(),
            id: id.to_owned(),
        };
        match self.ws.read(&c.workspace, query).await? {
            QueryResult::Team(team) => reaches(c, &team),
            other => Err(unexpected(&other)),
        }
    }

    /// Dequeue or steal.
    async fn take(
        &self,
        req: Request<pb::TakeRequest>,
        steal: bool,
    ) -> Result<pb::TakeReply, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        input::agent_id(&req.agent_id).map_err(|e| invalid_field(&e))?;
        self.team_gate(&c, &req.work_queue_id).await?;
        let command = Command::Dequeue {
            workspace: c.workspace.clone(),
            queue: req.work_queue_id,
            agent: req.agent_id,
            token: rand::rng().random(),
            lease_ms: TASK_LEASE_MS,
            steal,
        };
        match self.ws.write(&c.workspace, command).await? {
            Response::Dequeued { task } => Ok(pb::TakeReply {
                task: task.map(|t| task_pb(&t, true)),
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Complete or fail.
    async fn finish(
        &self,
        req: Request<pb::FinishTaskRequest>,
        ok: bool,
    ) -> Result<pb::Task, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let outcome = if ok {
            Ok(self.ws.json_doc("result", req.result, "null")?)
        } else {
            input::error_text(&req.error).map_err(|e| invalid_field(&e))?;
            Err(req.error)
        };
        self.team_gate(&c, &req.task_id).await?;
        let token = req
            .token
            .as_deref()
            .map(input::lease_token)
            .transpose()
            .map_err(|e| invalid_field(&e))?;
        let command = Command::FinishTask {
            workspace: c.workspace.clone(),
            task: req.task_id,
            token,
            outcome,
        };
        self.task_command(&c.workspace, command).await
    }
}

fn reaches(c: &Claims, team: &str) -> Result<(), Status> {
    if c.reaches_team(team) {
        return Ok(());
    }
    Err(crate::status::forbidden(
        "team_forbidden",
        &format!("this token acts for teams {:?}, not {team:?}", c.teams),
    ))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A work queue as the reply message.
fn queue_pb(q: &WorkQueue, counts: &BTreeMap<String, u64>) -> pb::WorkQueue {
    pb::WorkQueue {
        id: q.id.clone(),
        name: q.name.clone(),
        team_id: q.team.clone(),
        created_at_ms: q.created_ms,
        counts: counts.iter().map(|(k, v)| (k.clone(), *v)).collect(),
    }
}

/// A task as the reply message; only its assignee (the dequeue answer) sees the token.
fn task_pb(t: &Task, with_token: bool) -> pb::Task {
    pb::Task {
        id: t.id.clone(),
        work_queue_id: t.queue.clone(),
        name: t.name.clone(),
        priority: t.priority.into(),
        payload: t.payload.as_bytes().to_vec(),
        deadline_ms: t.deadline_ms.unwrap_or(0),
        status: t.status.as_str().to_owned(),
        agent_id: t.agent_id.clone().unwrap_or_default(),
        token: t
            .token
            .filter(|_| with_token)
            .map(|x| format!("{x:016x}"))
            .unwrap_or_default(),
        lease_expires_at_ms: t.lease_expires_ms.unwrap_or(0),
        result: t
            .result
            .as_deref()
            .map(|r| r.as_bytes().to_vec())
            .unwrap_or_default(),
        error: t.error.clone().unwrap_or_default(),
        created_at_ms: t.created_ms,
        updated_at_ms: t.updated_ms,
        overdue: t.overdue(now_ms()),
    }
}

#[tonic::async_trait]
impl pb::work_queues_server::WorkQueues for WorkQueuesService {
    async fn create_work_queue(
        &self,
        req: Request<pb::CreateWorkQueueRequest>,
    ) -> Result<GrpcResponse<pb::WorkQueue>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        input::work_queue(&req.name, &req.team_id).map_err(|e| invalid_field(&e))?;
        reaches(&c, &req.team_id)?;
        let command = Command::CreateWorkQueue {
            id: ids::work_queue_id(self.ws.shard(&c.workspace), rand::rng().random()),
            workspace: c.workspace.clone(),
            name: req.name,
            team: req.team_id,
        };
        match self.ws.write(&c.workspace, command).await? {
            Response::WorkQueueState { queue } => {
                Ok(GrpcResponse::new(queue_pb(&queue, &BTreeMap::new())))
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn list_work_queues(
        &self,
        req: Request<pb::ListWorkQueuesRequest>,
    ) -> Result<GrpcResponse<pb::ListWorkQueuesReply>, Status> {
        let c = self.ws.caller(&req)?;
        let query = Query::WorkQueues {
            workspace: c.workspace.clone(),
        };
        match self.ws.read(&c.workspace, query).await? {
            QueryResult::WorkQueues(list) => Ok(GrpcResponse::new(pb::ListWorkQueuesReply {
                work_queues: list
                    .iter()
                    .filter(|(q, _)| c.reaches_team(&q.team))
                    .map(|(q, n)| queue_pb(q, n))
                    .collect(),
            })),
            other => Err(unexpected(&other)),
        }
    }

    async fn get_work_queue(
        &self,
        req: Request<pb::WorkQueueRef>,
    ) -> Result<GrpcResponse<pb::WorkQueue>, Status> {
        let c = self.ws.caller(&req)?;
        let query = Query::WorkQueue {
            workspace: c.workspace.clone(),
            id: req.into_inner().work_queue_id,
        };
        match self.ws.read(&c.workspace, query).await? {
            QueryResult::WorkQueues(list) => match list.first() {
                Some((q, n)) => {
                    reaches(&c, &q.team)?;
                    Ok(GrpcResponse::new(queue_pb(q, n)))
                }
                None => Err(crate::status::refused(
                    &roost_state::CommandError::WorkNotFound("work queue".into()),
                )),
            },
            other => Err(unexpected(&other)),
        }
    }

    async fn delete_work_queue(
        &self,
        req: Request<pb::WorkQueueRef>,
    ) -> Result<GrpcResponse<pb::DeleteWorkQueueReply>, Status> {
        let c = self.ws.caller(&req)?;
        let id = req.into_inner().work_queue_id;
        self.team_gate(&c, &id).await?;
        let command = Command::DeleteWorkQueue {
            workspace: c.workspace.clone(),
            id,
        };
        match self.ws.write(&c.workspace, command).await? {
            Response::Done => Ok(GrpcResponse::new(pb::DeleteWorkQueueReply {
                deleted: true,
            })),
            other => Err(unexpected(&other)),
        }
    }

    async fn add_task(
        &self,
        req: Request<pb::AddTaskRequest>,
    ) -> Result<GrpcResponse<pb::Task>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let priority = input::task(&req.name, req.priority).map_err(|e| invalid_field(&e))?;
        self.team_gate(&c, &req.work_queue_id).await?;
        let command = Command::AddTask {
            id: ids::task_id(self.ws.shard(&c.workspace), rand::rng().random()),
            workspace: c.workspace.clone(),
            queue: req.work_queue_id,
            name: req.name,
            priority,
            payload: self.ws.json_doc("payload", req.payload, "{}")?,
            deadline_ms: req
                .deadline_ms
                .map(|ms| input::time_ms("deadline", ms))
                .transpose()
                .map_err(|e| invalid_field(&e))?,
            idempotency: idempotency(req.idempotency_key)?,
        };
        Ok(GrpcResponse::new(
            self.task_command(&c.workspace, command).await?,
        ))
    }

    async fn list_tasks(
        &self,
        req: Request<pb::ListTasksRequest>,
    ) -> Result<GrpcResponse<pb::ListTasksReply>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let status = match req.status.as_str() {
            "" => None,
            s => Some(TaskStatus::parse(s).ok_or_else(|| {
                invalid(
                    "invalid_field",
                    "status: must be pending, assigned, completed or failed",
                )
            })?),
        };
        self.team_gate(&c, &req.work_queue_id).await?;
        let query = Query::Tasks {
            workspace: c.workspace.clone(),
            queue: req.work_queue_id,
            status,
        };
        match self.ws.read(&c.workspace, query).await? {
            QueryResult::Tasks(list) => Ok(GrpcResponse::new(pb::ListTasksReply {
                tasks: list.iter().map(|t| task_pb(t, false)).collect(),
            })),
            other => Err(unexpected(&other)),
        }
    }

    async fn dequeue(
        &self,
        req: Request<pb::TakeRequest>,
    ) -> Result<GrpcResponse<pb::TakeReply>, Status> {
        self.take(req, false).await.map(GrpcResponse::new)
    }

    async fn steal(
        &self,
        req: Request<pb::TakeRequest>,
    ) -> Result<GrpcResponse<pb::TakeReply>, Status> {
        self.take(req, true).await.map(GrpcResponse::new)
    }

    async fn complete_task(
        &self,
        req: Request<pb::FinishTaskRequest>,
    ) -> Result<GrpcResponse<pb::Task>, Status> {
        self.finish(req, true).await.map(GrpcResponse::new)
    }

    async fn fail_task(
        &self,
        req: Request<pb::FinishTaskRequest>,
    ) -> Result<GrpcResponse<pb::Task>, Status> {
        self.finish(req, false).await.map(GrpcResponse::new)
    }

    async fn task_heartbeat(
        &self,
        req: Request<pb::TaskHeartbeatRequest>,
    ) -> Result<GrpcResponse<pb::Task>, Status> {
        let c = self.ws.caller(&req)?;
        let req = req.into_inner();
        let token = input::lease_token(&req.token).map_err(|e| invalid_field(&e))?;
        self.team_gate(&c, &req.task_id).await?;
        let command = Command::TaskHeartbeat {
            workspace: c.workspace.clone(),
            task: req.task_id,
            token,
            lease_ms: TASK_LEASE_MS,
        };
        Ok(GrpcResponse::new(
            self.task_command(&c.workspace, command).await?,
        ))
    }
}
