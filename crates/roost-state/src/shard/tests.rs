//! Unit and property tests of the shard state machine over an in-memory [`Lookup`].

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::QueueSettings;

/// Bulk data kept in maps, as storage would keep it in RocksDB.
#[derive(Default)]
struct Mem {
    messages: BTreeMap<(QueueId, u64), Envelope>,
    idempotency: BTreeMap<(QueueId, String), IdempotencyRecord>,
}

impl Lookup for Mem {
    fn idempotency(
        &self,
        q: &QueueId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, LookupError> {
        Ok(self.idempotency.get(&(q.clone(), key.to_owned())).cloned())
    }
    fn messages(
        &self,
        q: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, LookupError> {
        Ok(self
            .messages
            .range((q.clone(), after + 1)..=(q.clone(), u64::MAX))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

/// A shard plus its bulk data, applying effects as storage does.
struct Harness {
    state: ShardState,
    mem: Mem,
}

const KEY: [u8; 32] = [7; 32];

impl Harness {
    fn new() -> Self {
        Harness {
            state: ShardState::new(1),
            mem: Mem::default(),
        }
    }

    fn run(&mut self, stamped_ms: u64, command: Command) -> Response {
        let req = Request {
            stamped_ms,
            command,
        };
        let (resp, effects) = self.state.apply(&req, &self.mem).expect("lookup");
        for e in effects {
            match e {
                Effect::PutQueue(id) => assert!(self.state.queue(&id).is_some()),
                Effect::PutMessage { queue, envelope } => {
                    let prev = self.mem.messages.insert((queue, envelope.seq), envelope);
                    assert!(prev.is_none(), "a seq was written twice");
                }
                Effect::PutIdempotency { queue, key, record } => {
                    self.mem.idempotency.insert((queue, key), record);
                }
            }
        }
        resp
    }

    fn create(&mut self) -> QueueId {
        let id = QueueId::new(1, 42);
        let resp = self.run(
            1,
            Command::CreateQueue {
                id: id.clone(),
                key_digest: KEY,
                consumers: vec!["me".into(), "_dash_view".into()],
                settings: QueueSettings::default(),
            },
        );
        assert!(matches!(resp, Response::Created { .. }));
        id
    }

    fn publish(&mut self, t: u64, q: &QueueId, body: &str, key: Option<&str>) -> Response {
        self.run(
            t,
            Command::Publish {
                queue: q.clone(),
                auth: KEY,
                id: format!("qm_{t}"),
                payload: body.into(),
                idempotency: key.map(|k| (k.to_owned(), [body.len() as u8; 32])),
            },
        )
    }

    fn ack(&mut self, q: &QueueId, consumer: &str, cursor: u64) -> Response {
        self.run(
            0,
            Command::Ack {
                queue: q.clone(),
                auth: KEY,
                consumer: consumer.into(),
                cursor,
            },
        )
    }

    fn pull(&self, q: &QueueId, consumer: &str, cursor: Option<u64>, limit: usize) -> QueryResult {
        let query = Query::Pull {
            queue: q.clone(),
            auth: KEY,
            consumer: consumer.into(),
            cursor,
            limit,
        };
        self.state.query(&query, &self.mem).expect("lookup")
    }
}

fn seq_of(r: &Response) -> u64 {
    match r {
        Response::Published { seq, .. } => *seq,
        other => panic!("not published: {other:?}"),
    }
}

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
        Command::Publish {
            queue: q.clone(),
            auth: [0; 32],
            id: "qm_x".into(),
            payload: "{}".into(),
            idempotency: None,
        },
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
    // After 24 h the key is forgotten and publishes anew.
    let later = h.publish(10 + IDEMPOTENCY_WINDOW_MS, &q, "{\"a\":1}", Some("k1"));
    assert_eq!(seq_of(&later), 2);
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
    let mem = Mem::default();
    let init = |state: &mut ShardState, shards| {
        let req = Request {
            stamped_ms: 1,
            command: Command::InitLayout { shards },
        };
        state.apply(&req, &mem).expect("lookup").0
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

/// A random operation against one queue.
#[derive(Clone, Debug)]
enum Op {
    Publish { t: u64, key: Option<u8>, body: u8 },
    Ack { consumer: u8, cursor: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..10_000, proptest::option::of(0u8..4), 0u8..3)
            .prop_map(|(t, key, body)| Op::Publish { t, key, body }),
        (0u8..3, 0u64..40).prop_map(|(consumer, cursor)| Op::Ack { consumer, cursor }),
    ]
}

proptest! {
    /// Seqs are unique, contiguous and increasing; acks never move back and never pass the
    /// head; pulls from any cursor return exactly the envelopes after it.
    #[test]
    fn queue_invariants_hold(ops in proptest::collection::vec(op(), 1..80)) {
        let mut h = Harness::new();
        let q = h.create();
        let mut last_seq = 0;
        let mut cursors: BTreeMap<String, u64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Publish { t, key, body } => {
                    let body = format!("{{\"b\":{body}}}");
                    let key = key.map(|k| format!("k{k}"));
                    let r = h.publish(t, &q, &body, key.as_deref());
                    if let Response::Published { seq, replayed, .. } = r {
                        if replayed {
                            prop_assert!(seq <= last_seq);
                        } else {
                            prop_assert_eq!(seq, last_seq + 1);
                            last_seq = seq;
                        }
                    }
                }
                Op::Ack { consumer, cursor } => {
                    let name = format!("c{consumer}");
                    let before = cursors.get(&name).copied().unwrap_or(0);
                    match h.ack(&q, &name, cursor) {
                        Response::Acked { cursor: stored } => {
                            prop_assert!(cursor <= last_seq);
                            prop_assert_eq!(stored, before.max(cursor));
                            cursors.insert(name, stored);
                        }
                        Response::Refused(CommandError::CursorPastHead { .. }) => {
                            prop_assert!(cursor > last_seq);
                        }
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
            }
        }
        let queue = h.state.queue(&q).expect("queue");
        prop_assert_eq!(queue.head_seq, last_seq);
        for (name, c) in &cursors {
            prop_assert_eq!(queue.consumers.get(name), Some(c));
        }
        for start in 0..=last_seq {
            match h.pull(&q, "c0", Some(start), 1000) {
                QueryResult::Pulled { messages, .. } => {
                    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
                    prop_assert_eq!(seqs, ((start + 1)..=last_seq).collect::<Vec<_>>());
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
