//! Work queues under chaos: an adder and three agents (dequeue, else steal from the team's
//! other queue, then complete with the lease token) against three nodes in network namespaces,
//! under the same combined nemesis as the jobs run. The checker looks for lost tasks, tasks
//! completed twice and completions with a replaced token, against every task's final status.

use std::time::{Duration, Instant};

use jepsen_tests::{FinalState, Op, Outcome};
use serde_json::{json, Value};

use crate::chaos::{check_and_keep, outcome_of, run_length, Recorder};
use crate::chaos_jobs::{combined_nemesis, count_ok, settle};
use crate::harness::Cluster;
use crate::jobs::{token, SECRET};

/// The workspace whose work queues the run uses.
const WORKSPACE: &str = "ws-work-chaos";

/// Creates work queue `name` of team `eng`, trying each node until one answers.
async fn create_queue(c: &Cluster, tok: &str, name: &str) -> anyhow::Result<String> {
    for attempt in 0..60 {
        let r = c
            .http
            .post(format!("{}/work-queues", c.url(attempt % c.size() + 1)))
            .bearer_auth(tok)
            .json(&json!({"name": name, "teamId": "eng"}))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(r) = r {
            if r.status() == 201 {
                let v: Value = r.json().await?;
                return Ok(v["id"].as_str().unwrap_or_default().to_owned());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("could not create work queue {name}")
}

async fn adder(c: &Cluster, tok: &str, rec: &Recorder, queues: &[String], until: Instant) {
    let process = 1;
    let mut n = 0u64;
    while Instant::now() < until {
        let queue = &queues[(n % 2) as usize];
        rec.log(
            process,
            Outcome::Invoke,
            Op::AddTask {
                task: String::new(),
            },
        );
        let r = c
            .http
            .post(format!(
                "{}/work-queues/{queue}/tasks",
                c.url(n % c.size() + 1)
            ))
            .bearer_auth(tok)
            .header("Idempotency-Key", format!("task-{n}"))
            .json(&json!({"name": format!("t-{n}"), "priority": n % 5 + 1}))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 || r.status() == 200 => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                // An answer without the id (a cut connection mid-body) teaches nothing.
                match v["task"]["id"].as_str() {
                    Some(task) => {
                        let task = task.to_owned();
                        rec.log(process, Outcome::Ok, Op::AddTask { task });
                    }
                    None => rec.log(
                        process,
                        Outcome::Info,
                        Op::AddTask {
                            task: String::new(),
                        },
                    ),
                }
            }
            Ok(r) => {
                let outcome = outcome_of(r).await;
                rec.log(
                    process,
                    outcome,
                    Op::AddTask {
                        task: String::new(),
                    },
                );
            }
            Err(_) => rec.log(
                process,
                Outcome::Info,
                Op::AddTask {
                    task: String::new(),
                },
            ),
        }
        n += 1;
    }
}

/// Dequeues from `queue` (or steals, with `steal`); the task and its token when one was
/// handed out.
async fn take(
    c: &Cluster,
    tok: &str,
    rec: &Recorder,
    process: u64,
    node: u64,
    queue: &str,
    steal: bool,
) -> Option<(String, String)> {
    let op = |task: &str, token: &str| Op::TakeTask {
        task: task.to_owned(),
        token: token.to_owned(),
    };
    rec.log(process, Outcome::Invoke, op("", ""));
    let path = if steal { "steal" } else { "dequeue" };
    let r = c
        .http
        .post(format!("{}/work-queues/{queue}/{path}", c.url(node)))
        .bearer_auth(tok)
        .json(&json!({"agentId": format!("agent-{process}")}))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match r {
        Ok(r) if r.status() == 200 => {
            let v: Value = r.json().await.unwrap_or(Value::Null);
            let (task, token) = (
                v["task"]["id"].as_str().unwrap_or_default().to_owned(),
                v["task"]["token"].as_str().unwrap_or_default().to_owned(),
            );
            rec.log(process, Outcome::Ok, op(&task, &token));
            Some((task, token))
        }
        // Nothing to hand out: nothing happened.
        Ok(r) if r.status() == 204 => {
            rec.log(process, Outcome::Fail, op("", ""));
            None
        }
        Ok(r) => {
            let outcome = outcome_of(r).await;
            rec.log(process, outcome, op("", ""));
            None
        }
        Err(_) => {
            rec.log(process, Outcome::Info, op("", ""));
            None
        }
    }
}

async fn agent(c: &Cluster, tok: &str, rec: &Recorder, process: u64, queue: &str, until: Instant) {
    let mut node = process % c.size() + 1;
    while Instant::now() < until {
        let taken = match take(c, tok, rec, process, node, queue, false).await {
            Some(t) => Some(t),
            None => take(c, tok, rec, process, node, queue, true).await,
        };
        let Some((task, token)) = taken else {
            node = node % c.size() + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let op = || Op::CompleteTask {
            task: task.clone(),
            token: token.clone(),
        };
        // An unknown outcome is retried with the same token a few times.
        for _ in 0..5 {
            rec.log(process, Outcome::Invoke, op());
            let r = c
                .http
                .post(format!("{}/work-queue-tasks/{task}/complete", c.url(node)))
                .bearer_auth(tok)
                .json(&json!({"token": token, "result": {"by": process}}))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            let outcome = match r {
                Ok(r) if r.status() == 200 => Outcome::Ok,
                Ok(r) if r.status().is_client_error() => Outcome::Fail,
                Ok(r) => outcome_of(r).await,
                Err(_) => Outcome::Info,
            };
            rec.log(process, outcome, op());
            if outcome != Outcome::Info || Instant::now() > until {
                break;
            }
            node = node % c.size() + 1;
        }
    }
}

/// Every task of `queues` with its status.
async fn final_tasks(c: &Cluster, tok: &str, queues: &[String]) -> anyhow::Result<FinalState> {
    let mut fin = FinalState::default();
    for q in queues {
        let v = c
            .get_json(1, &format!("/work-queues/{q}/tasks"), tok)
            .await?;
        for t in v["tasks"].as_array().into_iter().flatten() {
            let id = t["id"].as_str().unwrap_or_default().to_owned();
            fin.tasks
                .insert(id, t["status"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(fin)
}

/// A run's token, its workspace's shard, and its two work queues.
async fn prepare(c: &Cluster) -> anyhow::Result<(String, u64, Vec<String>)> {
    let tok = token(c, WORKSPACE)?;
    let shard = u64::from(roost_state::ids::workspace_shard(WORKSPACE, 2));
    let queues = vec![
        create_queue(c, &tok, "a").await?,
        create_queue(c, &tok, "b").await?,
    ];
    Ok((tok, shard, queues))
}

#[tokio::test]
async fn work_queues_under_combined_nemeses_have_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start_isolated(3, 2, SECRET).await?;
    let (tok, shard, queues) = prepare(&c).await?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(12);
    let (_, _, _, _, n) = tokio::join!(
        adder(&c, &tok, &rec, &queues, until),
        agent(&c, &tok, &rec, 11, &queues[0], until),
        agent(&c, &tok, &rec, 12, &queues[0], until),
        agent(&c, &tok, &rec, 13, &queues[1], until),
        combined_nemesis(&c, shard, until, &rec),
    );
    n?;
    settle(&c, shard).await?;
    let fin = final_tasks(&c, &tok, &queues).await?;
    let history = rec.history();
    let report = check_and_keep("work_combined", c.size(), &history, &fin)?;
    let (added, completed) = (
        count_ok(&history, |op| matches!(op, Op::AddTask { .. })),
        count_ok(&history, |op| matches!(op, Op::CompleteTask { .. })),
    );
    assert!(
        added > 20 && completed > 10,
        "too little progress under the nemesis: {added} added, {completed} completed"
    );
    assert!(report.valid, "anomalies: {:#?}", report.anomalies);
    Ok(())
}

#[tokio::test]
async fn tasks_survive_a_dead_node_replaced_by_a_new_id() -> anyhow::Result<()> {
    let top = format!("{SECRET}\n{}", crate::membership::top());
    let c = Cluster::start_growable(3, 1, 2, &top).await?;
    let (tok, shard, queues) = prepare(&c).await?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(16);
    let (_, _, _, n) = tokio::join!(
        adder(&c, &tok, &rec, &queues, until),
        agent(&c, &tok, &rec, 11, &queues[0], until),
        agent(&c, &tok, &rec, 12, &queues[1], until),
        crate::membership::replace_dead_node(&c, &rec),
    );
    n?;
    c.wait_ready(Duration::from_secs(30)).await?;
    c.wait_leader(shard, Duration::from_secs(30)).await?;
    let fin = final_tasks(&c, &tok, &queues).await?;
    let history = rec.history();
    let report = check_and_keep("work_replace", c.size(), &history, &fin)?;
    let completed = count_ok(&history, |op| matches!(op, Op::CompleteTask { .. }));
    assert!(completed > 10, "too little progress: {completed} completed");
    assert!(report.valid, "anomalies: {:#?}", report.anomalies);
    Ok(())
}
