//! Every anomaly kind is caught in a deliberately broken history; a clean one passes.

use super::*;
use crate::{Event, FinalState, Op, Outcome};

/// Builds a history: `(process, outcome, op, time)` tuples.
fn history(events: Vec<(u64, Outcome, Op, u64)>) -> Vec<Event> {
    events
        .into_iter()
        .map(|(process, outcome, op, time)| Event {
            process,
            outcome,
            op,
            time,
        })
        .collect()
}

fn publish(value: &str, seq: Option<u64>) -> Op {
    Op::Publish {
        key: format!("k-{value}"),
        value: value.into(),
        seq,
    }
}

/// A clean history: two publishes, a pull, two acks, a DLQ move and replay, a job.
fn clean() -> (Vec<(u64, Outcome, Op, u64)>, FinalState) {
    use Outcome::*;
    let events = vec![
        (1, Invoke, publish("a", None), 1),
        (1, Ok, publish("a", Some(1)), 2),
        (2, Invoke, publish("b", None), 3),
        (2, Ok, publish("b", Some(2)), 4),
        (
            3,
            Invoke,
            Op::Pull {
                consumer: "c".into(),
                cursor: 0,
                messages: vec![],
            },
            5,
        ),
        (
            3,
            Ok,
            Op::Pull {
                consumer: "c".into(),
                cursor: 0,
                messages: vec![(1, "a".into()), (2, "b".into())],
            },
            6,
        ),
        (
            3,
            Invoke,
            Op::Ack {
                consumer: "c".into(),
                cursor: 1,
                stored: None,
            },
            7,
        ),
        (
            3,
            Ok,
            Op::Ack {
                consumer: "c".into(),
                cursor: 1,
                stored: Some(1),
            },
            8,
        ),
        (
            3,
            Invoke,
            Op::Ack {
                consumer: "c".into(),
                cursor: 2,
                stored: None,
            },
            9,
        ),
        (
            3,
            Ok,
            Op::Ack {
                consumer: "c".into(),
                cursor: 2,
                stored: Some(2),
            },
            10,
        ),
        (4, Invoke, Op::DeadLetter { value: "a".into() }, 11),
        (4, Ok, Op::DeadLetter { value: "a".into() }, 12),
        (
            4,
            Invoke,
            Op::Replay {
                value: "a".into(),
                seq: None,
            },
            13,
        ),
        (
            4,
            Ok,
            Op::Replay {
                value: "a".into(),
                seq: Some(3),
            },
            14,
        ),
        (5, Invoke, Op::EnqueueJob { job: "j".into() }, 15),
        (5, Ok, Op::EnqueueJob { job: "j".into() }, 16),
        (
            5,
            Invoke,
            Op::ClaimJob {
                job: "j".into(),
                attempt: 1,
            },
            17,
        ),
        (
            5,
            Ok,
            Op::ClaimJob {
                job: "j".into(),
                attempt: 1,
            },
            18,
        ),
        (
            5,
            Invoke,
            Op::CompleteJob {
                job: "j".into(),
                attempt: 1,
            },
            19,
        ),
        (
            5,
            Ok,
            Op::CompleteJob {
                job: "j".into(),
                attempt: 1,
            },
            20,
        ),
        // A publish that timed out: it may or may not exist; neither is an anomaly.
        (6, Invoke, publish("maybe", None), 21),
        (6, Info, publish("maybe", None), 22),
    ];
    let fin = FinalState {
        messages: [(1, "a"), (2, "b"), (3, "a")]
            .into_iter()
            .map(|(s, v)| (s, v.to_owned()))
            .collect(),
        floor: 0,
        dlq: vec![],
        replays: [(3, "a".to_owned())].into_iter().collect(),
        jobs: [("j".to_owned(), "completed".to_owned())]
            .into_iter()
            .collect(),
        tasks: Default::default(),
    };
    (events, fin)
}

