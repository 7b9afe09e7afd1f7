//! Publishing, acking, pulling, idempotency, the clock and the layout.

use super::*;
use crate::command as cmd;

#[test]
fn inspection_consumers_are_never_registered() {
    let mut h = Harness::new();
    let q = h.create();
    let consumers = &h.state.queue(&q).expect("queue").consumers;
    assert_eq!(consumers.keys().collect::<Vec<_>>(), vec!["me"]);
    h.publish(2, &q, "{}", None);
    assert!(matches!(
        h.ack(&q, "_dash_x", 1),
        Response::Refused(CommandError::Invalid(_))
    ));
}

#[test]
fn wrong_key_and_unknown_queue_change_nothing() {
    let mut h = Harness::new();
    let q = h.create();
    let before = h.state.clone();
    let r = h.run(
        5,
        Command::Publish(cmd::Publish {
            queue: q.clone(),
            auth: [0; 32],
            id: "qm_x".into(),
            payload: "{}".into(),
            source: Source::Publish,
            idempotency: None,
            hold: None,
        }),
    );
    assert_eq!(r, Response::Refused(CommandError::Unauthorized));
    let other = QueueId::new(1, 43);
    let r = h.publish(6, &other, "{}", None);
    assert_eq!(r, Response::Refused(CommandError::QueueNotFound));
    let wrong_shard = QueueId::new(2, 43);
    assert!(matches!(
        h.publish(7, &wrong_shard, "{}", None),
        Response::Refused(CommandError::Invalid(_))
    ));
    // Only the clock moved.
    assert_eq!(h.state.queue(&q), before.queue(&q));
    assert!(h.mem.messages.is_empty());
}

#[test]
fn idempotent_publish_returns_the_original_and_refuses_other_bodies() {
    let mut h = Harness::new();
    let q = h.create();
    let first = h.publish(10, &q, "{\"a\":1}", Some("k1"));
    let again = h.publish(20, &q, "{\"a\":1}", Some("k1"));
    match (&first, &again) {
        (
            Response::Published {
                seq: s1,
                id: i1,
                replayed: false,
                ..
            },
            Response::Published {
                seq: s2,
                id: i2,
                replayed: true,
                ..
            },
        ) => assert_eq!((s1, i1), (s2, i2)),
        other => panic!("{other:?}"),
    }
    let clash = h.publish(30, &q, "{\"a\":22}", Some("k1"));
    assert_eq!(clash, Response::Refused(CommandError::IdempotencyMismatch));
    assert_eq!(h.mem.messages.len(), 1);
    h.publish(25, &q, "{}", Some("k2"));
    // After 24 h the key is forgotten and publishes anew.
    let later = h.publish(10 + IDEMPOTENCY_WINDOW_MS, &q, "{\"a\":1}", Some("k1"));
    assert_eq!(seq_of(&later), 3);
    // Sweeps forget expired uses of keys, but never the record of a later use.
    h.run(40 + IDEMPOTENCY_WINDOW_MS, Command::Tick);
    assert!(
        h.mem.idempotency.contains_key(&(q.clone(), "k1".into())),
        "k1 was used again"
    );
    assert!(
        !h.mem.idempotency.contains_key(&(q.clone(), "k2".into())),
        "k2 expired"
    );
    let times: Vec<u64> = h
        .mem
        .idempotency_times
        .iter()
        .map(|(_, at, _)| *at)
        .collect();
    assert_eq!(times, vec![10 + IDEMPOTENCY_WINDOW_MS]);
}

#[test]
fn ack_past_head_is_refused_and_stores_nothing() {
    let mut h = Harness::new();
    let q = h.create();
    h.publish(2, &q, "{}", None);
    let r = h.ack(&q, "me", 2);
    assert_eq!(
        r,
        Response::Refused(CommandError::CursorPastHead { cursor: 2, head: 1 })
    );
    assert_eq!(h.state.queue(&q).expect("queue").consumers["me"], 0);
    // An unknown consumer's first ack registers it.
    assert_eq!(h.ack(&q, "new", 1), Response::Acked { cursor: 1 });
    assert_eq!(h.state.queue(&q).expect("queue").consumers["new"], 1);
}

#[test]
fn pull_defaults_to_the_acked_cursor_and_never_advances() {
    let mut h = Harness::new();
    let q = h.create();
    for t in 0..5 {
        h.publish(t + 2, &q, "{}", None);
    }
    h.ack(&q, "me", 2);
    for _ in 0..2 {
        match h.pull(&q, "me", None, 2) {
            QueryResult::Pulled {
                messages,
                cursor,
                next_cursor,
                has_more,
                ..
            } => {
                assert_eq!(cursor, 2);
                assert_eq!(
                    messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
                    vec![3, 4]
                );
                assert_eq!(next_cursor, 4);
                assert!(has_more);
            }
            other => panic!("{other:?}"),
        }
    }
    match h.pull(&q, "me", Some(5), 10) {
        QueryResult::Pulled {
            messages,
            next_cursor,
            has_more,
            ..
        } => {
            assert!(messages.is_empty());
            assert_eq!(next_cursor, 5);
            assert!(!has_more);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_first_layout_wins_and_only_in_the_metadata_group() {
    let mut meta = ShardState::new(crate::META_GROUP);
    let mem = crate::mem::MemStore::default();
    let init = |state: &mut ShardState, shards| {
        state
            .apply(1, &Command::InitLayout(cmd::InitLayout { shards }), &mem)
            .expect("lookup")
            .0
    };
    assert_eq!(init(&mut meta, 4), Response::Layout { shards: 4 });
    assert_eq!(init(&mut meta, 7), Response::Layout { shards: 4 });
    assert_eq!(meta.header().layout, Some(4));
    let mut shard = ShardState::new(1);
    assert!(matches!(
        init(&mut shard, 4),
        Response::Refused(CommandError::Invalid(_))
    ));
    assert_eq!(shard.header().layout, None);
}

#[test]
fn clock_is_monotonic_across_skewed_leaders() {
    let mut h = Harness::new();
    let q = h.create();
    let a = h.publish(1_000, &q, "{}", None);
    let b = h.publish(500, &q, "{}", None);
    let at = |r: &Response| match r {
        Response::Published {
            published_at_ms, ..
        } => *published_at_ms,
        other => panic!("{other:?}"),
    };
    assert!(at(&b) >= at(&a));
}

#[test]
fn only_queues_never_published_to_expire_and_only_after_their_time() {
    let mut h = Harness::new();
    let used = h.create(); // created at t = 1
    h.publish(2, &used, "{}", None);
    let unused = QueueId::new(1, 77);
    let create = Command::CreateQueue(cmd::CreateQueue {
        id: unused.clone(),
        key_digest: KEY,
        consumers: vec![],
        settings: QueueSettings::default(),
    });
    assert!(matches!(h.run(1_000, create), Response::Created { .. }));
    let expire = || {
        Command::ExpireUnused(cmd::ExpireUnused {
            unused_for_ms: 10_000,
        })
    };
    h.run(10_999, expire());
    assert!(h.state.queue(&unused).is_some(), "too young to expire");
    h.run(11_000, expire());
    assert!(h.state.queue(&unused).is_none(), "never used, old enough");
    assert!(
        h.state.queue(&used).is_some(),
        "a queue with messages stays"
    );
}
