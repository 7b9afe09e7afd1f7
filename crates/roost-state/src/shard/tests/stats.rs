//! The operator's statistics: queue depths and slowest consumers, jobs and tasks by status.

use super::*;
use crate::{ids, JobSpec, JobTtl, QueueStats, WorkloadStats};

fn queue(h: &mut Harness, n: u64, consumers: &[&str]) -> QueueId {
    let id = QueueId::new(1, n);
    h.run(
        1,
        Command::CreateQueue(cmd::CreateQueue {
            id: id.clone(),
            key_digest: KEY,
            consumers: consumers.iter().map(|c| (*c).to_owned()).collect(),
            settings: QueueSettings::default(),
        }),
    );
    id
}

fn queue_stats(h: &Harness, limit: usize) -> QueueStats {
    match h.state.query(&Query::QueueStats { limit }, &h.mem) {
        Ok(QueryResult::QueueStats(s)) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn queue_stats_total_every_queue_and_list_the_deepest_with_their_slowest_consumers() {
    let mut h = Harness::new();
    let shallow = queue(&mut h, 1, &["a"]);
    let deep = queue(&mut h, 2, &["fast", "slow"]);
    let empty = queue(&mut h, 3, &[]);
    for t in 0..5 {
        h.publish(10 + t, &deep, "{\"secret\":1}", None);
    }
    h.publish(20, &shallow, "{}", None);
    h.ack(&deep, "fast", 4);
    h.ack(&deep, "slow", 1);

    let all = queue_stats(&h, 10);
    // The slowest ack (1) raised the deep queue's floor: 4 of its 5 envelopes are left.
    assert_eq!((all.queues, all.messages, all.dlq), (3, 5, 0));
    let ids: Vec<&QueueId> = all.deepest.iter().map(|q| &q.id).collect();
    assert_eq!(ids, [&deep, &shallow, &empty], "deepest first, then by id");
    let top = &all.deepest[0];
    assert_eq!((top.head_seq, top.messages, top.consumer_count), (5, 4, 2));
    assert_eq!(
        top.consumers,
        [("slow".to_owned(), 1), ("fast".to_owned(), 4)],
        "slowest consumer first"
    );
    // Nothing of a payload travels in the answer.
    assert!(!format!("{all:?}").contains("secret"));

    let one = queue_stats(&h, 1);
    assert_eq!(
        one.queues, 3,
        "totals cover every queue, not just those listed"
    );
    assert_eq!(one.deepest.len(), 1);
    assert_eq!(one.deepest[0].id, deep);
}

#[test]
fn workload_stats_count_jobs_and_tasks_by_status() {
    let mut h = Harness::new();
    let ttl = JobTtl {
        completed_ms: 60_000,
        failed_ms: 60_000,
        cancelled_ms: 60_000,
    };
    for (n, t) in [(1, 1), (2, 2)] {
        h.run(
            t,
            Command::CreateJob(cmd::CreateJob {
                id: format!("job_{n}"),
                workspace: "ws".into(),
                spec: JobSpec {
                    job_type: "render".into(),
                    payload: "{}".into(),
                    max_retries: 0,
                    timeout_secs: 30,
                    priority: 0,
                    run_at_ms: None,
                    webhook: None,
                },
                idempotency: None,
                ttl,
            }),
        );
    }
    h.run(
        3,
        Command::CancelJob(cmd::CancelJob {
            workspace: "ws".into(),
            job: "job_2".into(),
        }),
    );
    let wq = ids::work_queue_id(1, 1);
    h.run(
        4,
        Command::CreateWorkQueue(cmd::CreateWorkQueue {
            id: wq.clone(),
            workspace: "ws".into(),
            name: "q".into(),
            team: "red".into(),
        }),
    );
    h.run(
        5,
        Command::AddTask(cmd::AddTask {
            id: ids::task_id(1, 1),
            workspace: "ws".into(),
            queue: wq,
            name: "t".into(),
            priority: 1,
            payload: "{}".into(),
            deadline_ms: None,
            idempotency: None,
        }),
    );
    let stats = match h.state.query(&Query::WorkloadStats, &h.mem) {
        Ok(QueryResult::WorkloadStats(s)) => s,
        other => panic!("{other:?}"),
    };
    let count = |pairs: &[(&str, u64)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(
        stats,
        WorkloadStats {
            jobs: count(&[("cancelled", 1), ("pending", 1)]),
            work_queues: 1,
            tasks: count(&[("pending", 1)]),
        }
    );
}
