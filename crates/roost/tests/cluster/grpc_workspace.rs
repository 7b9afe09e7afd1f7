//! Jobs and work queues over the client gRPC API: workspace tokens, the same checks and error
//! codes as over HTTP, a job's life with its event stream, and tasks dequeued, stolen and
//! finished with fencing tokens.

use std::time::Duration;

use futures::StreamExt;
use roost_grpc::pb;
use roost_grpc::pb::jobs_client::JobsClient;
use roost_grpc::pb::work_queues_client::WorkQueuesClient;
use tonic::Code;

use crate::harness::Cluster;
use crate::jobs::{token, SECRET};

fn authed<T>(msg: T, tok: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {tok}").parse()?);
    Ok(req)
}

/// Asserts a refusal's gRPC code and the API code its message starts with.
fn refused<T: std::fmt::Debug>(
    r: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    api: &str,
) {
    let s = r.expect_err("the call must be refused");
    assert_eq!(s.code(), code, "{s:?}");
    assert!(s.message().starts_with(&format!("{api}: ")), "{s:?}");
}

#[tokio::test]
async fn a_job_lives_its_life_over_grpc() -> anyhow::Result<()> {
    let c = Cluster::start_with(3, 2, SECRET, "").await?;
    let (tok, other) = (token(&c, "ws-a")?, token(&c, "ws-b")?);
    let mut client = JobsClient::connect(c.node(2).grpc.clone()).await?;
    let job = |t: &str| pb::CreateJobRequest {
        r#type: t.into(),
        payload: br#"{"to":"a@b.c"}"#.to_vec(),
        ..Default::default()
    };

    // No token, a forged token, bad fields, a payload that is not JSON: refused, nothing made.
    refused(
        client.create_job(tonic::Request::new(job("email"))).await,
        Code::Unauthenticated,
        "invalid_token",
    );
    refused(
        client.create_job(authed(job("email"), "not.a.jwt")?).await,
        Code::Unauthenticated,
        "invalid_token",
    );
    let too_many = pb::CreateJobRequest {
        max_retries: Some(11),
        ..job("email")
    };
    refused(
        client.create_job(authed(too_many, &tok)?).await,
        Code::InvalidArgument,
        "invalid_field",
    );
    let far = pb::CreateJobRequest {
        run_at_ms: Some(u64::MAX),
        ..job("email")
    };
    refused(
        client.create_job(authed(far, &tok)?).await,
        Code::InvalidArgument,
        "invalid_field",
    );
    let huge = pb::CreateJobRequest {
        payload: format!("\"{}\"", "x".repeat(300 * 1024)).into_bytes(),
        ..job("email")
    };
    refused(
        client.create_job(authed(huge, &tok)?).await,
        Code::InvalidArgument,
        "payload_too_large",
    );
    let not_json = pb::CreateJobRequest {
        payload: b"{nope".to_vec(),
        ..job("email")
    };
    refused(
        client.create_job(authed(not_json, &tok)?).await,
        Code::InvalidArgument,
        "invalid_json",
    );
    let all = pb::ListJobsRequest::default();
    let listed = client
        .list_jobs(authed(all.clone(), &tok)?)
        .await?
        .into_inner();
    assert!(listed.jobs.is_empty(), "{listed:?}");

    // Enqueue twice with one idempotency key: one job.
    let keyed = pb::CreateJobRequest {
        idempotency_key: "order-1".into(),
        ..job("email")
    };
    let first = client
        .create_job(authed(keyed.clone(), &tok)?)
        .await?
        .into_inner();
    let again = client.create_job(authed(keyed, &tok)?).await?.into_inner();
    assert_eq!(
        (first.id.as_str(), first.status.as_str()),
        (again.id.as_str(), "pending")
    );
    let watch = pb::WatchJobRequest {
        job_id: first.id.clone(),
        after_seq: 0,
    };
    let mut events = JobsClient::connect(c.node(3).grpc.clone())
        .await?
        .watch_job(authed(watch, &tok)?)
        .await?
        .into_inner();

    // A worker on another node claims it, reports progress, and completes it; a wrong token
    // is fenced off.
    let mut worker = JobsClient::connect(c.node(1).grpc.clone()).await?;
    let claim = pb::ClaimJobsRequest {
        worker_id: "w1".into(),
        types: vec!["email".into()],
        wait_secs: 5,
        ..Default::default()
    };
    let claimed = worker
        .claim_jobs(authed(claim, &tok)?)
        .await?
        .into_inner()
        .jobs;
    assert_eq!(claimed.len(), 1);
    let lease = &claimed[0];
    assert_eq!(
        (lease.id.as_str(), lease.status.as_str()),
        (first.id.as_str(), "running")
    );
    assert_eq!(lease.token.len(), 16);
    let beat = pb::HeartbeatRequest {
        job_id: first.id.clone(),
        token: lease.token.clone(),
        progress: Some(50),
    };
    let beat = worker.heartbeat(authed(beat, &tok)?).await?.into_inner();
    assert!(!beat.cancel_requested && beat.lease_expires_at_ms > 0);
    let forged = pb::CompleteJobRequest {
        job_id: first.id.clone(),
        token: "00000000000000aa".into(),
        result: br#"{"sent":false}"#.to_vec(),
    };
    refused(
        worker.complete_job(authed(forged, &tok)?).await,
        Code::FailedPrecondition,
        "stale_token",
    );
    let done = pb::CompleteJobRequest {
        job_id: first.id.clone(),
        token: lease.token.clone(),
        result: br#"{"sent":true}"#.to_vec(),
    };
    let done = worker.complete_job(authed(done, &tok)?).await?.into_inner();
    assert_eq!(
        (done.status.as_str(), done.result.as_slice()),
        ("completed", &br#"{"sent":true}"#[..])
    );
    let wait = pb::WaitJobRequest {
        job_id: first.id.clone(),
        wait_secs: Some(5),
    };
    let waited = client.wait_job(authed(wait, &tok)?).await?.into_inner();
    assert_eq!(
        (waited.status.as_str(), waited.progress),
        ("completed", 100)
    );

    // The event stream saw every step, in order, and ends with the job.
    let mut kinds = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(15), events.next()).await? {
        kinds.push(e?.kind);
    }
    assert_eq!(kinds, ["enqueued", "claimed", "progress", "completed"]);

    // Another workspace sees nothing; filters work and bad ones are refused.
    let get = pb::JobRef {
        job_id: first.id.clone(),
    };
    refused(
        client.get_job(authed(get, &other)?).await,
        Code::NotFound,
        "job_not_found",
    );
    let completed = pb::ListJobsRequest {
        status: "completed".into(),
        ..all.clone()
    };
    let listed = client
        .list_jobs(authed(completed, &tok)?)
        .await?
        .into_inner();
    assert_eq!(listed.jobs.len(), 1);
    let bogus = pb::ListJobsRequest {
        status: "bogus".into(),
        ..all
    };
    refused(
        client.list_jobs(authed(bogus, &tok)?).await,
        Code::InvalidArgument,
        "invalid_field",
    );

    // Cancel a pending job, retry it, then fail it for good.
    let second = client
        .create_job(authed(job("sms"), &tok)?)
        .await?
        .into_inner();
    let id = || pb::JobRef {
        job_id: second.id.clone(),
    };
    let cancelled = client.cancel_job(authed(id(), &tok)?).await?.into_inner();
    assert_eq!(cancelled.status, "cancelled");
    refused(
        client.cancel_job(authed(id(), &tok)?).await,
        Code::FailedPrecondition,
        "job_state_conflict",
    );
    assert_eq!(
        client
            .retry_job(authed(id(), &tok)?)
            .await?
            .into_inner()
            .status,
        "pending"
    );
    let claim = pb::ClaimJobsRequest {
        worker_id: "w2".into(),
        ..Default::default()
    };
    let lease = worker
        .claim_jobs(authed(claim, &tok)?)
        .await?
        .into_inner()
        .jobs;
    assert_eq!(lease.len(), 1);
    let fail = pb::FailJobRequest {
        job_id: second.id.clone(),
        token: lease[0].token.clone(),
        error: "no route".into(),
        retryable: Some(false),
    };
    let failed = worker.fail_job(authed(fail, &tok)?).await?.into_inner();
    assert_eq!(
        (failed.status.as_str(), failed.error.as_str()),
        ("failed", "no route")
    );
    Ok(())
}

