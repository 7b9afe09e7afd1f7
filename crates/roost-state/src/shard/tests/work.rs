//! Work queues: urgency order, stealing within a team, fencing tokens, lapsed leases.

use super::*;
use crate::command as cmd;
use crate::{ids, TaskStatus};

const WS: &str = "ws";

fn queue(h: &mut Harness, n: u64, team: &str) -> String {
    let id = ids::work_queue_id(1, n);
    h.run(
        1,
        Command::CreateWorkQueue(cmd::CreateWorkQueue {
            id: id.clone(),
            workspace: WS.into(),
            name: format!("q{n}"),
            team: team.into(),
        }),
    );
    id
}

fn add(h: &mut Harness, q: &str, n: u64, priority: u8, deadline: Option<u64>) -> String {
    let id = ids::task_id(1, n);
    let r = h.run(
        2,
        Command::AddTask(cmd::AddTask {
            id: id.clone(),
            workspace: WS.into(),
            queue: q.into(),
            name: format!("t{n}"),
            priority,
            payload: "{}".into(),
            deadline_ms: deadline,
            idempotency: None,
        }),
    );
    assert!(
        matches!(r, Response::TaskState { created: true, .. }),
        "{r:?}"
    );
    id
}

fn take(h: &mut Harness, t: u64, q: &str, token: u64, steal: bool) -> Option<String> {
    match h.run(
        t,
        Command::Dequeue(cmd::Dequeue {
            workspace: WS.into(),
            queue: q.into(),
            agent: "a".into(),
            token,
            lease_ms: 1_000,
            steal,
        }),
    ) {
        Response::Dequeued { task } => task.map(|t| t.id),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dequeue_takes_priority_then_deadline_then_fifo_and_steals_within_the_team() {
    let mut h = Harness::new();
    let (a, b, other) = (
        queue(&mut h, 1, "eng"),
        queue(&mut h, 2, "eng"),
        queue(&mut h, 3, "ops"),
    );
    let low = add(&mut h, &a, 1, 1, None);
    let urgent_late = add(&mut h, &a, 2, 5, Some(9_000));
    let urgent_soon = add(&mut h, &a, 3, 5, Some(5_000));
    let urgent_none = add(&mut h, &a, 4, 5, None);
    let in_b = add(&mut h, &b, 5, 3, None);
    add(&mut h, &other, 6, 5, None);
    assert_eq!(take(&mut h, 10, &a, 1, false), Some(urgent_soon));
    assert_eq!(take(&mut h, 10, &a, 2, false), Some(urgent_late));
    assert_eq!(take(&mut h, 10, &a, 3, false), Some(urgent_none));
    // Stealing from b's point of view takes a's most urgent left; never the ops queue's.
    assert_eq!(take(&mut h, 10, &b, 4, true), Some(low.clone()));
    assert_eq!(take(&mut h, 10, &b, 5, true), None);
    assert_eq!(take(&mut h, 10, &b, 6, false), Some(in_b));
    assert_eq!(take(&mut h, 10, &a, 7, false), None);
    // Stale tokens are refused; the right one completes.
    let finish = |h: &mut Harness, token| {
        h.run(
            20,
            Command::FinishTask(cmd::FinishTask {
                workspace: WS.into(),
                task: low.clone(),
                token,
                outcome: Ok("{}".into()),
            }),
        )
    };
    assert_eq!(
        finish(&mut h, Some(99)),
        Response::Refused(CommandError::StaleToken)
    );
    assert!(matches!(
        finish(&mut h, Some(4)),
        Response::TaskState { .. }
    ));
    assert_eq!(
        h.state.task(&low).map(|t| t.status),
        Some(TaskStatus::Completed)
    );
}

#[test]
fn lapsed_leases_return_tasks_and_overdue_tasks_stay_dequeueable() {
    let mut h = Harness::new();
    let q = queue(&mut h, 1, "eng");
    let t = add(&mut h, &q, 1, 3, Some(5));
    assert_eq!(take(&mut h, 100, &q, 1, false), Some(t.clone()));
    assert!(h.state.task(&t).is_some_and(|task| task.overdue(100)));
    h.run(100 + 1_000, Command::Tick);
    assert_eq!(
        h.state.task(&t).map(|x| x.status),
        Some(TaskStatus::Pending)
    );
    // The lapsed token can no longer finish it; a new dequeue gets it with a new token.
    let stale = h.run(
        1_200,
        Command::FinishTask(cmd::FinishTask {
            workspace: WS.into(),
            task: t.clone(),
            token: Some(1),
            outcome: Err("x".into()),
        }),
    );
    assert_eq!(stale, Response::Refused(CommandError::StaleToken));
    assert_eq!(take(&mut h, 1_300, &q, 2, false), Some(t));
}

#[test]
fn a_task_idempotency_key_answers_the_same_task_and_refuses_another() {
    let mut h = Harness::new();
    let q = queue(&mut h, 1, "team");
    let add_keyed = |h: &mut Harness, n: u64, priority: u8, payload: &str| {
        h.run(
            3,
            Command::AddTask(cmd::AddTask {
                id: ids::task_id(1, n),
                workspace: WS.into(),
                queue: q.clone(),
                name: "t".into(),
                priority,
                payload: payload.into(),
                deadline_ms: None,
                idempotency: Some("k".into()),
            }),
        )
    };
    let first = add_keyed(&mut h, 10, 3, r#"{"a":1}"#);
    assert!(matches!(first, Response::TaskState { created: true, .. }));
    match add_keyed(&mut h, 11, 3, r#"{"a":1}"#) {
        Response::TaskState { task, created } => {
            assert!(!created);
            assert_eq!(task.id, ids::task_id(1, 10));
        }
        other => panic!("{other:?}"),
    }
    for (priority, payload) in [(3, r#"{"a":2}"#), (5, r#"{"a":1}"#)] {
        assert_eq!(
            add_keyed(&mut h, 12, priority, payload),
            Response::Refused(CommandError::IdempotencyMismatch)
        );
    }
}
