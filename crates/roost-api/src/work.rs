//! Work queues for agent teams: priority tasks handed out with leases, work stealing within a
//! team. Every call is scoped to the caller's workspace and, for team-scoped tokens, its teams.

use roost_state::command as cmd;
use std::collections::BTreeMap;

use roost_auth::Claims;
use roost_state::{
    ids, Command, CommandError, Query, QueryResult, Response, Task, TaskStatus, WorkQueue,
};

use crate::doc::time_ms;
use crate::input::{self, TASK_LEASE_MS};
use crate::workspace::{idempotency, reaches};
use crate::{Api, Doc, Error};
pub use roost_wire::{AddTask, CreateWorkQueue, FinishTask};

/// A work queue with its tasks counted by status.
#[derive(Clone, Debug)]
pub struct QueueWithCounts {
    /// The queue.
    pub queue: WorkQueue,
    /// Tasks per status.
    pub counts: BTreeMap<String, u64>,
}

impl Api {
    /// Creates a work queue for a team.
    pub async fn create_work_queue(
        &self,
        c: &Claims,
        req: CreateWorkQueue,
    ) -> Result<QueueWithCounts, Error> {
        input::work_queue(&req.name, &req.team_id)?;
        reaches(c, &req.team_id)?;
        let command = Command::CreateWorkQueue(cmd::CreateWorkQueue {
            id: ids::work_queue_id(self.workspace_shard(&c.workspace), self.random()),
            workspace: c.workspace.clone(),
            name: req.name,
            team: req.team_id,
        });
        match self.ws_write(&c.workspace, command).await? {
            Response::WorkQueueState { queue } => Ok(QueueWithCounts {
                queue,
                counts: BTreeMap::new(),
            }),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// The work queues the caller's teams reach.
    pub async fn list_work_queues(&self, c: &Claims) -> Result<Vec<QueueWithCounts>, Error> {
        let query = Query::WorkQueues {
            workspace: c.workspace.clone(),
        };
        match self.ws_read(&c.workspace, query).await? {
            QueryResult::WorkQueues(list) => Ok(list
                .into_iter()
                .filter(|(q, _)| c.reaches_team(&q.team))
                .map(|(queue, counts)| QueueWithCounts { queue, counts })
                .collect()),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// One work queue.
    pub async fn get_work_queue(&self, c: &Claims, id: &str) -> Result<QueueWithCounts, Error> {
        let query = Query::WorkQueue {
            workspace: c.workspace.clone(),
            id: id.to_owned(),
        };
        match self.ws_read(&c.workspace, query).await? {
            QueryResult::WorkQueues(list) => {
                let (queue, counts) = list
                    .into_iter()
                    .next()
                    .ok_or_else(|| CommandError::WorkNotFound("work queue".into()))?;
                reaches(c, &queue.team)?;
                Ok(QueueWithCounts { queue, counts })
            }
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Deletes a work queue and its tasks.
    pub async fn delete_work_queue(&self, c: &Claims, id: &str) -> Result<(), Error> {
        self.team_gate(c, id).await?;
        let command = Command::DeleteWorkQueue(cmd::DeleteWorkQueue {
            workspace: c.workspace.clone(),
            id: id.to_owned(),
        });
        match self.ws_write(&c.workspace, command).await? {
            Response::Done => Ok(()),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Adds a task; the answer says whether it is new (not an idempotent repeat).
    pub async fn add_task(
        &self,
        c: &Claims,
        queue: &str,
        req: AddTask,
    ) -> Result<(Task, bool), Error> {
        let priority = input::task(&req.name, req.priority)?;
        let deadline_ms = req
            .deadline
            .as_ref()
            .map(|t| time_ms(t, "deadline"))
            .transpose()?;
        let idempotency = idempotency(req.idempotency_key)?;
        self.team_gate(c, queue).await?;
        let command = Command::AddTask(cmd::AddTask {
            id: ids::task_id(self.workspace_shard(&c.workspace), self.random()),
            workspace: c.workspace.clone(),
            queue: queue.to_owned(),
            name: req.name,
            priority,
            payload: req
                .payload
                .map_or_else(|| "{}".to_owned(), Doc::into_string),
            deadline_ms,
            idempotency,
        });
        match self.ws_write(&c.workspace, command).await? {
            Response::TaskState { task, created } => Ok((*task, created)),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// A work queue's tasks, most urgent first, optionally only those in `status`.
    pub async fn list_tasks(
        &self,
        c: &Claims,
        queue: &str,
        status: Option<&str>,
    ) -> Result<Vec<Task>, Error> {
        let status = status
            .map(|s| {
                TaskStatus::parse(s).ok_or_else(|| {
                    Error::invalid_field("status", "must be pending, assigned, completed or failed")
                })
            })
            .transpose()?;
        self.team_gate(c, queue).await?;
        let query = Query::Tasks {
            workspace: c.workspace.clone(),
            queue: queue.to_owned(),
            status,
        };
        match self.ws_read(&c.workspace, query).await? {
            QueryResult::Tasks(list) => Ok(list),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Hands `agent_id` the most urgent pending task (`steal`: also one assigned to another
    /// agent of the team whose lease ran out), with a lease and a fencing token; none when
    /// nothing is available.
    pub async fn take_task(
        &self,
        c: &Claims,
        queue: &str,
        agent_id: &str,
        steal: bool,
    ) -> Result<Option<Task>, Error> {
        input::agent_id(agent_id)?;
        self.team_gate(c, queue).await?;
        let command = Command::Dequeue(cmd::Dequeue {
            workspace: c.workspace.clone(),
            queue: queue.to_owned(),
            agent: agent_id.to_owned(),
            token: self.random(),
            lease_ms: TASK_LEASE_MS,
            steal,
        });
        match self.ws_write(&c.workspace, command).await? {
            Response::Dequeued { task } => Ok(task.map(|t| *t)),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Completes a task with its result.
    pub async fn complete_task(
        &self,
        c: &Claims,
        task: &str,
        req: FinishTask,
    ) -> Result<Task, Error> {
        let result = req
            .result
            .map_or_else(|| "null".to_owned(), Doc::into_string);
        self.finish_task(c, task, req.token, Ok(result)).await
    }

    /// Fails a task with its error text.
    pub async fn fail_task(&self, c: &Claims, task: &str, req: FinishTask) -> Result<Task, Error> {
        let error = req.error.unwrap_or_default();
        input::error_text(&error)?;
        self.finish_task(c, task, req.token, Err(error)).await
    }

    /// Extends a task's lease.
    pub async fn task_heartbeat(
        &self,
        c: &Claims,
        task: &str,
        token: Option<&str>,
    ) -> Result<Task, Error> {
        let token = token
            .map(input::lease_token)
            .transpose()?
            .ok_or_else(|| Error::invalid_field("token", "is required"))?;
        self.team_gate(c, task).await?;
        let command = Command::TaskHeartbeat(cmd::TaskHeartbeat {
            workspace: c.workspace.clone(),
            task: task.to_owned(),
            token,
            lease_ms: TASK_LEASE_MS,
        });
        self.task_command(c, command).await
    }

    /// Ends a task: its result, or its error.
    async fn finish_task(
        &self,
        c: &Claims,
        task: &str,
        token: Option<String>,
        outcome: Result<String, String>,
    ) -> Result<Task, Error> {
        let token = token.as_deref().map(input::lease_token).transpose()?;
        self.team_gate(c, task).await?;
        let command = Command::FinishTask(cmd::FinishTask {
            workspace: c.workspace.clone(),
            task: task.to_owned(),
            token,
            outcome,
        });
        self.task_command(c, command).await
    }

    /// Applies a command that answers one task.
    async fn task_command(&self, c: &Claims, command: Command) -> Result<Task, Error> {
        match self.ws_write(&c.workspace, command).await? {
            Response::TaskState { task, .. } => Ok(*task),
            other => Err(Error::unexpected(&other)),
        }
    }
}