#[tokio::test]
async fn work_queues_hand_out_steal_and_fence_tasks_over_grpc() -> anyhow::Result<()> {
    let c = Cluster::start_with(3, 2, SECRET, "").await?;
    let (tok, other) = (token(&c, "ws-a")?, token(&c, "ws-b")?);
    let mut client = WorkQueuesClient::connect(c.node(3).grpc.clone()).await?;
    let queue = |name: &str| pb::CreateWorkQueueRequest {
        name: name.into(),
        team_id: "eng".into(),
    };
    refused(
        client
            .create_work_queue(authed(pb::CreateWorkQueueRequest::default(), &tok)?)
            .await,
        Code::InvalidArgument,
        "invalid_field",
    );
    let a = client
        .create_work_queue(authed(queue("a"), &tok)?)
        .await?
        .into_inner();
    let b = client
        .create_work_queue(authed(queue("b"), &tok)?)
        .await?
        .into_inner();
    let task = |q: &str, name: &str, priority: i64| pb::AddTaskRequest {
        work_queue_id: q.into(),
        name: name.into(),
        priority: Some(priority),
        payload: br#"{"pr":42}"#.to_vec(),
        ..Default::default()
    };
    refused(
        client.add_task(authed(task(&a.id, "x", 6), &tok)?).await,
        Code::InvalidArgument,
        "invalid_field",
    );
    refused(
        client.add_task(authed(task(&a.id, "x", 3), &other)?).await,
        Code::NotFound,
        "not_found",
    );
    let keyed = pb::AddTaskRequest {
        idempotency_key: "t-1".into(),
        ..task(&a.id, "review", 1)
    };
    let low = client
        .add_task(authed(keyed.clone(), &tok)?)
        .await?
        .into_inner();
    assert_eq!(
        client.add_task(authed(keyed, &tok)?).await?.into_inner().id,
        low.id
    );
    let high = client
        .add_task(authed(task(&a.id, "hotfix", 5), &tok)?)
        .await?
        .into_inner();
    let stealable = client
        .add_task(authed(task(&b.id, "docs", 2), &tok)?)
        .await?
        .into_inner();

    // The most urgent first, each with a token; then nothing.
    let take = |q: &str, agent: &str| pb::TakeRequest {
        work_queue_id: q.into(),
        agent_id: agent.into(),
    };
    let first = client
        .dequeue(authed(take(&a.id, "ann"), &tok)?)
        .await?
        .into_inner()
        .task;
    let first = first.ok_or_else(|| anyhow::anyhow!("a task"))?;
    assert_eq!(
        (first.id.as_str(), first.token.len()),
        (high.id.as_str(), 16)
    );
    let second = client
        .dequeue(authed(take(&a.id, "bob"), &tok)?)
        .await?
        .into_inner()
        .task;
    assert_eq!(second.map(|t| t.id), Some(low.id.clone()));
    assert!(client
        .dequeue(authed(take(&a.id, "cy"), &tok)?)
        .await?
        .into_inner()
        .task
        .is_none());
    // Stealing takes from the team's other queue.
    let stolen = client
        .steal(authed(take(&a.id, "cy"), &tok)?)
        .await?
        .into_inner()
        .task;
    let stolen = stolen.ok_or_else(|| anyhow::anyhow!("a stolen task"))?;
    assert_eq!(
        (stolen.id.as_str(), stolen.agent_id.as_str()),
        (stealable.id.as_str(), "cy")
    );

    // Fencing: only the current token heartbeats or finishes.
    let finish = |id: &str, token: &str| pb::FinishTaskRequest {
        task_id: id.into(),
        token: Some(token.into()),
        result: br#"{"merged":true}"#.to_vec(),
        ..Default::default()
    };
    refused(
        client
            .complete_task(authed(finish(&first.id, ""), &tok)?)
            .await,
        Code::InvalidArgument,
        "invalid_field",
    );
    refused(
        client
            .complete_task(authed(finish(&first.id, "00000000000000aa"), &tok)?)
            .await,
        Code::FailedPrecondition,
        "stale_token",
    );
    let beat = pb::TaskHeartbeatRequest {
        task_id: first.id.clone(),
        token: first.token.clone(),
    };
    assert_eq!(
        client
            .task_heartbeat(authed(beat, &tok)?)
            .await?
            .into_inner()
            .status,
        "assigned"
    );
    let done = client
        .complete_task(authed(finish(&first.id, &first.token), &tok)?)
        .await?
        .into_inner();
    assert_eq!(
        (done.status.as_str(), done.result.as_slice()),
        ("completed", &br#"{"merged":true}"#[..])
    );
    let failed = pb::FinishTaskRequest {
        error: "flaky".into(),
        ..finish(&stolen.id, &stolen.token)
    };
    let failed = client.fail_task(authed(failed, &tok)?).await?.into_inner();
    assert_eq!(
        (failed.status.as_str(), failed.error.as_str()),
        ("failed", "flaky")
    );

    // Listing and counts; deleting the queue makes it unknown.
    let completed = pb::ListTasksRequest {
        work_queue_id: a.id.clone(),
        status: "completed".into(),
    };
    let listed = client
        .list_tasks(authed(completed, &tok)?)
        .await?
        .into_inner()
        .tasks;
    assert_eq!(
        listed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [high.id.as_str()]
    );
    let all = client
        .list_work_queues(authed(pb::ListWorkQueuesRequest {}, &tok)?)
        .await?;
    assert_eq!(all.into_inner().work_queues.len(), 2);
    let a_ref = || pb::WorkQueueRef {
        work_queue_id: a.id.clone(),
    };
    let got = client
        .get_work_queue(authed(a_ref(), &tok)?)
        .await?
        .into_inner();
    assert_eq!(
        (got.counts.get("completed"), got.counts.get("assigned")),
        (Some(&1), Some(&1))
    );
    assert!(
        client
            .delete_work_queue(authed(a_ref(), &tok)?)
            .await?
            .into_inner()
            .deleted
    );
    refused(
        client.get_work_queue(authed(a_ref(), &tok)?).await,
        Code::NotFound,
        "not_found",
    );
    Ok(())
}
