//! Team-scoped workspace tokens (`roost token create --team`): over HTTP and gRPC such a token
//! reaches only its teams' work queues; a token without teams reaches the whole workspace.

use anyhow::Context;
use reqwest::Method;
use roost_grpc::pb;
use roost_grpc::pb::work_queues_client::WorkQueuesClient;
use serde_json::{json, Value};
use tonic::Code;

use crate::harness::Cluster;
use crate::jobs::{call, team_token, token, SECRET};

fn forbidden(got: (u16, Value, reqwest::header::HeaderMap), what: &str) {
    assert_eq!(
        (got.0, got.1["code"].as_str()),
        (403, Some("team_forbidden")),
        "{what}: {}",
        got.1
    );
}

#[tokio::test]
async fn a_team_token_reaches_only_its_teams_work_queues() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let all = token(&c, "ws")?;
    let ops = team_token(&c, "ws", &["ops"])?;
    let post = |path: &str, tok: &str, body: Value| {
        let (c, path, tok) = (&c, path.to_owned(), tok.to_owned());
        async move { call(c, 1, &tok, Method::POST, &path, Some(body)).await }
    };

    forbidden(
        post("/work-queues", &ops, json!({"name": "x", "teamId": "eng"})).await?,
        "create in another team",
    );
    let (s, eng_q, _) = post("/work-queues", &all, json!({"name": "e", "teamId": "eng"})).await?;
    assert_eq!(
        s, 201,
        "a workspace-wide token creates in any team: {eng_q}"
    );
    let eng_id = eng_q["id"].as_str().context("id")?.to_owned();
    let (s, ops_q, _) = post("/work-queues", &ops, json!({"name": "o", "teamId": "ops"})).await?;
    assert_eq!(s, 201, "{ops_q}");
    let ops_id = ops_q["id"].as_str().context("id")?.to_owned();
    let (s, added, _) = post(
        &format!("/work-queues/{eng_id}/tasks"),
        &all,
        json!({"name": "secret-eng-work"}),
    )
    .await?;
    assert_eq!(s, 201);
    let task_id = added["task"]["id"].as_str().context("task id")?.to_owned();

    // Everything naming the eng queue is refused to the ops token, and changes nothing.
    let q = format!("/work-queues/{eng_id}");
    let agent = json!({"agentId": "ops-1"});
    forbidden(call(&c, 1, &ops, Method::GET, &q, None).await?, "get");
    forbidden(
        call(&c, 1, &ops, Method::GET, &format!("{q}/tasks"), None).await?,
        "tasks",
    );
    forbidden(
        post(&format!("{q}/tasks"), &ops, json!({"name": "t"})).await?,
        "add",
    );
    forbidden(
        post(&format!("{q}/dequeue"), &ops, agent.clone()).await?,
        "dequeue",
    );
    forbidden(call(&c, 1, &ops, Method::DELETE, &q, None).await?, "delete");
    // A task finished by id (the token is optional) is held to its queue's team too.
    let t = format!("/work-queue-tasks/{task_id}");
    forbidden(
        post(&format!("{t}/complete"), &ops, json!({})).await?,
        "complete",
    );
    forbidden(
        post(&format!("{t}/fail"), &ops, json!({"error": "x"})).await?,
        "fail",
    );
    // Stealing from its own queue reaches only its own team's other queues: nothing here.
    let (s, _, _) = post(&format!("/work-queues/{ops_id}/steal"), &ops, agent).await?;
    assert_eq!(s, 204, "an ops token steals nothing from eng");
    let (_, listed, _) = call(&c, 1, &ops, Method::GET, "/work-queues", None).await?;
    let names: Vec<_> = listed["workQueues"]
        .as_array()
        .context("list")?
        .iter()
        .map(|q| q["teamId"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("ops")],
        "the ops token lists only ops queues"
    );
    let (_, eng_tasks, _) = call(&c, 1, &all, Method::GET, &format!("{q}/tasks"), None).await?;
    assert_eq!(eng_tasks["tasks"][0]["status"], "pending", "{eng_tasks}");
    assert_eq!(eng_tasks["tasks"].as_array().map(Vec::len), Some(1));

    // The same over gRPC.
    let mut grpc = WorkQueuesClient::connect(c.node(1).grpc.clone()).await?;
    let authed = |msg, tok: &str| -> anyhow::Result<tonic::Request<pb::TakeRequest>> {
        let mut req = tonic::Request::new(msg);
        req.metadata_mut()
            .insert("authorization", format!("Bearer {tok}").parse()?);
        Ok(req)
    };
    let take = |queue: &str| pb::TakeRequest {
        work_queue_id: queue.into(),
        agent_id: "ops-2".into(),
    };
    let denied = grpc
        .dequeue(authed(take(&eng_id), &ops)?)
        .await
        .expect_err("dequeue from another team");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(
        denied.message().starts_with("team_forbidden: "),
        "{denied:?}"
    );
    let mut create = tonic::Request::new(pb::CreateWorkQueueRequest {
        name: "x".into(),
        team_id: "eng".into(),
    });
    create
        .metadata_mut()
        .insert("authorization", format!("Bearer {ops}").parse()?);
    let denied = grpc.create_work_queue(create).await.expect_err("create");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let mut list = tonic::Request::new(pb::ListWorkQueuesRequest::default());
    list.metadata_mut()
        .insert("authorization", format!("Bearer {ops}").parse()?);
    let teams: Vec<_> = grpc
        .list_work_queues(list)
        .await?
        .into_inner()
        .work_queues
        .into_iter()
        .map(|q| q.team_id)
        .collect();
    assert_eq!(teams, vec!["ops".to_owned()]);
    // A workspace-wide token still takes the eng task.
    let got = grpc
        .dequeue(authed(take(&eng_id), &all)?)
        .await?
        .into_inner();
    assert_eq!(got.task.map(|t| t.name).as_deref(), Some("secret-eng-work"));
    Ok(())
}
