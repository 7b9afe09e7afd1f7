//! The jobs API (`/jobs`), with a workspace token as credential.

use reqwest::Method;
use roost_wire::{
    ClaimJobs, Claimed, CompleteJob, CreateJob, FailJob, JobAccepted, JobHeartbeat,
    JobHeartbeatReply, JobPage, JobReply, ListJobs,
};

use crate::{json, Client, Error};

impl Client {
    /// Enqueues a job; with `req.idempotency_key`, a repeat answers the first job.
    pub async fn create_job(&self, token: &str, req: &CreateJob) -> Result<JobAccepted, Error> {
        let mut r = json(self.request(Method::POST, &["jobs"], Some(token)), req)?;
        if let Some(k) = &req.idempotency_key {
            r = r.header("idempotency-key", k);
        }
        self.call(r).await
    }

    /// One job.
    pub async fn get_job(&self, token: &str, id: &str) -> Result<JobReply, Error> {
        self.call(self.request(Method::GET, &["jobs", id], Some(token)))
            .await
    }

    /// A page of the workspace's jobs.
    pub async fn list_jobs(&self, token: &str, req: &ListJobs) -> Result<JobPage, Error> {
        self.call(self.request(Method::GET, &["jobs"], Some(token)).query(req))
            .await
    }

    /// Cancels a job: at once when queued, through its worker's next heartbeat when running.
    pub async fn cancel_job(&self, token: &str, id: &str) -> Result<JobReply, Error> {
        self.call(self.request(Method::DELETE, &["jobs", id], Some(token)))
            .await
    }

    /// The job once it is over, or as it is after `timeout_secs` (the server's default and
    /// cap apply).
    pub async fn wait_job(
        &self,
        token: &str,
        id: &str,
        timeout_secs: Option<u64>,
    ) -> Result<JobReply, Error> {
        let r = self.request(Method::GET, &["jobs", id, "wait"], Some(token));
        self.call(r.query(&[("timeout", timeout_secs)])).await
    }

    /// Takes due jobs of the given types, each with a lease and its fencing token.
    pub async fn claim_jobs(&self, token: &str, req: &ClaimJobs) -> Result<Claimed, Error> {
        let r = self.request(Method::POST, &["jobs", "claim"], Some(token));
        self.call(json(r, req)?).await
    }

    /// Extends a claimed job's lease and reports progress.
    pub async fn heartbeat_job(
        &self,
        token: &str,
        id: &str,
        req: &JobHeartbeat,
    ) -> Result<JobHeartbeatReply, Error> {
        let r = self.request(Method::POST, &["jobs", id, "heartbeat"], Some(token));
        self.call(json(r, req)?).await
    }

    /// Completes a claimed job with its result.
    pub async fn complete_job(
        &self,
        token: &str,
        id: &str,
        req: &CompleteJob,
    ) -> Result<JobReply, Error> {
        let r = self.request(Method::POST, &["jobs", id, "complete"], Some(token));
        self.call(json(r, req)?).await
    }

    /// Fails an attempt of a claimed job (retried when `retryable` and retries remain).
    pub async fn fail_job(&self, token: &str, id: &str, req: &FailJob) -> Result<JobReply, Error> {
        let r = self.request(Method::POST, &["jobs", id, "fail"], Some(token));
        self.call(json(r, req)?).await
    }
}