fn kinds(events: Vec<(u64, Outcome, Op, u64)>, fin: &FinalState) -> Vec<AnomalyKind> {
    check(&history(events), fin)
        .anomalies
        .into_iter()
        .map(|a| a.kind)
        .collect()
}

#[test]
fn a_clean_history_is_valid() {
    let (events, fin) = clean();
    let report = check(&history(events), &fin);
    assert!(report.valid, "{:?}", report.anomalies);
    assert_eq!(report.ops.get("ok"), Some(&10));
    assert_eq!(report.ops.get("info"), Some(&1));
}

#[test]
fn a_lost_acknowledged_publish_is_caught() {
    let (events, mut fin) = clean();
    fin.messages.remove(&2);
    assert!(kinds(events, &fin).contains(&AnomalyKind::LostPublish));
}

#[test]
fn one_message_under_two_seqs_and_one_seq_for_two_messages_are_caught() {
    let (mut events, mut fin) = clean();
    fin.messages.insert(4, "b".into());
    assert!(kinds(events.clone(), &fin).contains(&AnomalyKind::DuplicatePublish));
    let (_, fin) = clean();
    events.push((7, Outcome::Invoke, publish("c", None), 30));
    events.push((7, Outcome::Ok, publish("c", Some(2)), 31));
    assert!(kinds(events, &fin).contains(&AnomalyKind::DuplicateSeq));
}

#[test]
fn seq_order_against_real_time_is_caught() {
    let (mut events, fin) = clean();
    // "a" finished at 2, "b" began at 3: swapping their seqs contradicts real time.
    events[1].2 = publish("a", Some(2));
    events[3].2 = publish("b", Some(1));
    let fin = FinalState {
        messages: [(1, "b"), (2, "a"), (3, "a")]
            .into_iter()
            .map(|(s, v)| (s, v.to_owned()))
            .collect(),
        ..fin
    };
    let found = kinds(events, &fin);
    assert!(found.contains(&AnomalyKind::RealTimeOrder), "{found:?}");
}

#[test]
fn a_failed_publish_that_took_effect_is_caught() {
    use Outcome::*;
    let (mut events, fin) = clean();
    events.push((7, Invoke, publish("c", None), 30));
    events.push((7, Fail, publish("c", None), 31));
    assert!(kinds(events.clone(), &fin).is_empty());
    let mut fin = fin;
    fin.messages.insert(4, "c".into());
    assert!(kinds(events, &fin).contains(&AnomalyKind::FailedPublishApplied));
}

#[test]
fn a_retried_publish_began_with_its_first_attempt() {
    use Outcome::*;
    let (mut events, fin) = clean();
    // "b" was first sent at 0 (outcome unknown: it took effect as seq 2 before "a" finished);
    // its retry at 3 is answered with seq 2 again. Not a real-time violation ...
    events.insert(0, (2, Invoke, publish("b", None), 0));
    events.insert(1, (2, Info, publish("b", None), 0));
    let fin = FinalState {
        messages: [(1, "b"), (2, "a")]
            .into_iter()
            .map(|(s, v)| (s, v.to_owned()))
            .collect(),
        ..fin
    };
    events[3].2 = publish("a", Some(2));
    events[5].2 = publish("b", Some(1));
    let found = kinds(events.clone(), &fin);
    assert!(!found.contains(&AnomalyKind::RealTimeOrder), "{found:?}");
    // ... but it is when the earlier attempt was of another key.
    events[0].2 = publish("x", None);
    events[1].2 = publish("x", None);
    let found = kinds(events, &fin);
    assert!(found.contains(&AnomalyKind::RealTimeOrder), "{found:?}");
}

#[test]
fn a_cursor_moving_back_is_caught() {
    let (mut events, fin) = clean();
    events[9].2 = Op::Ack {
        consumer: "c".into(),
        cursor: 2,
        stored: Some(0),
    };
    assert!(kinds(events, &fin).contains(&AnomalyKind::CursorBack));
}

