//! Jobs under chaos: two enqueuers and three workers (claim, heartbeat, then complete, or fail
//! retryably, with the lease token) against three nodes in network namespaces, while a combined
//! nemesis hits several nodes at once: freezes, kills and cuts off in one round. The history
//! goes through the checker's job anomalies (a lost job, a job completed twice, an attempt
//! finished with a stale token) against every job's status read after healing.

use std::time::{Duration, Instant};

use jepsen_tests::{FinalState, Op, Outcome};
use serde_json::{json, Value};

use crate::chaos::{check_and_keep, outcome_of, run_length, Recorder};
use crate::harness::Cluster;
use crate::jobs::{token, SECRET};

/// The workspace whose jobs the run uses.
const WORKSPACE: &str = "ws-chaos";

async fn enqueuer(c: &Cluster, tok: &str, rec: &Recorder, process: u64, until: Instant) {
    let mut n = 0;
    while Instant::now() < until {
        let key = format!("job-{process}-{n}");
        rec.log(
            process,
            Outcome::Invoke,
            Op::EnqueueJob { job: String::new() },
        );
        let node = (process + n) % c.size() + 1;
        let r = c
            .http
            .post(format!("{}/jobs", c.url(node)))
            .bearer_auth(tok)
            .header("Idempotency-Key", &key)
            .json(&json!({"type": "t", "payload": {"key": key}, "maxRetries": 10}))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 202 => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                // An answer without the id (a cut connection mid-body) teaches nothing.
                match v["id"].as_str() {
                    Some(job) => {
                        let job = job.to_owned();
                        rec.log(process, Outcome::Ok, Op::EnqueueJob { job: job.clone() });
                        // Every fourth job is cancelled at once, racing the workers' claims.
                        if n % 4 == 3 {
                            cancel(c, tok, rec, process, node, &job).await;
                        }
                    }
                    None => rec.log(
                        process,
                        Outcome::Info,
                        Op::EnqueueJob { job: String::new() },
                    ),
                }
            }
            Ok(r) => {
                let outcome = outcome_of(r).await;
                rec.log(process, outcome, Op::EnqueueJob { job: String::new() });
            }
            Err(_) => rec.log(
                process,
                Outcome::Info,
                Op::EnqueueJob { job: String::new() },
            ),
        }
        n += 1;
    }
}

/// Cancels `job`: for good when still pending, else only asking its worker to stop.
async fn cancel(c: &Cluster, tok: &str, rec: &Recorder, process: u64, node: u64, job: &str) {
    let op = |cancelled| Op::CancelJob {
        job: job.to_owned(),
        cancelled,
    };
    rec.log(process, Outcome::Invoke, op(false));
    let r = c
        .http
        .delete(format!("{}/jobs/{job}", c.url(node)))
        .bearer_auth(tok)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match r {
        Ok(r) if r.status() == 200 || r.status() == 202 => {
            let v: Value = r.json().await.unwrap_or(Value::Null);
            let cancelled = v["job"]["status"] == "cancelled";
            rec.log(process, Outcome::Ok, op(cancelled));
        }
        // Refused: already finished, so nothing changed.
        Ok(r) if r.status().is_client_error() => rec.log(process, Outcome::Fail, op(false)),
        Ok(r) => {
            let outcome = outcome_of(r).await;
            rec.log(process, outcome, op(false));
        }
        Err(_) => rec.log(process, Outcome::Info, op(false)),
    }
}

/// One claimed attempt: the job, its attempt number and lease token.
struct Lease {
    job: String,
    attempt: u64,
    token: String,
}

/// Claims one job on `node`; `None` when nothing was claimed (or it is unknown).
async fn claim(c: &Cluster, tok: &str, rec: &Recorder, process: u64, node: u64) -> Option<Lease> {
    let op = |job: &str, attempt| Op::ClaimJob {
        job: job.to_owned(),
        attempt,
    };
    rec.log(process, Outcome::Invoke, op("", 0));
    let r = c
        .http
        .post(format!("{}/jobs/claim", c.url(node)))
        .bearer_auth(tok)
        .json(&json!({"workerId": format!("w{process}"), "wait": 1}))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let r = match r {
        Ok(r) if r.status() == 200 => r,
        Ok(r) => {
            let outcome = outcome_of(r).await;
            rec.log(process, outcome, op("", 0));
            return None;
        }
        Err(_) => {
            rec.log(process, Outcome::Info, op("", 0));
            return None;
        }
    };
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let Some(j) = v["jobs"].get(0) else {
        // Nothing pending: the claim took nothing.
        rec.log(process, Outcome::Fail, op("", 0));
        return None;
    };
    let lease = Lease {
        job: j["id"].as_str().unwrap_or_default().to_owned(),
        attempt: j["attempt"].as_u64().unwrap_or(0),
        token: j["token"].as_str().unwrap_or_default().to_owned(),
    };
    rec.log(process, Outcome::Ok, op(&lease.job, lease.attempt));
    Some(lease)
}

