//! Work queues (`/work-queues`, `/work-queue-tasks`), with a workspace token as credential.

use reqwest::{Method, StatusCode};
use roost_wire::{
    AddTask, CreateWorkQueue, FinishTask, TakeTask, TaskList, TaskReply, WorkQueue, WorkQueueList,
};

use crate::{json, Client, Error};

impl Client {
    /// Creates a work queue for a team.
    pub async fn create_work_queue(
        &self,
        token: &str,
        req: &CreateWorkQueue,
    ) -> Result<WorkQueue, Error> {
        let r = self.request(Method::POST, &["work-queues"], Some(token));
        self.call(json(r, req)?).await
    }

    /// The work queues the token reaches, with their tasks counted by status.
    pub async fn list_work_queues(&self, token: &str) -> Result<WorkQueueList, Error> {
        self.call(self.request(Method::GET, &["work-queues"], Some(token)))
            .await
    }

    /// Adds a task; with `req.idempotency_key`, a repeat answers the first task.
    pub async fn add_task(
        &self,
        token: &str,
        queue: &str,
        req: &AddTask,
    ) -> Result<TaskReply, Error> {
        let r = self.request(Method::POST, &["work-queues", queue, "tasks"], Some(token));
        let mut r = json(r, req)?;
        if let Some(k) = &req.idempotency_key {
            r = r.header("idempotency-key", k);
        }
        self.call(r).await
    }

    /// A queue's tasks, only those in `status` if given.
    pub async fn list_tasks(
        &self,
        token: &str,
        queue: &str,
        status: Option<&str>,
    ) -> Result<TaskList, Error> {
        let r = self.request(Method::GET, &["work-queues", queue, "tasks"], Some(token));
        self.call(r.query(&[("status", status)])).await
    }

    /// Takes the most urgent pending task for `agent_id`; `None` when there is none.
    pub async fn dequeue(
        &self,
        token: &str,
        queue: &str,
        agent_id: &str,
    ) -> Result<Option<TaskReply>, Error> {
        self.take(token, queue, agent_id, "dequeue").await
    }

    /// Takes the most urgent pending task of the other work queues of `queue`'s team;
    /// `None` when there is none.
    pub async fn steal(
        &self,
        token: &str,
        queue: &str,
        agent_id: &str,
    ) -> Result<Option<TaskReply>, Error> {
        self.take(token, queue, agent_id, "steal").await
    }

    async fn take(
        &self,
        token: &str,
        queue: &str,
        agent_id: &str,
        how: &str,
    ) -> Result<Option<TaskReply>, Error> {
        let r = self.request(Method::POST, &["work-queues", queue, how], Some(token));
        let body = TakeTask {
            agent_id: agent_id.to_owned(),
        };
        let answer = self.send(json(r, &body)?).await?;
        if answer.status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        answer.decode().map(Some)
    }

    /// Completes a task with its result.
    pub async fn complete_task(
        &self,
        token: &str,
        task: &str,
        req: &FinishTask,
    ) -> Result<TaskReply, Error> {
        self.finish(token, task, req, "complete").await
    }

    /// Fails a task with its error.
    pub async fn fail_task(
        &self,
        token: &str,
        task: &str,
        req: &FinishTask,
    ) -> Result<TaskReply, Error> {
        self.finish(token, task, req, "fail").await
    }

    /// Ends a task `how` (`complete` or `fail`).
    async fn finish(
        &self,
        token: &str,
        task: &str,
        req: &FinishTask,
        how: &str,
    ) -> Result<TaskReply, Error> {
        let r = self.request(Method::POST, &["work-queue-tasks", task, how], Some(token));
        self.call(json(r, req)?).await
    }
}
