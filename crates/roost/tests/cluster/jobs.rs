//! Jobs over HTTP: tokens from `roost token create`, the job lifecycle, SSE events, and workers
//! racing a leader kill without losing or double-completing jobs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::harness::Cluster;

pub const SECRET: &str = "[auth]\njwt_secret = \"a-test-secret-that-is-long-enough-0123456789\"";

pub fn token(c: &Cluster, workspace: &str) -> anyhow::Result<String> {
    team_token(c, workspace, &[])
}

/// A token from `roost token create` reaching only `teams` (every team when empty).
pub fn team_token(c: &Cluster, workspace: &str, teams: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["token", "create", "--workspace", workspace])
        .args(teams.iter().flat_map(|t| ["--team", t]))
        .arg("--config")
        .arg(&c.node(1).config)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

pub async fn call(
    c: &Cluster,
    node: u64,
    tok: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value, reqwest::header::HeaderMap)> {
    let mut req = c
        .http
        .request(method, format!("{}{path}", c.url(node)))
        .bearer_auth(tok);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    Ok((status, r.json().await.unwrap_or(Value::Null), headers))
}

#[tokio::test]
async fn a_job_goes_from_enqueue_to_completion_with_events() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "ws-a")?;
    let other = token(&c, "ws-b")?;
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    let (s, v, h) = call(
        &c,
        1,
        &tok,
        post.clone(),
        "/jobs",
        Some(json!({"type": "render", "payload": {"page": 1}, "maxRetries": 2})),
    )
    .await?;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        (v["status"].as_str(), h.contains_key("retry-after")),
        (Some("pending"), true)
    );
    let id = v["id"].as_str().context("id")?.to_owned();
    assert!(v["status_url"].as_str().is_some_and(|u| u.ends_with(&id)));
    // Out-of-range fields are named; other workspaces see nothing.
    let (s, v, _) = call(
        &c,
        1,
        &tok,
        post.clone(),
        "/jobs",
        Some(json!({"type": "x", "maxRetries": 11})),
    )
    .await?;
    assert!(
        s == 400
            && v["error"]
                .as_str()
                .is_some_and(|e| e.contains("maxRetries")),
        "{v}"
    );
    assert_eq!(
        call(&c, 1, &other, get.clone(), &format!("/jobs/{id}"), None)
            .await?
            .0,
        404
    );
    assert_eq!(
        call(
            &c,
            1,
            "not-a-token",
            get.clone(),
            &format!("/jobs/{id}"),
            None
        )
        .await?
        .0,
        401
    );

    let (s, v, _) = call(
        &c,
        1,
        &tok,
        post.clone(),
        "/jobs/claim",
        Some(json!({"workerId": "w1", "types": ["render"]})),
    )
    .await?;
    assert_eq!(s, 200, "{v}");
    let job = &v["jobs"][0];
    assert_eq!(
        (
            job["id"].as_str(),
            job["status"].as_str(),
            job["attempt"].as_u64()
        ),
        (Some(id.as_str()), Some("running"), Some(1))
    );
    let t = job["token"].as_str().context("token")?.to_owned();
    let (s, v, _) = call(
        &c,
        1,
        &tok,
        post.clone(),
        &format!("/jobs/{id}/heartbeat"),
        Some(json!({"token": t, "progress": 40})),
    )
    .await?;
    assert_eq!((s, v["cancelRequested"].clone()), (200, json!(false)));
    let (s, _, _) = call(
        &c,
        1,
        &tok,
        post.clone(),
        &format!("/jobs/{id}/complete"),
        Some(json!({"token": "00000000000000aa", "result": {}})),
    )
    .await?;
    assert_eq!(s, 409, "a stale token is refused");
    let (s, v, h) = call(
        &c,
        1,
        &tok,
        post.clone(),
        &format!("/jobs/{id}/complete"),
        Some(json!({"token": t, "result": {"pages": 3}})),
    )
    .await?;
    assert_eq!(
        (s, v["job"]["status"].as_str(), v["job"]["result"].clone()),
        (200, Some("completed"), json!({"pages": 3}))
    );
    assert!(!h.contains_key("retry-after"));
    assert_eq!(
        call(
            &c,
            1,
            &tok,
            reqwest::Method::DELETE,
            &format!("/jobs/{id}"),
            None
        )
        .await?
        .0,
        409
    );

    // The event log, as SSE, from the start and resumed after event 2.
    let body = c
        .http
        .get(format!("{}/jobs/{id}/events", c.url(1)))
        .bearer_auth(&tok)
        .send()
        .await?
        .text()
        .await?;
    let kinds: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds,
        ["enqueued", "claimed", "progress", "completed"],
        "{body}"
    );
    let resumed = c
        .http
        .get(format!("{}/jobs/{id}/events", c.url(1)))
        .bearer_auth(&tok)
        .header("Last-Event-ID", "2")
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(
        resumed.lines().filter(|l| l.starts_with("event: ")).count(),
        2
    );

    // Cancel a pending job; list by status; wait returns at once for a finished job.
    let (_, v, _) = call(
        &c,
        1,
        &tok,
        post.clone(),
        "/jobs",
        Some(json!({"type": "other"})),
    )
    .await?;
    let second = v["id"].as_str().context("id")?.to_owned();
    let (s, v, _) = call(
        &c,
        1,
        &tok,
        reqwest::Method::DELETE,
        &format!("/jobs/{second}"),
        None,
    )
    .await?;
    assert_eq!((s, v["job"]["status"].as_str()), (200, Some("cancelled")));
    let (_, v, _) = call(&c, 1, &tok, get.clone(), "/jobs?status=completed", None).await?;
    assert_eq!(v["jobs"].as_array().map(Vec::len), Some(1));
    let started = Instant::now();
    let (s, v, _) = call(
        &c,
        1,
        &tok,
        get,
        &format!("/jobs/{id}/wait?timeout=10"),
        None,
    )
    .await?;
    assert_eq!((s, v["job"]["status"].as_str()), (200, Some("completed")));
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