async fn worker(c: &Cluster, tok: &str, rec: &Recorder, process: u64, until: Instant) {
    let mut node = process % c.size() + 1;
    let mut n = 0u64;
    while Instant::now() < until {
        let Some(lease) = claim(c, tok, rec, process, node).await else {
            node = node % c.size() + 1;
            continue;
        };
        n += 1;
        let _ = c
            .http
            .post(format!("{}/jobs/{}/heartbeat", c.url(node), lease.job))
            .bearer_auth(tok)
            .json(&json!({"token": lease.token, "progress": 50}))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        // Every fifth attempt fails (it runs again after a backoff); the others complete.
        // An indeterminate answer is retried with the same token a few times.
        let fail = n.is_multiple_of(5);
        let (path, body) = if fail {
            (
                "fail",
                json!({"token": lease.token, "error": "chaos", "retryable": true}),
            )
        } else {
            (
                "complete",
                json!({"token": lease.token, "result": {"by": process}}),
            )
        };
        let op = || {
            let (job, attempt) = (lease.job.clone(), lease.attempt);
            if fail {
                Op::FailJob { job, attempt }
            } else {
                Op::CompleteJob { job, attempt }
            }
        };
        for _ in 0..5 {
            rec.log(process, Outcome::Invoke, op());
            let r = c
                .http
                .post(format!("{}/jobs/{}/{path}", c.url(node), lease.job))
                .bearer_auth(tok)
                .json(&body)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            let outcome = match r {
                Ok(r) if r.status() == 200 => Outcome::Ok,
                // Refused (stale token, not found): it did not take effect.
                Ok(r) if r.status().is_client_error() => Outcome::Fail,
                Ok(r) => outcome_of(r).await,
                Err(_) => Outcome::Info,
            };
            rec.log(process, outcome, op());
            if outcome != Outcome::Info {
                break;
            }
            node = node % c.size() + 1;
            if Instant::now() > until {
                break;
            }
        }
    }
}

/// Every job of the workspace with its status, read page by page.
async fn final_jobs(c: &Cluster, tok: &str) -> anyhow::Result<FinalState> {
    let mut fin = FinalState::default();
    let mut cursor = 0;
    for _ in 0..1000 {
        let v = c
            .get_json(1, &format!("/jobs?limit=200&cursor={cursor}"), tok)
            .await?;
        for j in v["jobs"].as_array().into_iter().flatten() {
            let id = j["id"].as_str().unwrap_or_default().to_owned();
            fin.jobs
                .insert(id, j["status"].as_str().unwrap_or_default().to_owned());
        }
        match v["next_cursor"].as_u64() {
            Some(next) if v["has_more"].as_bool() == Some(true) => cursor = next,
            _ => break,
        }
    }
    Ok(fin)
}

/// Until `until`, each round strikes up to three of three nodes at once for 2 s (rotating
/// roles around the leader of `shard`: pause the leader + kill a follower; kill a follower +
/// cut the leader off; pause one follower + kill the leader + cut the other off), then heals
/// all of it.
pub(crate) async fn combined_nemesis(
    c: &Cluster,
    shard: u64,
    until: Instant,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let net = c.net()?;
    let mut round = 0u64;
    while Instant::now() + Duration::from_secs(4) < until {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let leader = c.wait_leader(shard, Duration::from_secs(15)).await?;
        let (a, b) = (leader % 3 + 1, (leader + 1) % 3 + 1);
        let (pause, kill, cut): (Option<u64>, Option<u64>, Option<u64>) = match round % 3 {
            0 => (Some(leader), Some(a), None),
            1 => (None, Some(a), Some(leader)),
            _ => (Some(b), Some(leader), Some(a)),
        };
        let mut faults = Vec::new();
        if let Some(p) = pause {
            c.signal(p, "STOP")?;
            faults.push(format!("pause {p}"));
        }
        if let Some(k) = kill {
            c.kill(k)?;
            faults.push(format!("kill {k}"));
        }
        if let Some(x) = cut {
            net.partition(&[x])?;
            faults.push(format!("isolate {x}"));
        }
        let fault = faults.join(" + ");
        rec.fault(fault.clone(), Outcome::Invoke);
        tokio::time::sleep(Duration::from_secs(2)).await;
        net.heal()?;
        if let Some(k) = kill {
            c.spawn(k)?;
        }
        if let Some(p) = pause {
            c.signal(p, "CONT")?;
        }
        rec.fault(fault, Outcome::Ok);
        round += 1;
    }
    Ok(())
}

