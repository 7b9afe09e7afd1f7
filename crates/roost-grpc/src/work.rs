//! The `WorkQueues` service: each call parses, calls `roost_api::Api` and renders (the same
//! operations, checks and error codes as the HTTP edge's `/work-queues`).

use tonic::{Request, Response, Status};

use crate::status::status;
use roost_api::Api;

use crate::credentials::caller;
use crate::{convert, pb};

/// Serves work queues of the caller's workspace.
#[derive(Clone)]
pub struct WorkQueuesService {
    /// The application layer.
    api: Api,
}

impl WorkQueuesService {
    /// The tonic service.
    pub fn server(api: Api) -> pb::work_queues_server::WorkQueuesServer<Self> {
        pb::work_queues_server::WorkQueuesServer::new(WorkQueuesService { api })
    }

    /// A task as the reply message, seen now.
    fn task(&self, t: &roost_state::Task, with_token: bool) -> pb::Task {
        convert::task(t, with_token, self.api.now_ms())
    }

    /// Dequeue or steal.
    async fn take(
        &self,
        req: Request<pb::TakeRequest>,
        steal: bool,
    ) -> Result<pb::TakeReply, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let task = self
            .api
            .take_task(&c, &r.work_queue_id, &r.agent_id, steal)
            .await
            .map_err(status)?;
        Ok(pb::TakeReply {
            task: task.map(|t| self.task(&t, true)),
        })
    }

    /// Complete or fail.
    async fn finish(
        &self,
        req: Request<pb::FinishTaskRequest>,
        ok: bool,
    ) -> Result<pb::Task, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let id = r.task_id.clone();
        let finish =
            convert::finish_task(r, self.api.settings().max_document_bytes).map_err(status)?;
        let task = if ok {
            self.api.complete_task(&c, &id, finish).await
        } else {
            self.api.fail_task(&c, &id, finish).await
        };
        Ok(self.task(&task.map_err(status)?, false))
    }
}

#[tonic::async_trait]
impl pb::work_queues_server::WorkQueues for WorkQueuesService {
    async fn create_work_queue(
        &self,
        req: Request<pb::CreateWorkQueueRequest>,
    ) -> Result<Response<pb::WorkQueue>, Status> {
        let c = caller(&self.api, &req)?;
        let create = convert::create_work_queue(req.into_inner());
        let queue = self
            .api
            .create_work_queue(&c, create)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::work_queue(&queue)))
    }

    async fn list_work_queues(
        &self,
        req: Request<pb::ListWorkQueuesRequest>,
    ) -> Result<Response<pb::ListWorkQueuesReply>, Status> {
        let c = caller(&self.api, &req)?;
        let queues = self.api.list_work_queues(&c).await.map_err(status)?;
        Ok(Response::new(pb::ListWorkQueuesReply {
            work_queues: queues.iter().map(convert::work_queue).collect(),
        }))
    }

    async fn get_work_queue(
        &self,
        req: Request<pb::WorkQueueRef>,
    ) -> Result<Response<pb::WorkQueue>, Status> {
        let c = caller(&self.api, &req)?;
        let queue = self
            .api
            .get_work_queue(&c, &req.get_ref().work_queue_id)
            .await;
        Ok(Response::new(convert::work_queue(&queue.map_err(status)?)))
    }

    async fn delete_work_queue(
        &self,
        req: Request<pb::WorkQueueRef>,
    ) -> Result<Response<pb::DeleteWorkQueueReply>, Status> {
        let c = caller(&self.api, &req)?;
        let deleted = self
            .api
            .delete_work_queue(&c, &req.get_ref().work_queue_id)
            .await;
        deleted.map_err(status)?;
        Ok(Response::new(pb::DeleteWorkQueueReply { deleted: true }))
    }

    async fn add_task(
        &self,
        req: Request<pb::AddTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let queue = r.work_queue_id.clone();
        let add = convert::add_task(r, self.api.settings().max_document_bytes).map_err(status)?;
        let (task, _) = self.api.add_task(&c, &queue, add).await.map_err(status)?;
        Ok(Response::new(self.task(&task, false)))
    }

    async fn list_tasks(
        &self,
        req: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksReply>, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let status_filter = (!r.status.is_empty()).then_some(r.status.as_str());
        let tasks = self
            .api
            .list_tasks(&c, &r.work_queue_id, status_filter)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListTasksReply {
            tasks: tasks.iter().map(|t| self.task(t, false)).collect(),
        }))
    }

    async fn dequeue(
        &self,
        req: Request<pb::TakeRequest>,
    ) -> Result<Response<pb::TakeReply>, Status> {
        self.take(req, false).await.map(Response::new)
    }

    async fn steal(
        &self,
        req: Request<pb::TakeRequest>,
    ) -> Result<Response<pb::TakeReply>, Status> {
        self.take(req, true).await.map(Response::new)
    }

    async fn complete_task(
        &self,
        req: Request<pb::FinishTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        self.finish(req, true).await.map(Response::new)
    }

    async fn fail_task(
        &self,
        req: Request<pb::FinishTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        self.finish(req, false).await.map(Response::new)
    }

    async fn task_heartbeat(
        &self,
        req: Request<pb::TaskHeartbeatRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let task = self
            .api
            .task_heartbeat(&c, &r.task_id, Some(&r.token))
            .await;
        Ok(Response::new(self.task(&task.map_err(status)?, false)))
    }
}
