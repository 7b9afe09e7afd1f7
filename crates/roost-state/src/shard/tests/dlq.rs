//! Nacks, the DLQ, the roster, retention, origins and deletion.

use super::*;
use crate::command as cmd;

fn nack(h: &mut Harness, q: &QueueId, seq: u64, dead_letter: bool) -> Response {
    h.run(
        10,
        Command::Nack(cmd::Nack {
            queue: q.clone(),
            auth: KEY,
            consumer: "me".into(),
            seq,
            error: format!("failed {seq}"),
            dead_letter,
        }),
    )
}

#[test]
fn nacks_dead_letter_exactly_once_and_replay_appends_a_new_envelope() {
    let mut h = Harness::new();
    let q = h.create();
    for t in 0..3 {
        h.publish(t + 2, &q, &format!("{{\"n\":{t}}}"), None);
    }
    // Default max_deliveries is 5: the fifth nack moves it, later ones do not move it again.
    for i in 1..=7u32 {
        match nack(&mut h, &q, 2, false) {
            Response::Nacked {
                nack_count,
                dead_lettered,
                ..
            } => {
                assert_eq!(nack_count, i);
                assert_eq!(dead_lettered, i >= 5);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        nack(&mut h, &q, 3, true),
        Response::Nacked {
            dead_lettered: true,
            nack_count: 1,
            ..
        }
    ));
    assert_eq!(h.mem.dlq.len(), 2);
    assert_eq!(h.state.queue(&q).expect("queue").dlq_len, 2);
    for bad in [0, 4] {
        assert!(matches!(
            nack(&mut h, &q, bad, false),
            Response::Refused(CommandError::SeqOutOfRange { .. })
        ));
    }
    // Exact pagination: one row per page, then nothing more.
    let page = |h: &Harness, after| {
        let query = Query::Dlq {
            queue: q.clone(),
            auth: KEY,
            after,
            limit: 1,
        };
        h.state.query(&query, &h.mem).expect("lookup")
    };
    let QueryResult::DlqPage {
        rows,
        next_cursor,
        has_more,
    } = page(&h, 0)
    else {
        panic!()
    };
    assert_eq!(
        (
            rows.len(),
            rows[0].1.envelope.seq,
            rows[0].1.nack_count,
            has_more
        ),
        (1, 2, 5, true)
    );
    assert_eq!(rows[0].1.last_error, "failed 2");
    let QueryResult::DlqPage { rows, has_more, .. } = page(&h, next_cursor) else {
        panic!()
    };
    assert_eq!(
        (rows.len(), rows[0].1.envelope.seq, has_more),
        (1, 3, false)
    );

    let original = rows[0].1.envelope.clone();
    let replay = |h: &mut Harness, id: &str| {
        h.run(
            20,
            Command::ReplayDlq(cmd::ReplayDlq {
                queue: q.clone(),
                auth: KEY,
                dlq_msg_id: original.id.clone(),
                id: id.into(),
            }),
        )
    };
    match replay(&mut h, "qm_new") {
        Response::Replayed { envelope } => {
            assert_eq!(envelope.seq, 4);
            assert_eq!(envelope.payload, original.payload);
            assert_eq!(
                envelope.source,
                Source::DlqReplay {
                    replayed_from: original.id.clone()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    // The row is gone: replaying it again is refused and the DLQ shrank.
    assert_eq!(
        replay(&mut h, "qm_new2"),
        Response::Refused(CommandError::DlqMessageNotFound)
    );
    assert_eq!(h.state.queue(&q).expect("queue").dlq_len, 1);
    assert_eq!(h.mem.dlq.len(), 1);
}

#[test]
fn roster_additions_start_at_the_head_and_removals_stop_gating_gc() {
    let mut h = Harness::new();
    let q = h.create();
    for t in 0..4 {
        h.publish(t + 2, &q, "{}", None);
    }
    let roster = |h: &mut Harness, add: &[&str], remove: &[&str]| {
        h.run(
            30,
            Command::SetConsumers(cmd::SetConsumers {
                queue: q.clone(),
                auth: KEY,
                add: add.iter().map(|s| s.to_string()).collect(),
                remove: remove.iter().map(|s| s.to_string()).collect(),
            }),
        )
    };
    match roster(&mut h, &["late"], &[]) {
        Response::Consumers { consumers } => assert_eq!(consumers["late"], 4),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        roster(&mut h, &["_dash_x"], &[]),
        Response::Refused(_)
    ));
    // "me" has acked nothing, so nothing is reaped until it is removed.
    assert_eq!(h.state.queue(&q).expect("queue").floor_seq, 0);
    roster(&mut h, &[], &["me"]);
    assert_eq!(h.state.queue(&q).expect("queue").floor_seq, 4);
    assert!(h.mem.messages.is_empty());
}

#[test]
fn retention_reaps_by_count_and_by_age_without_consumers() {
    let mut h = Harness::new();
    let id = QueueId::new(1, 99);
    let settings = QueueSettings {
        retention: Retention {
            max_age_ms: Some(1_000),
            max_messages: Some(3),
        },
        ..QueueSettings::default()
    };
    h.run(
        1,
        Command::CreateQueue(cmd::CreateQueue {
            id: id.clone(),
            key_digest: KEY,
            consumers: vec![],
            settings,
        }),
    );
    for t in 0..5 {
        h.publish(100 + t, &id, "{}", None);
    }
    // Count: only the newest three remain.
    assert_eq!(h.state.queue(&id).expect("queue").floor_seq, 2);
    // Age: a tick after the window reaps the rest.
    h.run(100 + 5 + 1_000, Command::Tick);
    assert_eq!(h.state.queue(&id).expect("queue").floor_seq, 5);
    assert!(h.mem.messages.is_empty());
}

#[test]
fn origins_are_additive_without_wildcards_and_deletion_removes_everything() {
    let mut h = Harness::new();
    let q = h.create();
    let set = |h: &mut Harness, add: &[&str], remove: &[&str]| {
        h.run(
            3,
            Command::SetOrigins(cmd::SetOrigins {
                queue: q.clone(),
                auth: KEY,
                add: add.iter().map(|s| s.to_string()).collect(),
                remove: remove.iter().map(|s| s.to_string()).collect(),
            }),
        )
    };
    assert!(matches!(set(&mut h, &["*"], &[]), Response::Refused(_)));
    set(&mut h, &["https://a.example", "https://b.example"], &[]);
    match set(&mut h, &[], &["https://a.example"]) {
        Response::Origins { origins } => {
            assert!(origins.allows("https://b.example") && !origins.allows("https://a.example"));
            assert_ne!(origins, Origins::Any);
        }
        other => panic!("{other:?}"),
    }
    h.publish(4, &q, "{}", Some("k"));
    assert_eq!(
        h.run(
            5,
            Command::DeleteQueue(cmd::DeleteQueue {
                queue: q.clone(),
                auth: [1; 32]
            })
        ),
        Response::Refused(CommandError::Unauthorized)
    );
    assert_eq!(
        h.run(
            5,
            Command::DeleteQueue(cmd::DeleteQueue {
                queue: q.clone(),
                auth: KEY
            })
        ),
        Response::Done
    );
    assert!(h.state.queue(&q).is_none());
    assert!(h.mem.messages.is_empty() && h.mem.idempotency.is_empty());
    assert_eq!(
        h.publish(6, &q, "{}", None),
        Response::Refused(CommandError::QueueNotFound)
    );
}
