//! Idle workers write nothing: a claim that waits for work reads until a job is due and only
//! then proposes, so a fleet of waiting workers leaves the Raft log (and every node's disk)
//! alone; the types a claim may name are bounded.

use std::time::Duration;

use anyhow::{ensure, Context};
use serde_json::{json, Value};

use crate::harness::Cluster;
use crate::jobs::{token, SECRET};

/// Every group's last log index on node 1, added up.
async fn log_entries(c: &Cluster) -> anyhow::Result<u64> {
    let s = c.status(1).await?;
    let groups = s["groups"].as_array().context("groups")?;
    Ok(groups
        .iter()
        .map(|g| g["last_log_index"].as_u64().unwrap_or(0))
        .sum())
}

async fn claim(
    c: &Cluster,
    tok: &str,
    worker: String,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let mut body = body;
    body["workerId"] = json!(worker);
    let r = c
        .http
        .post(format!("{}/jobs/claim", c.url(1)))
        .bearer_auth(tok)
        .json(&body)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.json().await?))
}

#[tokio::test]
async fn waiting_claims_write_nothing_until_a_job_is_due() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "ws-idle")?;
    let before = log_entries(&c).await?;
    // Ten workers each waiting 4 s for a type nobody enqueues, twice over.
    for _ in 0..2 {
        let waits = (0..10).map(|i| {
            claim(
                &c,
                &tok,
                format!("w{i}"),
                json!({"types": ["render"], "wait": 4}),
            )
        });
        for answer in futures::future::join_all(waits).await {
            let (status, v) = answer?;
            ensure!(status == 200 && v["jobs"] == json!([]), "{status} {v}");
        }
    }
    let grown = log_entries(&c).await? - before;
    // Only the shard leaders' ticks (one a second per shard: about 16 in 8 s) may remain.
    ensure!(grown <= 30, "idle claims wrote {grown} log entries in 8 s");

    // A job enqueued while three claims wait goes to exactly one of them.
    let waits = (0..3).map(|i| {
        claim(
            &c,
            &tok,
            format!("v{i}"),
            json!({"types": ["render"], "wait": 10}),
        )
    });
    let waiting = futures::future::join_all(waits);
    let enqueue = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let r = c
            .http
            .post(format!("{}/jobs", c.url(1)))
            .bearer_auth(&tok)
            .json(&json!({"type": "render", "payload": {"n": 1}}))
            .send()
            .await?;
        anyhow::Ok(r.status().as_u16())
    };
    let (answers, enqueued) = tokio::join!(waiting, enqueue);
    ensure!(enqueued? == 202);
    let mut taken = 0;
    for answer in answers {
        let (status, v) = answer?;
        ensure!(status == 200, "{status} {v}");
        taken += v["jobs"].as_array().map(Vec::len).unwrap_or(0);
    }
    ensure!(taken == 1, "{taken} claims took the job");

    // The types a claim names are bounded, in count and length.
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    for types in [json!(many), json!(["x".repeat(101)]), json!([""])] {
        let (status, v) = claim(&c, &tok, "w".into(), json!({ "types": types })).await?;
        ensure!(
            status == 400 && v["code"] == "invalid_field",
            "{status} {v}"
        );
        ensure!(v["error"].as_str().unwrap_or("").contains("types"), "{v}");
    }
    Ok(())
}
