//! The `Jobs` service: each call parses, calls `roost_api::Api` and renders (the same
//! operations, checks and error codes as the HTTP edge's `/jobs`).

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::credentials::{addr as wait_addr, caller};
use crate::status::status;
use crate::{convert, pb};
use roost_api::Api;

/// Serves jobs of the caller's workspace.
#[derive(Clone)]
pub struct JobsService {
    /// The application layer.
    api: Api,
}

impl JobsService {
    /// The tonic service.
    pub fn server(api: Api) -> pb::jobs_server::JobsServer<Self> {
        pb::jobs_server::JobsServer::new(JobsService { api })
    }
}

#[tonic::async_trait]
impl pb::jobs_server::Jobs for JobsService {
    async fn create_job(
        &self,
        req: Request<pb::CreateJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let c = caller(&self.api, &req)?;
        let create = convert::create_job(req.into_inner(), self.api.settings().max_document_bytes)
            .map_err(status)?;
        let job = self.api.create_job(&c, create).await.map_err(status)?;
        Ok(Response::new(convert::job(&job)))
    }

    async fn get_job(&self, req: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let c = caller(&self.api, &req)?;
        let job = self.api.get_job(&c, &req.get_ref().job_id).await;
        Ok(Response::new(convert::job(&job.map_err(status)?)))
    }

    async fn list_jobs(
        &self,
        req: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsReply>, Status> {
        let c = caller(&self.api, &req)?;
        let list = convert::list_jobs(req.into_inner());
        let page = self.api.list_jobs(&c, list).await.map_err(status)?;
        Ok(Response::new(convert::job_page(page)))
    }

    async fn cancel_job(&self, req: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let c = caller(&self.api, &req)?;
        let job = self.api.cancel_job(&c, &req.get_ref().job_id).await;
        Ok(Response::new(convert::job(&job.map_err(status)?)))
    }

    async fn retry_job(&self, req: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let c = caller(&self.api, &req)?;
        let job = self.api.retry_job(&c, &req.get_ref().job_id).await;
        Ok(Response::new(convert::job(&job.map_err(status)?)))
    }

    async fn wait_job(
        &self,
        req: Request<pb::WaitJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let c = caller(&self.api, &req)?;
        let addr = wait_addr(&req);
        let r = req.into_inner();
        let job = self.api.wait_job(&c, addr, &r.job_id, r.wait_secs).await;
        Ok(Response::new(convert::job(&job.map_err(status)?)))
    }

    type WatchJobStream = ReceiverStream<Result<pb::JobEvent, Status>>;

    async fn watch_job(
        &self,
        req: Request<pb::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let c = caller(&self.api, &req)?;
        let addr = wait_addr(&req);
        let r = req.into_inner();
        let mut items = self
            .api
            .follow_job(&c, addr, &r.job_id, r.after_seq)
            .await
            .map_err(status)?;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(item) = items.recv().await {
                if tx
                    .send(item.map(convert::event).map_err(status))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn claim_jobs(
        &self,
        req: Request<pb::ClaimJobsRequest>,
    ) -> Result<Response<pb::ClaimJobsReply>, Status> {
        let c = caller(&self.api, &req)?;
        let addr = wait_addr(&req);
        let claim = convert::claim_jobs(req.into_inner());
        let jobs = self.api.claim_jobs(&c, addr, claim).await.map_err(status)?;
        Ok(Response::new(pb::ClaimJobsReply {
            jobs: jobs.iter().map(convert::leased_job).collect(),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatReply>, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let beat = self
            .api
            .heartbeat_job(&c, &r.job_id, &r.token, r.progress)
            .await;
        Ok(Response::new(convert::heartbeat(beat.map_err(status)?)))
    }

    async fn complete_job(
        &self,
        req: Request<pb::CompleteJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let result = convert::doc("result", r.result, self.api.settings().max_document_bytes)
            .map_err(status)?;
        let job = self.api.complete_job(&c, &r.job_id, &r.token, result).await;
        Ok(Response::new(convert::job(&job.map_err(status)?)))
    }

    async fn fail_job(
        &self,
        req: Request<pb::FailJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let c = caller(&self.api, &req)?;
        let r = req.into_inner();
        let retryable = r.retryable.unwrap_or(true);
        let job = self
            .api
            .fail_job(&c, &r.job_id, &r.token, r.error, retryable)
            .await;
        Ok(Response::new(convert::job(&job.map_err(status)?)))
    }
}
