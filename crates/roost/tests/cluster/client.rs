//! `roost-client` against a real node: every operation with its typed reply, each reply read
//! back into the very JSON the server sent (what the MCP server hands on), the server's
//! refusals as `Error::Api`, and bulk publishing over the gRPC stream.

use anyhow::Context;
use reqwest::Method;
use roost_client::wire::{
    Ack, AddTask, BindForm, ClaimJobs, CompleteJob, CreateJob, CreateQueue, CreateWorkQueue, Doc,
    FailJob, FinishTask, FormBound, JobHeartbeat, ListJobs, Nack, Nacked, Pull, Replay, Replayed,
};
use roost_client::{publish_stream, Client, Error, Publish, StreamPublish};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::harness::Cluster;
use crate::jobs::{token, SECRET};

/// The body of `method path` on node 1 with `bearer`, as the server wrote it.
async fn raw(
    c: &Cluster,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<&str>,
) -> anyhow::Result<String> {
    let mut req = c
        .http
        .request(method, format!("{}{path}", c.url(1)))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let r = req.send().await?;
    anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
    Ok(r.text().await?)
}

/// `json` read into `T` and written again: the same bytes.
fn same<T: DeserializeOwned + Serialize>(json: &str) -> anyhow::Result<T> {
    let typed: T = serde_json::from_str(json).with_context(|| format!("reading {json}"))?;
    assert_eq!(serde_json::to_string(&typed)?, json);
    Ok(typed)
}

/// `typed` written as JSON is what the server answers to `method path` now.
async fn is_served(
    c: &Cluster,
    typed: &impl Serialize,
    path: &str,
    bearer: &str,
) -> anyhow::Result<()> {
    let served = raw(c, Method::GET, path, bearer, None).await?;
    assert_eq!(serde_json::to_string(typed)?, served, "{path}");
    Ok(())
}

fn doc(text: &str) -> anyhow::Result<Doc> {
    Ok(Doc::parse(text)?)
}