#[tokio::test]
async fn workers_lose_and_double_complete_nothing_when_the_leader_dies() -> anyhow::Result<()> {
    let c = Cluster::start_with(3, 2, SECRET, "").await?;
    let tok = token(&c, "ws-chaos")?;
    let total = 30;
    for n in 0..total {
        let body = json!({"type": "t", "payload": {"n": n}});
        let r = c
            .http
            .post(format!("{}/jobs", c.url(n % 3 + 1)))
            .bearer_auth(&tok)
            .header("Idempotency-Key", format!("job-{n}"))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 202, "create {n}: {}", r.status());
    }
    let shard = 1 + {
        // The workspace shard, as the server computes it (FNV-1a of the name).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in "ws-chaos".bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % 2
    };
    let leader = c.wait_leader(shard, Duration::from_secs(20)).await?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let finished = std::sync::atomic::AtomicU64::new(0);
    let worker = |w: u64| {
        let (c, tok, finished) = (&c, &tok, &finished);
        async move {
            // (job, attempt) of every completion accepted, and of every claim seen.
            let mut accepted: Vec<(String, u64)> = Vec::new();
            let mut claimed: Vec<(String, u64)> = Vec::new();
            let mut node = w % 3 + 1;
            while Instant::now() < deadline {
                let claim = c
                    .http
                    .post(format!("{}/jobs/claim", c.url(node)))
                    .bearer_auth(tok)
                    .json(&json!({"workerId": format!("w{w}"), "wait": 1}))
                    .send()
                    .await;
                let Ok(r) = claim else {
                    node = node % 3 + 1;
                    continue;
                };
                let Ok(v) = r.json::<Value>().await else {
                    node = node % 3 + 1;
                    continue;
                };
                let Some(job) = v["jobs"].get(0) else {
                    if finished.load(std::sync::atomic::Ordering::SeqCst) >= total {
                        break;
                    }
                    continue;
                };
                let (id, t) = (
                    job["id"].as_str().unwrap_or_default().to_owned(),
                    job["token"].as_str().unwrap_or_default().to_owned(),
                );
                let attempt = job["attempt"].as_u64().unwrap_or(0);
                claimed.push((id.clone(), attempt));
                // Retry the completion on failures; only a 200 counts.
                for _ in 0..50 {
                    let r = c
                        .http
                        .post(format!("{}/jobs/{id}/complete", c.url(node)))
                        .bearer_auth(tok)
                        .json(&json!({"token": t, "result": {"by": w}}))
                        .send()
                        .await;
                    match r.map(|r| r.status().as_u16()) {
                        Ok(200) => {
                            accepted.push((id.clone(), attempt));
                            finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            break;
                        }
                        Ok(409) | Ok(404) => break,
                        _ => node = node % 3 + 1,
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            (accepted, claimed)
        }
    };
    let killer = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        c.kill(leader)
    };
    let (a, b, d, k) = tokio::join!(worker(1), worker(2), worker(3), killer);
    k?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut latest_claim: BTreeMap<String, u64> = BTreeMap::new();
    for (id, attempt) in a.1.iter().chain(&b.1).chain(&d.1) {
        let e = latest_claim.entry(id.clone()).or_default();
        *e = (*e).max(*attempt);
    }
    for (id, attempt) in a.0.into_iter().chain(b.0).chain(d.0) {
        // A completion is only accepted with the newest lease: never with a stale token.
        assert_eq!(
            Some(&attempt),
            latest_claim.get(&id),
            "stale completion of {id} accepted"
        );
        *counts.entry(id).or_default() += 1;
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "a job was completed twice: {counts:?}"
    );
    // Every job ends completed (jobs whose lease was lost to the kill run again after it lapses).
    let survivor = (1..=3).find(|n| *n != leader).unwrap_or(1);
    let (_, v, _) = call(
        &c,
        survivor,
        &tok,
        reqwest::Method::GET,
        "/jobs?status=completed&limit=200",
        None,
    )
    .await?;
    let done = v["jobs"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(done as u64, total, "{v}");
    assert_eq!(counts.len() as u64, total);
    Ok(())
}

#[tokio::test]
async fn the_job_and_work_queue_seed_curls_work_with_only_url_and_token_changed(
) -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "seed-ws")?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/cluster/seed_curls_jobs.sh"
    );
    let out = std::process::Command::new("bash")
        .arg(script)
        .env("BASE", c.url(1))
        .env("TOKEN", tok)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("seed curls: all passed"), "{stdout}");
    Ok(())
}

