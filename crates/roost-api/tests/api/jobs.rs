//! Jobs: every operation and its refusals.

use std::time::Duration;

use roost_api::{ClaimJobs, CreateJob, Doc, ErrorCode, ListJobs, Time};
use roost_state::JobStatus;

use crate::harness::{caller, env, refused, token};

fn job(job_type: &str) -> CreateJob {
    CreateJob {
        job_type: job_type.into(),
        ..CreateJob::default()
    }
}

fn doc(text: &str) -> Option<Doc> {
    serde_json::from_str(text).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_and_workspaces_are_apart() -> anyhow::Result<()> {
    let env = env().await?;
    refused(env.api.caller(None), ErrorCode::InvalidToken);
    refused(env.api.caller(Some("not-a-jwt")), ErrorCode::InvalidToken);
    let (a, b) = (caller(&env, "a", &[])?, caller(&env, "b", &[])?);
    assert_eq!(env.api.caller(Some(&token("a", &[])?))?.workspace, "a");
    let j = env.api.create_job(&a, job("send")).await?;
    refused(env.api.get_job(&b, &j.id).await, ErrorCode::JobNotFound);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_created_listed_claimed_heartbeated_and_completed() -> anyhow::Result<()> {
    let env = env().await?;
    let c = caller(&env, "w", &[])?;
    // Ids and fencing tokens come from the source, so they are known in advance.
    let keyed = CreateJob {
        payload: doc(r#"{"n": 1e400}"#),
        idempotency_key: Some("k-1".into()),
        ..job("send")
    };
    let created = env.api.create_job(&c, keyed.clone()).await?;
    assert!(created.id.ends_with("00000000001000"), "{}", created.id);
    assert_eq!(created.spec.payload, r#"{"n": 1e400}"#);
    let again = env.api.create_job(&c, keyed).await?;
    assert_eq!(
        again.id, created.id,
        "an idempotent repeat answers the first job"
    );

    let page = env.api.list_jobs(&c, ListJobs::default()).await?;
    assert_eq!(page.jobs.len(), 1);
    let pending = ListJobs {
        status: Some("pending".into()),
        ..ListJobs::default()
    };
    assert_eq!(env.api.list_jobs(&c, pending).await?.jobs.len(), 1);

    // Claims ask whether a job is due by the layer's clock, which stands still here.
    env.source.advance(60_000);
    let claim = ClaimJobs {
        worker_id: "w1".into(),
        ..ClaimJobs::default()
    };
    let jobs = env.api.claim_jobs(&c, None, claim.clone()).await?;
    assert_eq!(jobs.len(), 1);
    let lease = jobs[0].lease.clone().expect("leased");
    let token = format!("{:016x}", lease.token);
    assert!(env.api.claim_jobs(&c, None, claim).await?.is_empty());

    let beat = env
        .api
        .heartbeat_job(&c, &created.id, &token, Some(50))
        .await?;
    assert!(!beat.cancel_requested);
    refused(
        env.api
            .heartbeat_job(&c, &created.id, "0000000000000001", None)
            .await,
        ErrorCode::StaleToken,
    );
    let done = env
        .api
        .complete_job(&c, &created.id, &token, doc("[1]"))
        .await?;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.result.as_deref(), Some("[1]"));
    // A retried complete (same token) is answered with the job; another token is stale.
    let retried = env
        .api
        .complete_job(&c, &created.id, &token, doc("[1]"))
        .await?;
    assert_eq!(retried.status, JobStatus::Completed);
    refused(
        env.api
            .complete_job(&c, &created.id, "0000000000000002", None)
            .await,
        ErrorCode::StaleToken,
    );
    // The finished job is what a wait answers at once, and its events end the stream.
    let waited = env.api.wait_job(&c, None, &created.id, Some(5)).await?;
    assert_eq!(waited.status, JobStatus::Completed);
    let mut events = env.api.follow_job(&c, None, &created.id, 0).await?;
    let mut kinds = Vec::new();
    while let Some(item) = events.recv().await {
        kinds.push(item?.event.kind);
    }
    assert_eq!(kinds, ["enqueued", "claimed", "progress", "completed"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_fail_and_retry_follow_the_job_states() -> anyhow::Result<()> {
    let env = env().await?;
    let c = caller(&env, "w", &[])?;
    let j = env.api.create_job(&c, job("a")).await?;
    assert_eq!(
        env.api.cancel_job(&c, &j.id).await?.status,
        JobStatus::Cancelled
    );
    refused(
        env.api.cancel_job(&c, &j.id).await,
        ErrorCode::JobStateConflict,
    );
    assert_eq!(
        env.api.retry_job(&c, &j.id).await?.status,
        JobStatus::Pending
    );

    let claim = ClaimJobs {
        worker_id: "w1".into(),
        ..ClaimJobs::default()
    };
    assert!(
        env.api
            .claim_jobs(&c, None, claim.clone())
            .await?
            .is_empty(),
        "not due yet by the layer's clock"
    );
    env.source.advance(60_000);
    let leased = env.api.claim_jobs(&c, None, claim).await?;
    let token = format!("{:016x}", leased[0].lease.as_ref().expect("lease").token);
    let failed = env
        .api
        .fail_job(&c, &j.id, &token, "boom".into(), false)
        .await?;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("boom"));
    refused(
        env.api.get_job(&c, "job_nope").await,
        ErrorCode::JobNotFound,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_its_field_and_changes_nothing() -> anyhow::Result<()> {
    let env = env().await?;
    let c = caller(&env, "w", &[])?;
    let field = |e: roost_api::Error| e.message.split(':').next().map(str::to_owned);
    let cases = [
        (job(" "), "type"),
        (
            CreateJob {
                max_retries: Some(11),
                ..job("t")
            },
            "maxRetries",
        ),
        (
            CreateJob {
                timeout_seconds: Some(9),
                ..job("t")
            },
            "timeoutSeconds",
        ),
        (
            CreateJob {
                priority: Some(-1001),
                ..job("t")
            },
            "priority",
        ),
        (
            CreateJob {
                webhook: Some("ftp://x".into()),
                ..job("t")
            },
            "webhook",
        ),
        (
            CreateJob {
                run_at: Some(Time::Text("soon".into())),
                ..job("t")
            },
            "runAt",
        ),
    ];
    for (req, name) in cases {
        let e = refused(env.api.create_job(&c, req).await, ErrorCode::InvalidField);
        assert_eq!(field(e).as_deref(), Some(name));
    }
    refused(
        env.api
            .create_job(
                &c,
                CreateJob {
                    idempotency_key: Some("has space".into()),
                    ..job("t")
                },
            )
            .await,
        ErrorCode::InvalidIdempotencyKey,
    );
    let list = |status: Option<&str>, limit: Option<u32>| ListJobs {
        status: status.map(str::to_owned),
        limit,
        ..ListJobs::default()
    };
    refused(
        env.api.list_jobs(&c, list(Some("done"), None)).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.list_jobs(&c, list(None, Some(201))).await,
        ErrorCode::InvalidLimit,
    );
    refused(
        env.api.list_jobs(&c, list(None, Some(0))).await,
        ErrorCode::InvalidLimit,
    );
    let claim = |worker: &str, types: Vec<String>, limit, wait| ClaimJobs {
        worker_id: worker.into(),
        types,
        limit,
        wait,
    };
    for bad in [
        claim("", vec![], None, None),
        claim("w", vec![String::new()], None, None),
        claim("w", vec!["t".into(); 101], None, None),
        claim("w", vec![], Some(0), None),
        claim("w", vec![], None, Some(31)),
    ] {
        refused(
            env.api.claim_jobs(&c, None, bad).await,
            ErrorCode::InvalidField,
        );
    }
    refused(
        env.api.wait_job(&c, None, "job_x", Some(301)).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.heartbeat_job(&c, "job_x", "zz", None).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api
            .heartbeat_job(&c, "job_x", "0000000000000001", Some(101))
            .await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api
            .fail_job(&c, "job_x", "0000000000000001", "e".repeat(4097), true)
            .await,
        ErrorCode::InvalidField,
    );
    assert!(env
        .api
        .list_jobs(&c, ListJobs::default())
        .await?
        .jobs
        .is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_end_on_change_and_are_capped_per_address() -> anyhow::Result<()> {
    let env = env().await?;
    let c = caller(&env, "w", &[])?;
    let addr = Some("10.1.2.3".parse()?);
    let j = env.api.create_job(&c, job("a")).await?;
    // The node allows two waiters per address (the harness's config).
    let (api, c2, id) = (env.api.clone(), c.clone(), j.id.clone());
    let first = tokio::spawn(async move { api.wait_job(&c2, addr, &id, Some(30)).await });
    let (api, c2) = (env.api.clone(), c.clone());
    let claimer = tokio::spawn(async move {
        let claim = ClaimJobs {
            worker_id: "w1".into(),
            types: vec!["other".into()],
            wait: Some(30),
            ..ClaimJobs::default()
        };
        api.claim_jobs(&c2, addr, claim).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    refused(
        env.api.wait_job(&c, addr, &j.id, Some(1)).await,
        ErrorCode::TooManyWaiters,
    );
    env.api.cancel_job(&c, &j.id).await?;
    let waited = tokio::time::timeout(Duration::from_secs(5), first).await???;
    assert_eq!(
        waited.status,
        JobStatus::Cancelled,
        "the wait ends at the change"
    );
    claimer.abort();
    Ok(())
}
