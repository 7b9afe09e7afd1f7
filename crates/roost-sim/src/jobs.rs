//! The jobs workload of the simulation: enqueuers (each job under its own idempotency key)
//! and workers that claim one job at a time and complete it, or fail it retryably every fifth
//! attempt, with the lease token; then the final read of every job's status.

use roost_state::command as cmd;
use std::time::Duration;

use jepsen_tests::{FinalState, Op, Outcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roost_state::{ids, Command, JobSpec, JobTtl, Query, QueryResult, Response};

use crate::client::{ask, Recorder};
use crate::net::{ClientError, Reply, Rpc};
use crate::node::GROUP;
use crate::runtime;

/// The workspace of every job.
const WORKSPACE: &str = "ws-sim";
/// A claim's lease: longer than any run, so only crashes and partitions interfere.
const LEASE_MS: u64 = 600_000;
/// Retries of an enqueue whose outcome is unknown, under the same key.
const RETRIES: u64 = 3;

/// How a write ended, for the history.
fn outcome(reply: &Option<Reply>) -> Outcome {
    match reply {
        Some(Reply::Written(Ok(Response::Refused(_)) | Err(ClientError::NotLeader))) => {
            Outcome::Fail
        }
        Some(Reply::Written(Ok(_))) => Outcome::Ok,
        _ => Outcome::Info,
    }
}

/// Enqueues jobs until `until`, round-robin over the nodes.
pub async fn enqueuer(rec: Recorder, process: u64, nodes: u64, until: Duration) {
    let mut rng = StdRng::seed_from_u64(runtime::draw() ^ process);
    let mut n = 0;
    while turmoil::sim_elapsed().unwrap_or_default() < until {
        let blank = || Op::EnqueueJob { job: String::new() };
        let (id, key) = (
            ids::job_id(GROUP, rng.random()),
            format!("job-{process}-{n}"),
        );
        // An unknown or refused outcome is retried under the same key.
        for attempt in 0..=RETRIES {
            rec.log(process, Outcome::Invoke, blank());
            let command = Command::CreateJob(cmd::CreateJob {
                id: id.clone(),
                workspace: WORKSPACE.into(),
                spec: spec(),
                idempotency: Some(key.clone()),
                ttl: JobTtl {
                    completed_ms: 86_400_000,
                    failed_ms: 86_400_000,
                    cancelled_ms: 86_400_000,
                },
            });
            let reply = ask((process + n + attempt) % nodes + 1, Rpc::Write(command)).await;
            match (outcome(&reply), reply) {
                (Outcome::Ok, Some(Reply::Written(Ok(Response::JobState { job, .. })))) => {
                    rec.log(process, Outcome::Ok, Op::EnqueueJob { job: job.id });
                    break;
                }
                (other, _) => rec.log(process, other, blank()),
            }
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What every job asks for.
fn spec() -> JobSpec {
    JobSpec {
        job_type: "t".into(),
        payload: "{}".into(),
        max_retries: 10,
        timeout_secs: 600,
        priority: 0,
        run_at_ms: None,
        webhook: None,
    }
}

/// Claims and finishes jobs until `until`.
pub async fn worker(rec: Recorder, process: u64, nodes: u64, until: Duration) {
    let mut rng = StdRng::seed_from_u64(runtime::draw() ^ process);
    let (mut node, mut n) = (process % nodes + 1, 0u64);
    while turmoil::sim_elapsed().unwrap_or_default() < until {
        let claim = |job: &str, attempt| Op::ClaimJob {
            job: job.to_owned(),
            attempt,
        };
        rec.log(process, Outcome::Invoke, claim("", 0));
        let command = Command::ClaimJobs(cmd::ClaimJobs {
            workspace: WORKSPACE.into(),
            worker_id: format!("w{process}"),
            types: Vec::new(),
            lease_ms: LEASE_MS,
            tokens: vec![rng.random()],
        });
        let reply = ask(node, Rpc::Write(command)).await;
        let job = match (outcome(&reply), reply) {
            (Outcome::Ok, Some(Reply::Written(Ok(Response::Claimed { mut jobs })))) => jobs.pop(),
            (other, _) => {
                rec.log(process, other, claim("", 0));
                node = node % nodes + 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Some((job, lease)) = job.and_then(|j| j.lease.clone().map(|l| (j, l))) else {
            // Nothing pending: the claim took nothing.
            rec.log(process, Outcome::Fail, claim("", 0));
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let attempt = u64::from(job.attempt);
        rec.log(process, Outcome::Ok, claim(&job.id, attempt));
        n += 1;
        let fail = n.is_multiple_of(5);
        let op = || {
            let (job, attempt) = (job.id.clone(), attempt);
            if fail {
                Op::FailJob { job, attempt }
            } else {
                Op::CompleteJob { job, attempt }
            }
        };
        // An unknown outcome is retried with the same token a few times.
        for _ in 0..3 {
            rec.log(process, Outcome::Invoke, op());
            let (workspace, id, token) = (WORKSPACE.to_owned(), job.id.clone(), lease.token);
            let command = if fail {
                Command::FailJob(cmd::FailJob {
                    workspace,
                    job: id,
                    token,
                    error: "sim".into(),
                    retryable: true,
                })
            } else {
                Command::CompleteJob(cmd::CompleteJob {
                    workspace,
                    job: id,
                    token,
                    result: "{}".into(),
                })
            };
            let done = outcome(&ask(node, Rpc::Write(command)).await);
            rec.log(process, done, op());
            if done != Outcome::Info {
                break;
            }
            node = node % nodes + 1;
        }
    }
}

/// Every job's status, read through whichever node leads; `None` when none answered.
pub async fn final_jobs(nodes: u64) -> Option<FinalState> {
    let mut fin = FinalState::default();
    let mut after = 0;
    for attempt in 0..500u64 {
        let query = Query::Jobs {
            workspace: WORKSPACE.into(),
            status: None,
            job_type: None,
            after,
            limit: 200,
        };
        match ask(attempt % nodes + 1, Rpc::Read(query)).await {
            Some(Reply::Read(Ok(QueryResult::JobPage {
                jobs,
                next_cursor,
                has_more,
            }))) => {
                for j in jobs {
                    fin.jobs.insert(j.id, j.status.as_str().to_owned());
                }
                after = next_cursor;
                if !has_more {
                    return Some(fin);
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}
