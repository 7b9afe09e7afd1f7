//! Jobs: leases and fencing tokens, retries with backoff, timeouts, cancellation, expiry.

use super::*;
use crate::command as cmd;
use crate::{Job, JobSpec, JobStatus, JobTtl};

const WS: &str = "ws1";
const TTL: JobTtl = JobTtl {
    completed_ms: 60_000,
    failed_ms: 120_000,
    cancelled_ms: 60_000,
};

fn spec(max_retries: u32) -> JobSpec {
    JobSpec {
        job_type: "render".into(),
        payload: "{}".into(),
        max_retries,
        timeout_secs: 30,
        priority: 0,
        run_at_ms: None,
        webhook: None,
    }
}

fn job(r: Response) -> Job {
    match r {
        Response::JobState { job, .. } => *job,
        other => panic!("{other:?}"),
    }
}

fn create(h: &mut Harness, t: u64, id: &str, max_retries: u32, key: Option<&str>) -> Response {
    h.run(
        t,
        Command::CreateJob(cmd::CreateJob {
            id: id.into(),
            workspace: WS.into(),
            spec: spec(max_retries),
            idempotency: key.map(str::to_owned),
            ttl: TTL,
        }),
    )
}

fn claim(h: &mut Harness, t: u64, token: u64) -> Vec<Job> {
    match h.run(
        t,
        Command::ClaimJobs(cmd::ClaimJobs {
            workspace: WS.into(),
            worker_id: "w1".into(),
            types: vec!["render".into()],
            lease_ms: 10_000,
            tokens: vec![token],
        }),
    ) {
        Response::Claimed { jobs } => jobs,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_job_runs_under_a_fenced_lease_and_retries_with_backoff() {
    let mut h = Harness::new();
    let id = crate::ids::job_id(1, 1);
    let first = job(create(&mut h, 1_000, &id, 1, Some("k")));
    assert_eq!(first.status, JobStatus::Pending);
    // The same key answers the same job; with another job it is refused.
    assert!(matches!(
        create(&mut h, 1_001, &crate::ids::job_id(1, 2), 1, Some("k")),
        Response::JobState { created: false, .. }
    ));
    assert_eq!(
        create(&mut h, 1_002, &crate::ids::job_id(1, 3), 4, Some("k")),
        Response::Refused(CommandError::IdempotencyMismatch)
    );
    let claimed = claim(&mut h, 2_000, 77);
    assert_eq!((claimed.len(), claimed[0].attempt), (1, 1));
    assert!(
        claim(&mut h, 2_001, 78).is_empty(),
        "a running job is not claimed twice"
    );
    let fail = |h: &mut Harness, t, token| {
        h.run(
            t,
            Command::FailJob(cmd::FailJob {
                workspace: WS.into(),
                job: id.clone(),
                token,
                error: "boom".into(),
                retryable: true,
            }),
        )
    };
    assert_eq!(
        fail(&mut h, 2_500, 1),
        Response::Refused(CommandError::StaleToken)
    );
    let retried = job(fail(&mut h, 3_000, 77));
    assert_eq!(retried.status, JobStatus::Pending);
    assert!(retried.run_at_ms >= 4_000, "backoff of at least 1 s");
    assert!(
        claim(&mut h, 3_100, 79).is_empty(),
        "not before the backoff"
    );
    let again = claim(&mut h, retried.run_at_ms, 80);
    assert_eq!(again[0].attempt, 2);
    // The old token no longer completes it; the new one does, and then nothing more.
    let complete = |h: &mut Harness, token| {
        h.run(
            9_000,
            Command::CompleteJob(cmd::CompleteJob {
                workspace: WS.into(),
                job: id.clone(),
                token,
                result: "{\"ok\":1}".into(),
            }),
        )
    };
    assert_eq!(
        complete(&mut h, 77),
        Response::Refused(CommandError::StaleToken)
    );
    assert_eq!(job(complete(&mut h, 80)).status, JobStatus::Completed);
    // A repeated completion (a retry after a lost reply) gets the same answer, changing nothing.
    assert_eq!(job(complete(&mut h, 80)).status, JobStatus::Completed);
    assert_eq!(
        complete(&mut h, 77),
        Response::Refused(CommandError::StaleToken)
    );
    let kinds: Vec<String> = h.mem.job_events.values().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            "enqueued",
            "claimed",
            "retry_scheduled",
            "claimed",
            "completed"
        ]
    );
    // Other workspaces cannot see it; it expires after its TTL.
    assert_eq!(
        h.run(
            9_001,
            Command::CancelJob(cmd::CancelJob {
                workspace: "other".into(),
                job: id.clone()
            })
        ),
        Response::Refused(CommandError::JobNotFound)
    );
    h.run(9_000 + TTL.completed_ms, Command::Tick);
    assert!(h.state.job(&id).is_none());
    assert!(h.mem.job_events.is_empty());
}

