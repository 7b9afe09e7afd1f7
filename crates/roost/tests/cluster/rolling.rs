//! A rolling restart under load: each node in turn is stopped with SIGTERM (it drains: its
//! client requests finish, leadership moves, nothing in flight is cut off) and started again,
//! while `roost bench` publishes with idempotency keys and then drains, and the chaos
//! publishers and acking consumer run beside it. The bench fails on any 5xx (so on any
//! `outcome_unknown`) and on a drain that does not see exactly what it published; the checker
//! finds no anomaly in the chaos history.
//!
//! Keyed publishes and acks are safe to repeat, so the node retries them itself when a leader
//! goes away mid-write; a publish without an idempotency key is not. Such publishes go to the
//! nodes that stay up, whose forwards reach the stopping node while it leads: without the
//! drain they end as `503 outcome_unknown`, with it every one is answered 201.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jepsen_tests::Outcome;
use serde_json::Value;

use crate::api::create;
use crate::chaos::{run_and_check, run_length, Recorder};
use crate::harness::Cluster;

const KEY: &str = "rolling-operator-key";

/// Unkeyed publishers running at once.
const UNKEYED_LANES: u64 = 8;

/// Whether `roost admin quorum-critical --node id` says stopping `id` is safe now.
async fn safe_to_stop(c: &Cluster, id: u64) -> anyhow::Result<bool> {
    let node = id.to_string();
    let args = [
        "admin",
        "--url",
        c.url(id),
        "quorum-critical",
        "--node",
        &node,
    ];
    Ok(crate::harness::roost(&args, KEY).await?.0)
}

#[tokio::test]
async fn a_rolling_restart_under_load_fails_no_request_and_loses_nothing() -> anyhow::Result<()> {
    let top = format!("[admin]\noperator_key = \"{KEY}\"");
    let c = Cluster::start_with(3, 2, &top, "").await?;
    let urls: Vec<&str> = (1..=3).map(|id| c.url(id)).collect();
    // Paced so that publishing spans the three restarts; then the bench drains and acks.
    let bench = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args([
            "bench",
            "--workload",
            "drain",
            "--idempotency-keys",
            "--json",
        ])
        .args(["--url", &urls.join(","), "--count", "5000", "--rate", "250"])
        .args(["--window", "64", "--reps", "1", "--timeout-secs", "120"])
        .output();
    let q = create(&c, 1, &["c"]).await?;
    // The unkeyed publishes go to a queue of their own: the checker's queue holds only its
    // publishers' values.
    let plain = create(&c, 2, &[]).await?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(24);
    let mut stops = Vec::new();
    // The node being restarted (0: none), which the unkeyed publisher leaves alone.
    let restarting = AtomicU64::new(0);
    // Several in flight at once, so some are always under way when a leader stops.
    let unkeyed_publisher = |lane: u64| {
        let (plain, restarting, c) = (&plain, &restarting, &c);
        async move {
            let (mut sent, mut failed) = (0u64, Vec::new());
            while Instant::now() < until {
                let away = restarting.load(Ordering::SeqCst);
                let node = (1..=3)
                    .filter(|n| *n != away)
                    .nth(((sent + lane) % 2) as usize)
                    .unwrap_or(1);
                let r = c
                    .http
                    .post(format!("{}/q/{}/publish", c.url(node), plain.id))
                    .bearer_auth(&plain.key)
                    .json(&serde_json::json!({"lane": lane, "n": sent}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {}
                    Ok(r) => failed.push(format!(
                        "{} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => failed.push(e.to_string()),
                }
                sent += 1;
            }
            (sent, failed)
        }
    };
    let unkeyed = async {
        let lanes = futures::future::join_all((0..UNKEYED_LANES).map(unkeyed_publisher)).await;
        lanes
            .into_iter()
            .fold((0, Vec::new()), |(n, mut all), (sent, failed)| {
                all.extend(failed);
                (n + sent, all)
            })
    };
    let nemesis = async {
        for id in 1..=3 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let asked = Instant::now();
            while !safe_to_stop(&c, id).await? {
                anyhow::ensure!(
                    asked.elapsed() < Duration::from_secs(30),
                    "node {id} stayed quorum-critical"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            rec.fault(format!("restart {id}"), Outcome::Invoke);
            restarting.store(id, Ordering::SeqCst);
            // Requests already on their way to it are its own to finish.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let stopping = Instant::now();
            c.stop(id)?;
            stops.push(stopping.elapsed());
            c.spawn(id)?;
            c.wait_ready(Duration::from_secs(30)).await?;
            restarting.store(0, Ordering::SeqCst);
            rec.fault(format!("restart {id}"), Outcome::Ok);
        }
        anyhow::Ok(())
    };
    let (checked, bench, (sent, failed)) = tokio::join!(
        run_and_check("rolling_restart", &c, &q, until, &rec, nemesis),
        bench,
        unkeyed
    );
    checked?;
    assert!(
        failed.is_empty(),
        "{} of {sent} unkeyed publishes failed: {failed:#?}",
        failed.len()
    );
    assert!(sent > 100, "too few unkeyed publishes: {sent}");
    let bench = bench?;
    let report = String::from_utf8_lossy(&bench.stdout);
    assert!(
        bench.status.success(),
        "roost bench failed during the rolling restart: {}{report}",
        String::from_utf8_lossy(&bench.stderr)
    );
    let report: Value = serde_json::from_str(&report)?;
    // Each stop drained: leadership handed over before the node left.
    let mut handovers = Vec::new();
    for id in 1..=3 {
        let log = std::fs::read_to_string(c.node(id).data.with_extension("log"))?;
        let line = log
            .lines()
            .find(|l| l.contains("drained: leadership handed over"));
        let line = line.ok_or_else(|| anyhow::anyhow!("node {id} did not drain"))?;
        handovers.push(field(line, "ms"));
    }
    println!(
        "rolling restart: stops took {stops:?} (drains {handovers:?}); {sent} unkeyed publishes answered 201; the bench sent {} requests to another node after a connection failure",
        report["failovers"]
    );
    Ok(())
}

/// The value of `name=` in a log line, its color escapes dropped.
fn field(line: &str, name: &str) -> String {
    let mut parts = line.split('\u{1b}');
    let first = parts.next().unwrap_or_default();
    let plain: String = std::iter::once(first)
        .chain(parts.map(|part| part.split_once('m').map_or(part, |(_, rest)| rest)))
        .collect();
    let key = format!("{name}=");
    plain
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&key))
        .unwrap_or_default()
        .to_owned()
}
