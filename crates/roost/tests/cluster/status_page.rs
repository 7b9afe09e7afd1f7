//! The status page in a real headless browser (Debian's `chromium`): the page's script runs
//! against a three-node cluster, its DOM shows every node and each group's leader, and after
//! a shard leader is killed it shows the new leader and the dead node as down. Writes a
//! screenshot: `ROOST_STATUS_SCREENSHOT=docs/status.png` keeps it where the README shows it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::Method;
use serde_json::json;

use crate::api::{create, publish};
use crate::harness::Cluster;
use crate::jobs::{call, token, SECRET};

const KEY: &str = "status-page-operator-key";

/// Runs headless chromium on `url` with `args` (each run in a profile of its own, since
/// sessionStorage must not leak between runs), bounded to a minute.
fn chromium(url: &str, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let profile = tempfile::tempdir()?;
    let out = Command::new("timeout")
        .args([
            "60",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args(["--hide-scrollbars", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .context("run chromium (scripts/deps.sh installs it)")?;
    if !out.status.success() {
        bail!(
            "chromium failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// The page from node `node` with the operator key in the fragment, as the DOM its script
/// left after a few refreshes.
fn dom(c: &Cluster, node: u64) -> anyhow::Result<String> {
    let url = format!("{}/status#key={KEY}", c.url(node));
    Ok(String::from_utf8(chromium(&url, &["--dump-dom"])?)?)
}

/// Whether the DOM shows group `group` led by `leader`.
fn shows_leader(dom: &str, group: u64, leader: u64) -> bool {
    dom.contains(&format!("data-group=\"{group}\" data-leader=\"{leader}\""))
}

/// Whether the DOM shows node `id` as up (`true`) or down.
fn shows_node(dom: &str, id: u64, live: bool) -> bool {
    dom.contains(&format!("data-node=\"{id}\" data-live=\"{live}\""))
}

/// Loads the page from `node` until `check` holds, bounded by `within`; the last DOM.
async fn wait_for_page(
    c: &Cluster,
    node: u64,
    within: Duration,
    check: impl Fn(&str) -> bool,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + within;
    loop {
        let page = dom(c, node)?;
        if check(&page) {
            return Ok(page);
        }
        if Instant::now() > deadline {
            bail!("the page never showed what was expected within {within:?}:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn the_status_page_shows_the_new_leader_after_a_leader_is_killed() -> anyhow::Result<()> {
    let top = format!("{SECRET}\n[admin]\noperator_key = \"{KEY}\"");
    let c = Cluster::start_with(3, 2, &top, "").await?;
    // Something to show: a queue with a backlog and a consumer behind, a job, a task.
    let q = create(&c, 1, &["worker", "audit"]).await?;
    for i in 0..12 {
        let (status, v) = publish(&c, 1, &q, &json!({"secret-payload": i}), None).await?;
        anyhow::ensure!(status == 201, "{v}");
    }
    let tok = token(&c, "status-ws")?;
    let job = json!({"type": "render", "payload": {}});
    let (status, v, _) = call(&c, 1, &tok, Method::POST, "/jobs", Some(job)).await?;
    anyhow::ensure!(status == 201 || status == 202, "job: {status} {v}");
    let wq = json!({"name": "triage", "teamId": "red"});
    let (status, v, _) = call(&c, 1, &tok, Method::POST, "/work-queues", Some(wq)).await?;
    anyhow::ensure!(status == 201, "work queue: {status} {v}");
    let tasks = format!("/work-queues/{}/tasks", v["id"].as_str().context("id")?);
    let task = json!({"name": "t", "priority": 3});
    let (status, v, _) = call(&c, 1, &tok, Method::POST, &tasks, Some(task)).await?;
    anyhow::ensure!(status == 201, "task: {status} {v}");

    let shard = q.shard();
    let old = c.wait_leader(shard, Duration::from_secs(20)).await?;
    let mut leaders = Vec::new();
    for g in 0..=2 {
        leaders.push(c.wait_leader(g, Duration::from_secs(20)).await?);
    }
    // Read from a node that survives the kill.
    let viewer = (1..=3).find(|n| *n != old).unwrap_or(1);
    let page = wait_for_page(&c, viewer, Duration::from_secs(30), |p| {
        leaders
            .iter()
            .enumerate()
            .all(|(g, l)| shows_leader(p, g as u64, *l))
            && p.contains(&format!("data-queue=\"{}\"", q.id))
    })
    .await?;
    for n in 1..=3 {
        anyhow::ensure!(shows_node(&page, n, true), "node {n} not up:\n{page}");
    }
    anyhow::ensure!(page.contains("12 messages stored"), "{page}");
    anyhow::ensure!(page.contains("data-status=\"pending\""), "{page}");
    anyhow::ensure!(page.contains("audit 12"), "the consumer's lag: {page}");
    // Never a payload, a queue key or the operator key in the page.
    for secret in ["secret-payload", q.key.as_str(), KEY] {
        anyhow::ensure!(!page.contains(secret), "the page shows {secret:?}");
    }
    // Without the key the page shows the cluster and says what the key unlocks.
    let locked = String::from_utf8(chromium(
        &format!("{}/status", c.url(viewer)),
        &["--dump-dom"],
    )?)?;
    anyhow::ensure!(shows_node(&locked, viewer, true), "{locked}");
    anyhow::ensure!(
        locked.contains("<div id=\"workload\" hidden=\"\">") && !locked.contains(&q.id),
        "queues shown without the key:\n{locked}"
    );

    c.kill(old)?;
    let new = c.wait_leader(shard, Duration::from_secs(30)).await?;
    anyhow::ensure!(
        new != old,
        "group {shard} still led by the killed node {old}"
    );
    let page = wait_for_page(&c, viewer, Duration::from_secs(30), |p| {
        shows_leader(p, shard, new) && shows_node(p, old, false)
    })
    .await?;
    anyhow::ensure!(page.contains(&format!("node {old} is down")), "{page}");

    let shot = std::env::var_os("ROOST_STATUS_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("roost-status.png"));
    let url = format!("{}/status#key={KEY}", c.url(viewer));
    let arg = format!("--screenshot={}", shot.display());
    chromium(&url, &[&arg, "--window-size=1100,1250"])?;
    check_png(&shot)
}

/// `path` is a PNG of some substance (a blank page compresses to a few hundred bytes).
fn check_png(path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    anyhow::ensure!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    anyhow::ensure!(bytes.len() > 20_000, "{} looks blank", path.display());
    Ok(())
}