#[test]
fn pulls_that_skip_or_invent_are_caught() {
    let (mut events, fin) = clean();
    events[5].2 = Op::Pull {
        consumer: "c".into(),
        cursor: 0,
        messages: vec![(2, "b".into())],
    };
    assert!(kinds(events, &fin).contains(&AnomalyKind::PullSkip));
    let (mut events, fin) = clean();
    events[5].2 = Op::Pull {
        consumer: "c".into(),
        cursor: 0,
        messages: vec![(1, "zzz".into())],
    };
    assert!(kinds(events, &fin).contains(&AnomalyKind::PullInvent));
}

#[test]
fn dlq_moves_and_replays_not_exactly_once_are_caught() {
    // Replayed, yet still in the DLQ.
    let (events, mut fin) = clean();
    fin.dlq.push("a".into());
    assert!(kinds(events, &fin).contains(&AnomalyKind::DlqNotExactlyOnce));
    // Replayed once, two replayed envelopes.
    let (events, mut fin) = clean();
    fin.messages.insert(4, "a".into());
    fin.replays.insert(4, "a".into());
    assert!(kinds(events, &fin).contains(&AnomalyKind::DlqNotExactlyOnce));
    // Dead-lettered, never replayed, and not in the DLQ.
    let (mut events, fin) = clean();
    events.truncate(12);
    let fin = FinalState {
        replays: Default::default(),
        ..fin
    };
    assert!(kinds(events, &fin).contains(&AnomalyKind::DlqNotExactlyOnce));
}

#[test]
fn jobs_completed_twice_with_stale_tokens_or_lost_are_caught() {
    use Outcome::*;
    let (mut events, fin) = clean();
    events.push((
        8,
        Invoke,
        Op::CompleteJob {
            job: "j".into(),
            attempt: 1,
        },
        40,
    ));
    events.push((
        8,
        Ok,
        Op::CompleteJob {
            job: "j".into(),
            attempt: 1,
        },
        41,
    ));
    assert!(kinds(events, &fin).contains(&AnomalyKind::JobCompletedTwice));

    let (mut events, fin) = clean();
    // Attempt 2 was claimed (and acknowledged) before attempt 1's completion began.
    events.insert(
        18,
        (
            9,
            Invoke,
            Op::ClaimJob {
                job: "j".into(),
                attempt: 2,
            },
            18,
        ),
    );
    events.insert(
        19,
        (
            9,
            Ok,
            Op::ClaimJob {
                job: "j".into(),
                attempt: 2,
            },
            18,
        ),
    );
    assert!(kinds(events.clone(), &fin).contains(&AnomalyKind::StaleCompletion));
    // The same stale token used to fail the attempt instead.
    let failed: Vec<_> = events
        .into_iter()
        .map(|(p, o, op, t)| match op {
            Op::CompleteJob { job, attempt } => (p, o, Op::FailJob { job, attempt }, t),
            other => (p, o, other, t),
        })
        .collect();
    assert!(kinds(failed, &fin).contains(&AnomalyKind::StaleCompletion));

    let (events, mut fin) = clean();
    fin.jobs.clear();
    assert!(kinds(events, &fin).contains(&AnomalyKind::LostJob));
}

#[test]
fn histories_round_trip_as_json_lines() -> anyhow::Result<()> {
    let (events, _) = clean();
    let text: String = history(events.clone())
        .iter()
        .map(|e| serde_json::to_string(e).map(|l| l + "\n"))
        .collect::<Result<_, _>>()?;
    assert_eq!(crate::history::parse(&text)?, history(events));
    Ok(())
}