/// Runs `roost worker` against node 1 until it handled `max` jobs (bounded by 60 s).
pub fn worker(
    c: &Cluster,
    tok: &str,
    job_type: &str,
    max: u32,
    command: &[&str],
) -> anyhow::Result<tokio::process::Child> {
    Ok(tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args([
            "worker",
            "--url",
            c.url(1),
            "--token",
            tok,
            "--type",
            job_type,
            "--heartbeat-secs",
            "1",
        ])
        .args(["--max-jobs", &max.to_string(), "--"])
        .args(command)
        .kill_on_drop(true)
        .spawn()?)
}

async fn job_status(c: &Cluster, tok: &str, id: &str, want: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v, _) = call(
            c,
            1,
            tok,
            reqwest::Method::GET,
            &format!("/jobs/{id}"),
            None,
        )
        .await?;
        if v["job"]["status"] == want || Instant::now() > deadline {
            return Ok(v["job"].clone());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn roost_worker_runs_commands_reports_progress_failure_and_cancellation() -> anyhow::Result<()>
{
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "workers")?;
    let create = |t: &'static str, payload: Value, retries: u32| {
        let tok = tok.clone();
        let c = &c;
        async move {
            let (_, v, _) = call(
                c,
                1,
                &tok,
                reqwest::Method::POST,
                "/jobs",
                Some(json!({"type": t, "payload": payload, "maxRetries": retries})),
            )
            .await?;
            v["id"].as_str().map(str::to_owned).context("id")
        }
    };
    // Success: payload in on stdin, progress and the result out on stdout.
    let ok = create("echo", json!({"n": 7}), 0).await?;
    let mut w = worker(
        &c,
        &tok,
        "echo",
        1,
        &[
            "sh",
            "-c",
            "read p; echo progress 50; echo \"{\\\"seen\\\": $p}\"",
        ],
    )?;
    let job = job_status(&c, &tok, &ok, "completed").await?;
    assert_eq!(job["result"], json!({"seen": {"n": 7}}), "{job}");
    tokio::time::timeout(Duration::from_secs(30), w.wait()).await??;

    // Failure: a non-zero exit fails the attempt; with no retries left the job is failed.
    let bad = create("bad", json!({}), 0).await?;
    let mut w = worker(&c, &tok, "bad", 1, &["sh", "-c", "exit 3"])?;
    let job = job_status(&c, &tok, &bad, "failed").await?;
    assert!(
        job["error"].as_str().is_some_and(|e| e.contains("exit")),
        "{job}"
    );
    tokio::time::timeout(Duration::from_secs(30), w.wait()).await??;

    // Cancellation: the heartbeat learns it, the command is killed, the job ends cancelled.
    let slow = create("slow", json!({}), 3).await?;
    let mut w = worker(&c, &tok, "slow", 1, &["sleep", "30"])?;
    job_status(&c, &tok, &slow, "running").await?;
    let (s, _, _) = call(
        &c,
        1,
        &tok,
        reqwest::Method::DELETE,
        &format!("/jobs/{slow}"),
        None,
    )
    .await?;
    assert_eq!(s, 202);
    let job = job_status(&c, &tok, &slow, "cancelled").await?;
    assert_eq!(job["status"], "cancelled", "{job}");
    tokio::time::timeout(Duration::from_secs(30), w.wait()).await??;
    Ok(())
}