#[tokio::test]
async fn the_client_speaks_the_queue_api_and_its_replies_are_the_servers_json() -> anyhow::Result<()>
{
    let c = Cluster::start(1, 2, "").await?;
    let client = Client::new(c.url(1))?;
    let create = CreateQueue {
        consumers: vec!["c".into()],
        max_deliveries: Some(2),
        ..CreateQueue::default()
    };
    let created = client.create_queue(&create).await?;
    let (q, key) = (
        created.frame.queue_id.clone(),
        created.queue_api_key.clone(),
    );
    same::<roost_client::wire::QueueCreated>(
        &raw(&c, Method::POST, "/q/create", "", Some("{}")).await?,
    )?;

    let payload = doc(r#"{"n": 1e400, "s": [1.50]}"#)?;
    let Publish::Stored { reply, replayed } =
        client.publish(&q, &key, &payload, Some("k-1")).await?
    else {
        anyhow::bail!("held");
    };
    assert_eq!((reply.seq, replayed), (1, false));
    let Publish::Stored {
        reply: again,
        replayed,
    } = client.publish(&q, &key, &payload, Some("k-1")).await?
    else {
        anyhow::bail!("held");
    };
    assert_eq!((again.seq, replayed), (1, true), "an idempotent repeat");
    let path = format!("/q/{q}/publish");
    same::<roost_client::wire::Published>(&raw(&c, Method::POST, &path, &key, Some("[2]")).await?)?;

    let pull = Pull {
        consumer_id: "c".into(),
        cursor: Some(0),
        ..Pull::default()
    };
    let pulled = client.pull(&q, &key, &pull).await?;
    assert_eq!(
        pulled.messages[0].payload.get(),
        r#"{"n": 1e400, "s": [1.50]}"#
    );
    is_served(
        &c,
        &pulled,
        &format!("/q/{q}/pull?consumer_id=c&cursor=0"),
        &key,
    )
    .await?;
    let info = client.get_queue(&q, &key).await?;
    assert_eq!(info.head_seq, 2);
    is_served(&c, &info, &format!("/q/{q}"), &key).await?;

    let ack = Ack {
        cursor: 1,
        consumer_id: "c".into(),
    };
    assert_eq!(client.ack(&q, &key, &ack).await?.cursor, 1);
    let body = serde_json::to_string(&ack)?;
    same::<roost_client::wire::Acked>(
        &raw(&c, Method::POST, &format!("/q/{q}/ack"), &key, Some(&body)).await?,
    )?;
    let nack = Nack {
        consumer_id: "c".into(),
        seq: 2,
        error: "boom".into(),
        dead_letter: true,
    };
    assert!(client.nack(&q, &key, &nack).await?.dead_lettered);
    let dead = client.dead_letters(&q, &key, None, None).await?;
    assert_eq!(dead.messages[0].head.seq, 2);
    is_served(&c, &dead, &format!("/q/{q}/dlq"), &key).await?;
    let replayed = client.replay(&q, &key, &dead.messages[0].head.id).await?;
    assert_eq!(replayed.replayed.head.source, "dlq-replay");
    // The replayed message fails for good too; raw replies read back into the same bytes.
    let fail_again = Nack {
        seq: replayed.replayed.head.seq,
        ..nack
    };
    let path = format!("/q/{q}/nack");
    let body = serde_json::to_string(&fail_again)?;
    let counted: Nacked = same(&raw(&c, Method::POST, &path, &key, Some(&body)).await?)?;
    assert_eq!((counted.nack_count, counted.dead_lettered), (1, true));
    let path = format!("/q/{q}/dlq/replay");
    let body = serde_json::to_string(&Replay {
        dlq_msg_id: replayed.replayed.head.id.clone(),
    })?;
    let again: Replayed = same(&raw(&c, Method::POST, &path, &key, Some(&body)).await?)?;
    assert_eq!(
        again.replayed.head.replayed_from,
        Some(replayed.replayed.head.id)
    );

    // Binding a form to the queue (the form's key as Bearer).
    let form: serde_json::Value = c
        .http
        .post(format!("{}/new", c.url(1)))
        .json(&serde_json::json!({"name": "contact"}))
        .send()
        .await?
        .json()
        .await?;
    let (form_id, form_key) = (
        form["form_id"].as_str().context("form_id")?,
        form["form_api_key"].as_str().context("form key")?,
    );
    let bind = BindForm {
        queue_id: q.clone(),
        queue_api_key: Some(key.clone()),
    };
    let bound = client.bind_form(form_id, form_key, &bind).await?;
    assert_eq!((bound.ok, bound.queue_id.as_str()), (true, q.as_str()));
    let path = format!("/api/forms/{form_id}");
    let body = serde_json::to_string(&bind)?;
    same::<FormBound>(&raw(&c, Method::PUT, &path, form_key, Some(&body)).await?)?;

    // Refusals carry the server's status and code; a node that is not there is transport.
    match client.get_queue(&q, "qk_wrong").await {
        Err(Error::Api { status: 401, body }) => {
            assert_eq!(body.code, "invalid_api_key");
            assert!(!body.help.is_empty());
        }
        other => anyhow::bail!("expected invalid_api_key, got {other:?}"),
    }
    let gone = Client::new("http://127.0.0.1:9")?;
    assert!(matches!(
        gone.get_queue(&q, &key).await,
        Err(Error::Transport(_))
    ));

    // Bulk publishing over the gRPC stream: an answer per publish in the order sent (stored in
    // whatever order the stream's publishes were applied), a refusal on its own.
    let stream = vec![
        StreamPublish {
            payload: doc(r#"{"bulk": 1}"#)?,
            idempotency_key: None,
        },
        StreamPublish {
            payload: doc(r#"{"other": true}"#)?,
            idempotency_key: Some("k-1".into()),
        },
        StreamPublish {
            payload: doc(r#"{"bulk": 3}"#)?,
            idempotency_key: None,
        },
    ];
    let answers = publish_stream(&c.node(1).grpc, &q, &key, stream).await?;
    let stored: Vec<_> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(stored.len(), 2, "{answers:?}");
    let refusal = answers[1]
        .as_ref()
        .err()
        .context("a reused key is refused")?;
    assert_eq!(refusal.code, "idempotency_key_reused");
    let tail = Pull {
        consumer_id: "c".into(),
        cursor: Some(again.replayed.head.seq),
        ..Pull::default()
    };
    let bulk = client.pull(&q, &key, &tail).await?;
    let mut payloads: Vec<_> = bulk
        .messages
        .iter()
        .map(|m| (m.head.seq, m.payload.get()))
        .collect();
    payloads.sort_unstable();
    let mut expected = vec![
        (stored[0].seq, r#"{"bulk": 1}"#),
        (stored[1].seq, r#"{"bulk": 3}"#),
    ];
    expected.sort_unstable();
    assert_eq!(payloads, expected);
    Ok(())
}

#[tokio::test]
async fn the_client_runs_jobs_and_work_queues_with_typed_replies() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "client")?;
    let client = Client::new(c.url(1))?;

    let create = CreateJob {
        job_type: "render".into(),
        payload: Some(doc(r#"{"page": 1.50}"#)?),
        max_retries: Some(0),
        idempotency_key: Some("j-1".into()),
        ..CreateJob::default()
    };
    let accepted = client.create_job(&tok, &create).await?;
    let id = accepted.id.clone();
    assert_eq!(client.create_job(&tok, &create).await?.id, id, "idempotent");
    let body = serde_json::to_string(&create)?;
    same::<roost_client::wire::JobAccepted>(
        &raw(&c, Method::POST, "/jobs", &tok, Some(&body)).await?,
    )?;
    let got = client.get_job(&tok, &id).await?;
    assert_eq!(got.job.payload.get(), r#"{"page": 1.50}"#);
    is_served(&c, &got, &format!("/jobs/{id}"), &tok).await?;
    let list = ListJobs {
        job_type: Some("render".into()),
        ..ListJobs::default()
    };
    let page = client.list_jobs(&tok, &list).await?;
    assert_eq!(page.jobs.len(), 2);
    is_served(&c, &page, "/jobs?type=render", &tok).await?;

    let claim = ClaimJobs {
        worker_id: "w1".into(),
        types: vec!["render".into()],
        limit: Some(2),
        wait: Some(5),
    };
    let claimed = client.claim_jobs(&tok, &claim).await?;
    assert_eq!(claimed.jobs.len(), 2);
    let lease = |i: usize| claimed.jobs[i].token.clone().context("token");
    let (first, second) = (&claimed.jobs[0].id, &claimed.jobs[1].id);
    let beat = JobHeartbeat {
        token: lease(0)?,
        progress: Some(40),
    };
    assert!(
        !client
            .heartbeat_job(&tok, first, &beat)
            .await?
            .cancel_requested
    );
    let done = CompleteJob {
        token: lease(0)?,
        result: Some(doc(r#"{"pages": [1.0]}"#)?),
    };
    client.complete_job(&tok, first, &done).await?;
    let waited = client.wait_job(&tok, first, Some(5)).await?;
    assert_eq!(waited.job.status, "completed");
    assert_eq!(
        waited.job.result.as_ref().map(|r| r.get()),
        Some(r#"{"pages": [1.0]}"#)
    );
    let fail = FailJob {
        token: lease(1)?,
        error: "broken".into(),
        retryable: false,
    };
    assert_eq!(
        client.fail_job(&tok, second, &fail).await?.job.status,
        "failed"
    );
    let idle = CreateJob {
        job_type: "idle".into(),
        ..CreateJob::default()
    };
    let idle = client.create_job(&tok, &idle).await?.id;
    assert_eq!(
        client.cancel_job(&tok, &idle).await?.job.status,
        "cancelled"
    );
    match client.get_job("not-a-token", &id).await {
        Err(e) => assert_eq!(e.code(), Some("invalid_token")),
        Ok(j) => anyhow::bail!("a bad token read {j:?}"),
    }

    let wq = CreateWorkQueue {
        name: "inbox".into(),
        team_id: "red".into(),
    };
    let wq = client.create_work_queue(&tok, &wq).await?.id;
    let add = |name: &str, priority| AddTask {
        name: name.into(),
        priority: Some(priority),
        payload: Doc::parse(r#"{"p": 1.50}"#).ok(),
        ..AddTask::default()
    };
    client.add_task(&tok, &wq, &add("low", 1)).await?;
    let high = client.add_task(&tok, &wq, &add("high", 5)).await?.task;
    let queues = client.list_work_queues(&tok).await?;
    assert_eq!(queues.work_queues[0].counts.get("pending"), Some(&2));
    is_served(&c, &queues, "/work-queues", &tok).await?;
    let tasks = client.list_tasks(&tok, &wq, Some("pending")).await?;
    assert_eq!(tasks.tasks.len(), 2);
    is_served(
        &c,
        &tasks,
        &format!("/work-queues/{wq}/tasks?status=pending"),
        &tok,
    )
    .await?;

    let taken = client
        .dequeue(&tok, &wq, "a1")
        .await?
        .context("a task")?
        .task;
    assert_eq!(taken.id, high.id, "the most urgent first");
    // Stealing takes from the team's other queues.
    let other = CreateWorkQueue {
        name: "overflow".into(),
        team_id: "red".into(),
    };
    let other = client.create_work_queue(&tok, &other).await?.id;
    let stolen = client.steal(&tok, &other, "a2").await?.context("a task")?;
    assert_eq!(stolen.task.name, "low");
    let finish = FinishTask {
        token: taken.token.clone(),
        result: Some(doc("[1.50]")?),
        error: None,
    };
    let completed = client.complete_task(&tok, &taken.id, &finish).await?.task;
    assert_eq!(completed.result.as_ref().map(|r| r.get()), Some("[1.50]"));
    assert!(
        client.dequeue(&tok, &wq, "a1").await?.is_none(),
        "nothing left"
    );
    let third = client.add_task(&tok, &wq, &add("third", 3)).await?.task;
    let taken = client
        .dequeue(&tok, &wq, "a1")
        .await?
        .context("a task")?
        .task;
    let fail = FinishTask {
        token: taken.token,
        result: None,
        error: Some("no".into()),
    };
    assert_eq!(
        client.fail_task(&tok, &third.id, &fail).await?.task.status,
        "failed"
    );
    Ok(())
}

#[tokio::test]
async fn roost_bench_creates_queues_and_runs_jobs_through_the_client() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "bench")?;
    // Jobs twice, one at a time and claimed four at once; a drain published in batches of 7
    // (the bench checks every seq came back once and the drain saw them all in order).
    for (workload, extra) in [
        ("create", &[][..]),
        ("jobs", &[][..]),
        ("jobs", &["--claim-batch", "4"][..]),
        ("seq", &[][..]),
        ("drain", &["--batch", "7"][..]),
        (
            "drain",
            &["--batch", "7", "--grpc-url", &c.node(1).grpc][..],
        ),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["bench", "--workload", workload, "--url", c.url(1)])
            .args(["--count", "20", "--window", "4", "--reps", "1", "--json"])
            .args(extra)
            .env("ROOST_TOKEN", &tok)
            .output()
            .await?;
        anyhow::ensure!(
            out.status.success(),
            "{workload}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let client = Client::new(c.url(1))?;
    let done = ListJobs {
        status: Some("completed".into()),
        limit: Some(200),
        ..ListJobs::default()
    };
    assert_eq!(client.list_jobs(&tok, &done).await?.jobs.len(), 40);
    Ok(())
}