/// A clean work-queue history: a task added, taken, completed.
fn task_history() -> (Vec<(u64, Outcome, Op, u64)>, FinalState) {
    use Outcome::*;
    let add = || Op::AddTask { task: "t".into() };
    let take = |token: &str| Op::TakeTask {
        task: "t".into(),
        token: token.into(),
    };
    let done = |token: &str| Op::CompleteTask {
        task: "t".into(),
        token: token.into(),
    };
    let events = vec![
        (1, Invoke, add(), 1),
        (1, Ok, add(), 2),
        (2, Invoke, take(""), 3),
        (2, Ok, take("a1"), 4),
        (2, Invoke, done("a1"), 5),
        (2, Ok, done("a1"), 6),
    ];
    let fin = FinalState {
        tasks: [("t".to_owned(), "completed".to_owned())].into(),
        ..FinalState::default()
    };
    (events, fin)
}

#[test]
fn a_job_cancelled_while_pending_and_completed_is_caught() {
    use Outcome::*;
    let (mut events, fin) = clean();
    let cancel = |cancelled| Op::CancelJob {
        job: "j".into(),
        cancelled,
    };
    // Cancellation merely requested (the job was running): completing it is fine.
    events.push((8, Invoke, cancel(false), 30));
    events.push((8, Ok, cancel(false), 31));
    assert!(kinds(events.clone(), &fin).is_empty());
    events.push((8, Invoke, cancel(true), 32));
    events.push((8, Ok, cancel(true), 33));
    assert!(kinds(events, &fin).contains(&AnomalyKind::CancelledJobCompleted));
}

#[test]
fn task_anomalies_are_caught() {
    use Outcome::*;
    let (events, fin) = task_history();
    assert!(kinds(events.clone(), &fin).is_empty());

    let mut twice = events.clone();
    twice.push((
        3,
        Invoke,
        Op::CompleteTask {
            task: "t".into(),
            token: "a1".into(),
        },
        7,
    ));
    twice.push((
        3,
        Ok,
        Op::CompleteTask {
            task: "t".into(),
            token: "a1".into(),
        },
        8,
    ));
    assert!(kinds(twice, &fin).contains(&AnomalyKind::TaskCompletedTwice));

    // Stolen (token b2) before the first holder's completion began: a1 is stale.
    let steal = |token: &str| Op::TakeTask {
        task: "t".into(),
        token: token.into(),
    };
    let mut stale = events.clone();
    stale.insert(4, (3, Invoke, steal(""), 5));
    stale.insert(5, (3, Ok, steal("b2"), 5));
    for e in stale
        .iter_mut()
        .filter(|e| e.0 == 2 && matches!(e.2, Op::CompleteTask { .. }))
    {
        e.3 += 10;
    }
    assert!(kinds(stale, &fin).contains(&AnomalyKind::StaleTaskCompletion));

    let mut lost = fin.clone();
    lost.tasks.clear();
    assert!(kinds(events, &lost).contains(&AnomalyKind::LostTask));
}

#[test]
fn messages_nobody_sent_are_caught() {
    let unexpected = |fin: &FinalState| {
        let (events, _) = clean();
        kinds(events, fin)
            .into_iter()
            .filter(|k| *k == AnomalyKind::UnexpectedMessage)
            .count()
    };
    let (_, fin) = clean();
    assert_eq!(unexpected(&fin), 0);

    // A message under the next seq with a value no publisher ever sent.
    let mut invented = fin.clone();
    invented.messages.insert(4, "p9-999".into());
    assert_eq!(unexpected(&invented), 1);

    // The publish that timed out may exist; a replay nobody asked for may not.
    let mut maybe = fin.clone();
    maybe.messages.insert(4, "maybe".into());
    assert_eq!(unexpected(&maybe), 0);
    let mut replay = fin.clone();
    replay.messages.insert(4, "b".into());
    replay.replays.insert(4, "b".into());
    assert_eq!(unexpected(&replay), 1);
    let mut gone = fin.clone();
    gone.replays.insert(9, "p9-999".into());
    assert_eq!(unexpected(&gone), 1);

    // A dead letter nobody nacked.
    let mut dlq = fin.clone();
    dlq.dlq.push("b".into());
    assert_eq!(unexpected(&dlq), 1);
}
