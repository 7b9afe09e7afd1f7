//! The JSON views the edges render are the shared reply types of `roost-wire`: each view of a
//! real resource reads into its wire type and writes back as the very same bytes, so a client
//! holding a typed reply can hand on exactly what the server said.

use roost_api::views::{
    BatchItemView, ClaimedView, DeadLetterView, EnvelopeView, HeartbeatView, JobPageView, JobReply,
    NackedView, TaskReply, TaskView, WorkQueueView,
};
use roost_api::{
    AddTask, ClaimJobs, CreateJob, CreateWorkQueue, Doc, FinishTask, Nack, Pull, Time,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::harness::{caller, env, queue};

/// `view` as JSON, read into `T` and written again: the same bytes.
fn same_json<T: DeserializeOwned + Serialize>(view: &impl Serialize) -> anyhow::Result<()> {
    let json = serde_json::to_string(view)?;
    let typed: T = serde_json::from_str(&json)?;
    assert_eq!(serde_json::to_string(&typed)?, json);
    Ok(())
}

fn doc(text: &str) -> anyhow::Result<Option<Doc>> {
    Ok(Some(Doc::parse(text)?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_views_are_the_wire_replies() -> anyhow::Result<()> {
    let env = env().await?;
    let q = queue(&env, &["c"], Some(1)).await?;
    env.api
        .publish(&q, None, br#"{"n": 1e400, "s": [1.50]}"#, None)
        .await?;
    let pull = Pull {
        consumer_id: "c".into(),
        ..Pull::default()
    };
    let pulled = env.api.pull(&q, None, pull).await?;
    let envelope = EnvelopeView::new(&q.id, &pulled.messages[0])?;
    same_json::<roost_wire::Envelope>(&envelope)?;
    let nack = Nack {
        consumer_id: "c".into(),
        seq: pulled.messages[0].seq,
        error: "boom".into(),
        dead_letter: false,
    };
    let nacked = env.api.nack(&q, nack).await?;
    assert!(nacked.dead_lettered);
    let json = serde_json::to_value(NackedView::of(nacked))?;
    assert_eq!(json["nack_count"], 1);
    let dead = env.api.dead_letters(&q, None, None).await?;
    let (row, entry) = &dead.rows[0];
    same_json::<roost_wire::DeadLetter>(&DeadLetterView::new(&q.id, *row, entry)?)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_outcomes_are_the_wire_replies() -> anyhow::Result<()> {
    let env = env().await?;
    let q = queue(&env, &["c"], None).await?;
    let messages = [
        (br#"{"n": 1}"#.as_slice(), Some("k".to_owned())),
        (br#"{"n": 2}"#.as_slice(), Some("k".to_owned())),
    ];
    let results = env.api.publish_batch(&q, None, &messages).await?;
    assert!(
        results[1].is_err(),
        "the reused key is refused: {results:?}"
    );
    // A held publish needs quotas on; its outcome is built here as the layer answers it.
    let held = Ok(roost_api::Published::Held {
        pending_id: "pp_0123456789abcdef".into(),
        denied: None,
    });
    for outcome in results.iter().chain([&held]) {
        same_json::<roost_wire::BatchResult>(&BatchItemView::of(outcome))?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_and_task_views_are_the_wire_replies() -> anyhow::Result<()> {
    let env = env().await?;
    let c = caller(&env, "w", &[])?;
    let create = CreateJob {
        job_type: "send".into(),
        payload: doc(r#"{"n": 1e400}"#)?,
        webhook: Some("https://example.com/hook".into()),
        ..CreateJob::default()
    };
    let job = env.api.create_job(&c, create).await?;
    same_json::<roost_wire::JobReply>(&JobReply {
        job: roost_api::views::JobView::of(&job),
    })?;
    env.source.advance(60_000);
    let claim = ClaimJobs {
        worker_id: "w1".into(),
        ..ClaimJobs::default()
    };
    let claimed = env.api.claim_jobs(&c, None, claim).await?;
    same_json::<roost_wire::Claimed>(&ClaimedView::of(&claimed))?;
    let token = format!("{:016x}", claimed[0].lease.as_ref().expect("lease").token);
    let beat = env.api.heartbeat_job(&c, &job.id, &token, Some(5)).await?;
    same_json::<roost_wire::JobHeartbeatReply>(&HeartbeatView::of(beat))?;
    let done = env
        .api
        .complete_job(&c, &job.id, &token, doc("[1.0, -0]")?)
        .await?;
    let page = [done];
    same_json::<roost_wire::JobPage>(&JobPageView {
        jobs: page.iter().map(roost_api::views::JobView::of).collect(),
        next_cursor: 1,
        has_more: false,
    })?;

    let wq = CreateWorkQueue {
        name: "inbox".into(),
        team_id: "red".into(),
    };
    let wq = env.api.create_work_queue(&c, wq).await?;
    let add = AddTask {
        name: "write".into(),
        payload: doc(r#"{"x": 1e400}"#)?,
        deadline: Some(Time::Text("2030-01-01T00:00:00Z".into())),
        ..AddTask::default()
    };
    env.api.add_task(&c, &wq.queue.id, add).await?;
    let wq = env.api.get_work_queue(&c, &wq.queue.id).await?;
    same_json::<roost_wire::WorkQueue>(&WorkQueueView::of(&wq))?;
    let now = env.api.now_ms();
    let taken = env
        .api
        .take_task(&c, &wq.queue.id, "agent", false)
        .await?
        .expect("a task");
    same_json::<roost_wire::TaskReply>(&TaskReply {
        task: TaskView::of(&taken, true, now),
    })?;
    let finish = FinishTask {
        token: Some(format!("{:016x}", taken.token.expect("token"))),
        result: doc(r#"{"ok": 1e400}"#)?,
        error: None,
    };
    let finished = env.api.complete_task(&c, &taken.id, finish).await?;
    same_json::<roost_wire::Task>(&TaskView::of(&finished, false, now))?;
    Ok(())
}