/// Enqueues `n` jobs of type `pack` through node 1; their ids.
async fn enqueue_packs(c: &Cluster, tok: &str, n: u64) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for n in 0..n {
        let (_, v, _) = call(
            c,
            1,
            tok,
            reqwest::Method::POST,
            "/jobs",
            Some(json!({"type": "pack", "payload": {"n": n}})),
        )
        .await?;
        ids.push(v["id"].as_str().context("id")?.to_owned());
    }
    Ok(ids)
}

/// Waits (at most 30 s) for the worker `w` to exit, then checks every job of `ids` completed.
async fn completes(
    c: &Cluster,
    tok: &str,
    mut w: tokio::process::Child,
    ids: &[String],
) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(30), w.wait()).await??;
    for id in ids {
        let job = job_status(c, tok, id, "completed").await?;
        assert_eq!(job["status"], "completed", "{job}");
    }
    Ok(())
}

/// `POST /jobs/claim` requests node 1 has answered (its metrics, read by the Prometheus
/// parser).
async fn claim_requests(c: &Cluster) -> anyhow::Result<f64> {
    let claims = [("operation", "POST /jobs/claim")];
    Ok(crate::metrics::scrape(c, 1)
        .await?
        .sum("roost_request_duration_seconds_count", &claims))
}

#[tokio::test]
async fn roost_worker_fills_its_free_slots_with_one_claim() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "workers")?;
    let ids = enqueue_packs(&c, &tok, 3).await?;
    let before = claim_requests(&c).await?;
    let w = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args([
            "worker",
            "--url",
            c.url(1),
            "--token",
            &tok,
            "--type",
            "pack",
        ])
        .args(["--concurrency", "3", "--max-jobs", "3", "--"])
        .args(["sh", "-c", "read p; sleep 1; echo \"$p\""])
        .kill_on_drop(true)
        .spawn()?;
    completes(&c, &tok, w, &ids).await?;
    // Three free slots, three jobs due: one claim took them all, and none was made after.
    assert_eq!(claim_requests(&c).await? - before, 1.0);
    Ok(())
}

#[tokio::test]
async fn a_roost_worker_given_every_node_claims_and_completes_on_the_shard_leader(
) -> anyhow::Result<()> {
    let c = Cluster::start_with(3, 2, SECRET, "").await?;
    let tok = token(&c, "routed")?;
    let ids = enqueue_packs(&c, &tok, 4).await?;
    // The workspace's shard is in its job ids (`job_` + two hex digits).
    let shard = u64::from_str_radix(ids[0].get(4..6).context("job id")?, 16)?;
    let leader = c.wait_leader(shard, Duration::from_secs(10)).await?;
    let other = |not: &[u64]| [1, 2, 3].into_iter().find(|n| !not.contains(n));
    let first = other(&[leader]).context("a follower")?;
    let last = other(&[leader, first]).context("another follower")?;
    let urls = [first, leader, last].map(|n| c.url(n).to_owned()).join(",");
    let w = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["worker", "--url", &urls, "--token", &tok, "--type", "pack"])
        .args(["--concurrency", "1", "--max-jobs", "4", "--", "cat"])
        .kill_on_drop(true)
        .spawn()?;
    completes(&c, &tok, w, &ids).await?;
    // The first claim went to the first URL, which forwarded it and named the leader; every
    // request after it went to the leader.
    let answered = |scrape: &crate::metrics::Scrape, op: &str| {
        scrape.sum("roost_request_duration_seconds_count", &[("operation", op)])
    };
    for (node, claims, completions) in [(first, 1.0, 0.0), (leader, 3.0, 4.0), (last, 0.0, 0.0)] {
        let scrape = crate::metrics::scrape(&c, node).await?;
        assert_eq!(
            answered(&scrape, "POST /jobs/claim"),
            claims,
            "claims node {node} answered"
        );
        assert_eq!(
            answered(&scrape, "POST /jobs/{id}/complete"),
            completions,
            "completions node {node} answered"
        );
    }
    Ok(())
}