#[test]
fn lapsed_leases_and_timeouts_end_attempts_and_retries_run_out() {
    let mut h = Harness::new();
    let id = crate::ids::job_id(1, 3);
    create(&mut h, 0, &id, 1, None);
    claim(&mut h, 0, 5);
    // No heartbeat: the lease (10 s) lapses.
    h.run(10_000, Command::Tick);
    let j = h.state.job(&id).expect("job").clone();
    assert_eq!((j.status, j.attempt), (JobStatus::Pending, 1));
    let c = claim(&mut h, j.run_at_ms, 6);
    assert_eq!(c.len(), 1);
    // Heartbeats extend the lease, but the 30 s timeout still ends the attempt; no retries left.
    let mut t = j.run_at_ms;
    for _ in 0..3 {
        t += 8_000;
        let r = h.run(
            t,
            Command::Heartbeat(cmd::Heartbeat {
                workspace: WS.into(),
                job: id.clone(),
                token: 6,
                progress: Some(50),
                lease_ms: 10_000,
            }),
        );
        assert!(
            matches!(
                r,
                Response::HeartbeatAck {
                    cancel_requested: false,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    // Past the timeout, even before a tick, the lease no longer answers.
    let late = h.run(
        j.run_at_ms + 30_000,
        Command::Heartbeat(cmd::Heartbeat {
            workspace: WS.into(),
            job: id.clone(),
            token: 6,
            progress: None,
            lease_ms: 10_000,
        }),
    );
    assert_eq!(late, Response::Refused(CommandError::StaleToken));
    h.run(j.run_at_ms + 30_000, Command::Tick);
    let j = h.state.job(&id).expect("job").clone();
    assert_eq!(j.status, JobStatus::Failed);
    // A manual retry runs it again.
    assert_eq!(
        job(h.run(
            t + 1,
            Command::RetryJob(cmd::RetryJob {
                workspace: WS.into(),
                job: id.clone()
            })
        ))
        .status,
        JobStatus::Pending
    );
    assert_eq!(claim(&mut h, t + 2, 7).len(), 1);
}

#[test]
fn cancelling_pending_running_and_finished_jobs() {
    let mut h = Harness::new();
    let (a, b) = (crate::ids::job_id(1, 4), crate::ids::job_id(1, 5));
    create(&mut h, 0, &a, 0, None);
    assert_eq!(
        job(h.run(
            1,
            Command::CancelJob(cmd::CancelJob {
                workspace: WS.into(),
                job: a.clone()
            })
        ))
        .status,
        JobStatus::Cancelled
    );
    assert!(matches!(
        h.run(
            2,
            Command::CancelJob(cmd::CancelJob {
                workspace: WS.into(),
                job: a.clone()
            })
        ),
        Response::Refused(CommandError::JobState(_))
    ));
    create(&mut h, 3, &b, 3, None);
    claim(&mut h, 4, 9);
    let running = job(h.run(
        5,
        Command::CancelJob(cmd::CancelJob {
            workspace: WS.into(),
            job: b.clone(),
        }),
    ));
    assert_eq!(
        (running.status, running.cancel_requested),
        (JobStatus::Running, true)
    );
    let ack = h.run(
        6,
        Command::Heartbeat(cmd::Heartbeat {
            workspace: WS.into(),
            job: b.clone(),
            token: 9,
            progress: None,
            lease_ms: 1_000,
        }),
    );
    assert!(matches!(
        ack,
        Response::HeartbeatAck {
            cancel_requested: true,
            ..
        }
    ));
    // The worker stops; its failure turns into cancelled, not a retry.
    let done = job(h.run(
        7,
        Command::FailJob(cmd::FailJob {
            workspace: WS.into(),
            job: b.clone(),
            token: 9,
            error: "stopped".into(),
            retryable: true,
        }),
    ));
    assert_eq!(done.status, JobStatus::Cancelled);
}

/// A random step against one workspace's jobs.
#[derive(Clone, Debug)]
enum JobOp {
    /// A job of type `ty` at priority `prio`, due `delay_ms` after now (or before).
    Create { ty: u8, prio: i32, delay_ms: i64 },
    /// A claim of up to `limit` jobs of the types in the mask (none set: any type).
    Claim { types: u8, limit: usize },
    /// Time passes.
    Wait { ms: u64 },
}

fn job_op() -> impl proptest::strategy::Strategy<Value = JobOp> {
    use proptest::prelude::*;
    prop_oneof![
        (
            0u8..3,
            prop_oneof![Just(-5), Just(0), Just(3)],
            -3_000i64..3_000
        )
            .prop_map(|(ty, prio, delay_ms)| JobOp::Create { ty, prio, delay_ms }),
        (0u8..8, 1usize..5).prop_map(|(types, limit)| JobOp::Claim { types, limit }),
        (0u64..2_000).prop_map(|ms| JobOp::Wait { ms }),
    ]
}

/// A job as the reference model of claiming sees it.
struct Modelled {
    id: String,
    ty: String,
    prio: i32,
    run_at: u64,
    seq: u64,
    claimed: bool,
}

proptest::proptest! {
    /// A claim takes exactly the jobs a scan of every job would: pending, due, of a named
    /// type (any when none is named), by priority, then due time, then creation; and a job is
    /// claimable exactly when such a job exists.
    #[test]
    fn claims_take_what_a_full_scan_would(ops in proptest::collection::vec(job_op(), 1..60)) {
        let mut h = Harness::new();
        let mut now = 100_000u64;
        let mut model: Vec<Modelled> = Vec::new();
        let types = ["a", "b", "c"];
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                JobOp::Create { ty, prio, delay_ms } => {
                    let id = crate::ids::job_id(1, n as u64 + 1);
                    let run_at = now.saturating_add_signed(delay_ms);
                    let spec = JobSpec {
                        job_type: types[ty as usize].into(),
                        priority: prio,
                        run_at_ms: Some(run_at),
                        ..spec(0)
                    };
                    let created = job(h.run(now, Command::CreateJob(cmd::CreateJob {
                        id: id.clone(),
                        workspace: WS.into(),
                        spec,
                        idempotency: None,
                        ttl: TTL,
                    })));
                    model.push(Modelled {
                        id,
                        ty: types[ty as usize].into(),
                        prio,
                        run_at,
                        seq: created.seq,
                        claimed: false,
                    });
                }
                JobOp::Claim { types: mask, limit } => {
                    let named: Vec<String> = (0..3)
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| types[i].to_owned())
                        .collect();
                    let mut want: Vec<&mut Modelled> = model
                        .iter_mut()
                        .filter(|m| !m.claimed && m.run_at <= now)
                        .filter(|m| named.is_empty() || named.contains(&m.ty))
                        .collect();
                    want.sort_by_key(|m| (-m.prio, m.run_at, m.seq));
                    want.truncate(limit);
                    let asked = crate::Query::ClaimableJobs {
                        workspace: WS.into(),
                        types: named.clone(),
                        now_ms: now,
                    };
                    let claimable = match h.state.query(&asked, &h.mem) {
                        Ok(crate::QueryResult::ClaimableJobs(any)) => any,
                        other => panic!("{other:?}"),
                    };
                    proptest::prop_assert_eq!(claimable, !want.is_empty());
                    let got = match h.run(now, Command::ClaimJobs(cmd::ClaimJobs {
                        workspace: WS.into(),
                        worker_id: "w".into(),
                        types: named,
                        lease_ms: 3_600_000,
                        tokens: (0..limit as u64).collect(),
                    })) {
                        Response::Claimed { jobs } => jobs,
                        other => panic!("{other:?}"),
                    };
                    let got: Vec<&str> = got.iter().map(|j| j.id.as_str()).collect();
                    let expected: Vec<&str> = want.iter().map(|m| m.id.as_str()).collect();
                    proptest::prop_assert_eq!(got, expected);
                    for m in want {
                        m.claimed = true;
                    }
                }
                JobOp::Wait { ms } => now += ms,
            }
        }
    }
}