#[tokio::test]
async fn jobs_under_combined_nemeses_have_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start_isolated(3, 2, SECRET).await?;
    let tok = token(&c, WORKSPACE)?;
    let shard = u64::from(roost_state::ids::workspace_shard(WORKSPACE, 2));
    let rec = Recorder::new();
    let until = Instant::now() + run_length(12);
    let nemesis = combined_nemesis(&c, shard, until, &rec);
    let (_, _, _, _, _, n) = tokio::join!(
        enqueuer(&c, &tok, &rec, 1, until),
        enqueuer(&c, &tok, &rec, 2, until),
        worker(&c, &tok, &rec, 11, until),
        worker(&c, &tok, &rec, 12, until),
        worker(&c, &tok, &rec, 13, until),
        nemesis,
    );
    n?;
    settle(&c, shard).await?;
    let fin = final_jobs(&c, &tok).await?;
    let history = rec.history();
    let report = check_and_keep("jobs_combined", c.size(), &history, &fin)?;
    let (enqueued, completed) = (
        count_ok(&history, |op| matches!(op, Op::EnqueueJob { .. })),
        count_ok(&history, |op| matches!(op, Op::CompleteJob { .. })),
    );
    assert!(
        enqueued > 20 && completed > 10,
        "too little progress under the nemesis: {enqueued} enqueued, {completed} completed"
    );
    assert!(report.valid, "anomalies: {:#?}", report.anomalies);
    Ok(())
}

#[tokio::test]
async fn jobs_survive_a_dead_node_replaced_by_a_new_id() -> anyhow::Result<()> {
    let top = format!("{SECRET}\n{}", crate::membership::top());
    let c = Cluster::start_growable(3, 1, 2, &top).await?;
    let tok = token(&c, WORKSPACE)?;
    let shard = u64::from(roost_state::ids::workspace_shard(WORKSPACE, 2));
    let rec = Recorder::new();
    let until = Instant::now() + run_length(16);
    let (_, _, _, _, n) = tokio::join!(
        enqueuer(&c, &tok, &rec, 1, until),
        enqueuer(&c, &tok, &rec, 2, until),
        worker(&c, &tok, &rec, 11, until),
        worker(&c, &tok, &rec, 12, until),
        crate::membership::replace_dead_node(&c, &rec),
    );
    n?;
    c.wait_ready(Duration::from_secs(30)).await?;
    c.wait_leader(shard, Duration::from_secs(30)).await?;
    let fin = final_jobs(&c, &tok).await?;
    let history = rec.history();
    let report = check_and_keep("jobs_replace", c.size(), &history, &fin)?;
    let completed = count_ok(&history, |op| matches!(op, Op::CompleteJob { .. }));
    assert!(completed > 10, "too little progress: {completed} completed");
    assert!(report.valid, "anomalies: {:#?}", report.anomalies);
    Ok(())
}

/// After a run: heals the network, then waits until every node serves and `shard` has a
/// leader, so the final read sees the whole group.
pub(crate) async fn settle(c: &Cluster, shard: u64) -> anyhow::Result<()> {
    c.net()?.heal()?;
    c.wait_ready(Duration::from_secs(30)).await?;
    c.wait_leader(shard, Duration::from_secs(30)).await?;
    Ok(())
}

/// How many operations matching `f` completed ok in `history`.
pub(crate) fn count_ok(history: &[jepsen_tests::Event], f: fn(&Op) -> bool) -> usize {
    history
        .iter()
        .filter(|e| e.outcome == Outcome::Ok && f(&e.op))
        .count()
}
