//! Three nodes: the `Roost-Leader` hint on a reply a node forwarded, and `roost bench
//! --leader-aware` sending queue requests straight to each shard's leader (over HTTP, and its
//! gRPC batches too), across a killed leader too.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::api::create;
use crate::harness::Cluster;

/// Publishes `{"n":1}` through `node`; the status and the `Roost-Leader` header, if any.
async fn publish_hint(
    c: &Cluster,
    node: u64,
    q: &crate::api::Queue,
) -> anyhow::Result<(u16, Option<String>)> {
    let resp = c
        .http
        .post(format!("{}/q/{}/publish", c.url(node), q.id))
        .bearer_auth(&q.key)
        .json(&serde_json::json!({"n": 1}))
        .send()
        .await?;
    let hint = resp
        .headers()
        .get("roost-leader")
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    Ok((resp.status().as_u16(), hint))
}

#[tokio::test]
async fn a_forwarded_reply_names_the_leader_and_a_served_one_does_not() -> anyhow::Result<()> {
    let c = Cluster::start(3, 3, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let leader = c.wait_leader(q.shard(), Duration::from_secs(20)).await?;
    for node in 1..=3 {
        let (status, hint) = publish_hint(&c, node, &q).await?;
        assert_eq!(status, 201, "through node {node}");
        if node == leader {
            assert_eq!(hint, None, "the leader {node} served it");
        } else {
            assert_eq!(hint, Some(leader.to_string()), "through follower {node}");
        }
    }
    // A read forwarded by a follower carries the hint too.
    let follower = (1..=3).find(|n| *n != leader).unwrap_or(1);
    let resp = c
        .http
        .get(format!(
            "{}/q/{}/pull?consumer_id=me&cursor=0&limit=10",
            c.url(follower),
            q.id
        ))
        .bearer_auth(&q.key)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("roost-leader")
            .and_then(|v| v.to_str().ok()),
        Some(leader.to_string().as_str())
    );
    Ok(())
}

/// Runs `roost bench --leader-aware` against every node of `c` with `extra` arguments.
async fn bench(c: &Cluster, extra: &[&str]) -> anyhow::Result<Value> {
    let urls: Vec<&str> = (1..=c.size()).map(|id| c.url(id)).collect();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["bench", "--workload", "window", "--leader-aware", "--json"])
        .args([
            "--url",
            &urls.join(","),
            "--reps",
            "1",
            "--timeout-secs",
            "60",
        ])
        .args(extra)
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[tokio::test]
async fn bench_leader_aware_publishes_to_the_leader_and_follows_a_new_one() -> anyhow::Result<()> {
    // One shard, so the bench's queue lives where the killed leader led.
    let c = Cluster::start(3, 1, "").await?;
    c.wait_leader(1, Duration::from_secs(20)).await?;
    // Straight to the leader: no forwarded reply, so no hint.
    let report = bench(&c, &["--count", "300", "--window", "16"]).await?;
    assert_eq!(report["leader_hints"], 0, "{report}");

    // Paced so that publishing spans the kill; failed connections go to another node, whose
    // forwarded reply names the new leader.
    let run = bench(
        &c,
        &[
            "--count",
            "600",
            "--window",
            "8",
            "--rate",
            "150",
            "--idempotency-keys",
        ],
    );
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let old = c.wait_leader(1, Duration::from_secs(5)).await?;
        c.kill(old)?;
        let new = c.wait_leader(1, Duration::from_secs(30)).await?;
        anyhow::Ok((old, new))
    };
    let (report, killed) =
        tokio::time::timeout(Duration::from_secs(90), async { tokio::join!(run, kill) }).await?;
    let (report, (old, new)) = (report?, killed?);
    assert_ne!(old, new);
    assert!(
        report["leader_hints"].as_u64().unwrap_or(0) >= 1,
        "no hint followed: {report}"
    );
    assert!(report["failovers"].as_u64().unwrap_or(0) >= 1, "{report}");
    Ok(())
}

#[tokio::test]
async fn a_leader_aware_roost_bench_sends_its_grpc_batches_to_the_shard_leader(
) -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let grpc = [1, 2, 3].map(|id| c.node(id).grpc.clone()).join(",");
    let shape = ["--batch", "5", "--count", "20", "--window", "10"];
    bench(&c, &[&shape[..], &["--grpc-url", &grpc]].concat()).await?;
    // The one queue of this cluster is in the shard whose queue count is 1.
    let status = c.status(1).await?;
    let groups = status["groups"].as_array().context("groups")?;
    let shard = groups
        .iter()
        .find(|g| g["kind"] == "shard" && g["queues"] == 1)
        .with_context(|| format!("the bench's queue in {status}"))?;
    let leader = shard["leader"].as_u64().context("a shard leader")?;
    let batches = [("edge", "grpc"), ("operation", "Queues/PublishBatch")];
    for id in [1, 2, 3] {
        let answered = crate::metrics::scrape(&c, id)
            .await?
            .sum("roost_request_duration_seconds_count", &batches);
        let expected = if id == leader { 4.0 } else { 0.0 };
        assert_eq!(answered, expected, "PublishBatch calls node {id} answered");
    }
    Ok(())
}
