//! Unit and property tests of the shard state machine over an in-memory [`Lookup`].

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::queue::IDEMPOTENCY_WINDOW_MS;
use crate::{
    Binding, DlqEntry, FormId, HeldPublish, Origins, QueueSettings, Retention, Source, Submission,
};

/// Bulk data kept in maps, as storage would keep it in RocksDB.
#[derive(Default)]
struct Mem {
    messages: BTreeMap<(QueueId, u64), Envelope>,
    idempotency: BTreeMap<(QueueId, String), IdempotencyRecord>,
    dlq: BTreeMap<(QueueId, u64), DlqEntry>,
    idempotency_times: std::collections::BTreeSet<(QueueId, u64, String)>,
    submissions: BTreeMap<(FormId, u64), Submission>,
    held: BTreeMap<(QueueId, u64), HeldPublish>,
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
    fn expired_idempotency(
        &self,
        q: &QueueId,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, LookupError> {
        let mut out: Vec<(u64, String)> = self
            .idempotency_times
            .iter()
            .filter(|(queue, at, _)| queue == q && *at < before_ms)
            .map(|(_, at, key)| (*at, key.clone()))
            .collect();
        out.sort();
        out.truncate(limit);
        Ok(out)
    }
    fn submissions(
        &self,
        f: &FormId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Submission>, LookupError> {
        Ok(self
            .submissions
            .range((f.clone(), after + 1)..=(f.clone(), u64::MAX))
            .take(limit)
            .map(|(_, s)| s.clone())
            .collect())
    }
    fn held(
        &self,
        q: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, HeldPublish)>, LookupError> {
        Ok(self
            .held
            .range((q.clone(), after + 1)..=(q.clone(), u64::MAX))
            .take(limit)
            .map(|((_, row), h)| (*row, h.clone()))
            .collect())
    }
    fn dlq_row(&self, q: &QueueId, msg_id: &str) -> Result<Option<(u64, DlqEntry)>, LookupError> {
        Ok(self
            .dlq
            .iter()
            .find(|((queue, _), e)| queue == q && e.envelope.id == msg_id)
            .map(|((_, row), e)| (*row, e.clone())))
    }
    fn dlq_page(
        &self,
        q: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, DlqEntry)>, LookupError> {
        Ok(self
            .dlq
            .range((q.clone(), after + 1)..=(q.clone(), u64::MAX))
            .take(limit)
            .map(|((_, row), e)| (*row, e.clone()))
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
                Effect::PutQueue(_)
                | Effect::PutForm(_)
                | Effect::PutAccount(_)
                | Effect::PutIpUsage(_) => {}
                Effect::PutHeld { queue, row, held } => {
                    assert!(
                        self.mem.held.insert((queue, row), held).is_none(),
                        "held row reused"
                    );
                }
                Effect::DeleteHeld { queue, through } => {
                    self.mem
                        .held
                        .retain(|(q, row), _| *q != queue || *row > through);
                }
                Effect::PutSubmission { form, submission } => {
                    self.mem
                        .submissions
                        .insert((form, submission.seq), submission);
                }
                Effect::PutMessage { queue, envelope } => {
                    let prev = self.mem.messages.insert((queue, envelope.seq), envelope);
                    assert!(prev.is_none(), "a seq was written twice");
                }
                Effect::PutIdempotency { queue, key, record } => {
                    self.mem
                        .idempotency_times
                        .insert((queue.clone(), record.at_ms, key.clone()));
                    self.mem.idempotency.insert((queue, key), record);
                }
                Effect::DeleteIdempotency {
                    queue,
                    key,
                    at_ms,
                    record,
                } => {
                    assert!(self.mem.idempotency_times.remove(&(
                        queue.clone(),
                        at_ms,
                        key.clone()
                    )));
                    if record {
                        self.mem.idempotency.remove(&(queue, key));
                    }
                }
                Effect::DeleteMessages { queue, through } => {
                    self.mem
                        .messages
                        .retain(|(q, seq), _| *q != queue || *seq > through);
                }
                Effect::PutDlq { queue, row, entry } => {
                    assert!(
                        self.mem.dlq.insert((queue, row), entry).is_none(),
                        "row reused"
                    );
                }
                Effect::DeleteDlq { queue, row, msg_id } => {
                    let gone = self.mem.dlq.remove(&(queue, row)).expect("row exists");
                    assert_eq!(gone.envelope.id, msg_id);
                }
                Effect::DeleteQueueData(queue) => {
                    self.mem.messages.retain(|(q, _), _| *q != queue);
                    self.mem.idempotency.retain(|(q, _), _| *q != queue);
                    self.mem.dlq.retain(|(q, _), _| *q != queue);
                    self.mem.idempotency_times.retain(|(q, _, _)| *q != queue);
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
                source: Source::Publish,
                idempotency: key.map(|k| (k.to_owned(), [body.len() as u8; 32])),
                hold: None,
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
            source: Source::Publish,
            idempotency: None,
            hold: None,
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
    Tick,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..10_000, proptest::option::of(0u8..4), 0u8..3)
            .prop_map(|(t, key, body)| Op::Publish { t, key, body }),
        (0u8..3, 0u64..40).prop_map(|(consumer, cursor)| Op::Ack { consumer, cursor }),
        Just(Op::Tick),
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
        let mut cursors: BTreeMap<String, u64> = BTreeMap::from([("me".to_owned(), 0)]);
        // The floor only rises, to the slowest registered consumer's cursor.
        let mut floor = 0;
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
                Op::Tick => {
                    prop_assert_eq!(h.run(0, Command::Tick), Response::Done);
                }
                Op::Ack { consumer, cursor } => {
                    // "me" is registered at create; the others register with their first ack.
                    let name = if consumer == 0 { "me".to_owned() } else { format!("c{consumer}") };
                    let before = cursors.get(&name).copied().unwrap_or(0);
                    match h.ack(&q, &name, cursor) {
                        Response::Acked { cursor: stored } => {
                            prop_assert!(cursor <= last_seq);
                            prop_assert_eq!(stored, before.max(cursor));
                            cursors.insert(name, stored);
                            floor = floor.max(cursors.values().min().copied().unwrap_or(0));
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
        // GC reaps exactly what every registered consumer acked.
        let min_cursor = floor;
        prop_assert_eq!(queue.floor_seq, min_cursor);
        let stored: Vec<u64> = h.mem.messages.keys().map(|(_, s)| *s).collect();
        prop_assert_eq!(stored, ((min_cursor + 1)..=last_seq).collect::<Vec<_>>());
        for start in 0..=last_seq {
            match h.pull(&q, "x", Some(start), 1000) {
                QueryResult::Pulled { messages, below_floor, .. } => {
                    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
                    let from = start.max(min_cursor);
                    prop_assert_eq!(seqs, ((from + 1)..=last_seq).collect::<Vec<_>>());
                    prop_assert_eq!(below_floor, start < min_cursor);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}

fn nack(h: &mut Harness, q: &QueueId, seq: u64, dead_letter: bool) -> Response {
    h.run(
        10,
        Command::Nack {
            queue: q.clone(),
            auth: KEY,
            consumer: "me".into(),
            seq,
            error: format!("failed {seq}"),
            dead_letter,
        },
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
            Command::ReplayDlq {
                queue: q.clone(),
                auth: KEY,
                dlq_msg_id: original.id.clone(),
                id: id.into(),
            },
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
            Command::SetConsumers {
                queue: q.clone(),
                auth: KEY,
                add: add.iter().map(|s| s.to_string()).collect(),
                remove: remove.iter().map(|s| s.to_string()).collect(),
            },
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
        Command::CreateQueue {
            id: id.clone(),
            key_digest: KEY,
            consumers: vec![],
            settings,
        },
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
            Command::SetOrigins {
                queue: q.clone(),
                auth: KEY,
                add: add.iter().map(|s| s.to_string()).collect(),
                remove: remove.iter().map(|s| s.to_string()).collect(),
            },
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
            Command::DeleteQueue {
                queue: q.clone(),
                auth: [1; 32]
            }
        ),
        Response::Refused(CommandError::Unauthorized)
    );
    assert_eq!(
        h.run(
            5,
            Command::DeleteQueue {
                queue: q.clone(),
                auth: KEY
            }
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

#[test]
fn forms_mirror_only_later_submissions_through_the_outbox() {
    let mut h = Harness::new();
    let q = h.create();
    let form = FormId::new(1, 5);
    let fkey = [4; 32];
    let created = h.run(
        1,
        Command::CreateForm {
            id: form.clone(),
            key_digest: fkey,
            name: "contact".into(),
        },
    );
    assert!(matches!(created, Response::FormCreated { .. }));
    let submit = |h: &mut Harness, n: u32| {
        h.run(
            2,
            Command::Submit {
                form: form.clone(),
                id: format!("sub_{n}"),
                payload: format!("{{\"n\":{n}}}"),
            },
        )
    };
    assert!(matches!(
        submit(&mut h, 1),
        Response::Submitted {
            seq: 1,
            mirrored: false,
            ..
        }
    ));
    let binding = Binding {
        queue: q.clone(),
        queue_auth: KEY,
    };
    let wrong = h.run(
        3,
        Command::BindForm {
            form: form.clone(),
            auth: [0; 32],
            binding: binding.clone(),
        },
    );
    assert_eq!(wrong, Response::Refused(CommandError::FormUnauthorized));
    assert!(matches!(
        h.run(
            3,
            Command::BindForm {
                form: form.clone(),
                auth: fkey,
                binding: binding.clone()
            }
        ),
        Response::FormState { .. }
    ));
    assert!(matches!(
        submit(&mut h, 2),
        Response::Submitted {
            seq: 2,
            mirrored: true,
            ..
        }
    ));
    assert!(matches!(
        submit(&mut h, 3),
        Response::Submitted {
            seq: 3,
            mirrored: true,
            ..
        }
    ));
    let outbox = |h: &Harness| match h
        .state
        .query(&Query::MirrorOutbox { limit: 10 }, &h.mem)
        .expect("lookup")
    {
        QueryResult::Outbox(work) => work,
        other => panic!("{other:?}"),
    };
    let work = outbox(&h);
    assert_eq!(work.len(), 1);
    assert_eq!(
        work[0]
            .submissions
            .iter()
            .map(|s| s.seq)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    h.run(
        4,
        Command::MirrorDone {
            form: form.clone(),
            through: 3,
            failed: None,
        },
    );
    assert!(outbox(&h).is_empty());
    // A refused mirror drops the binding and records why.
    submit(&mut h, 4);
    h.run(
        5,
        Command::MirrorDone {
            form: form.clone(),
            through: 4,
            failed: Some("queue not found".into()),
        },
    );
    let f = h.state.form(&form).expect("form");
    assert_eq!(
        (f.binding.is_none(), f.mirror_error.as_deref()),
        (true, Some("queue not found"))
    );
    assert!(matches!(
        submit(&mut h, 5),
        Response::Submitted {
            mirrored: false,
            ..
        }
    ));
    assert!(outbox(&h).is_empty());
}

#[test]
fn charges_count_monthly_and_refuse_over_the_limit() {
    let mut meta = Harness {
        state: ShardState::new(crate::META_GROUP),
        mem: Mem::default(),
    };
    let limits = crate::PlanLimits { free: 2, pro: 3 };
    let charge = |h: &mut Harness, t: u64, payer: crate::Payer| match h
        .run(t, Command::Charge { payer, limits })
    {
        Response::Charged { allowed, used, .. } => (allowed, used),
        other => panic!("{other:?}"),
    };
    meta.run(
        1,
        Command::CreateAccount {
            id: "acct_1".into(),
            plan: crate::Plan::Free,
        },
    );
    meta.run(
        1,
        Command::AddAccountKey {
            account: "acct_1".into(),
            key_digest: [8; 32],
        },
    );
    let acct = || crate::Payer::Account("acct_1".into());
    assert_eq!(charge(&mut meta, 2, acct()), (true, 1));
    assert_eq!(charge(&mut meta, 3, acct()), (true, 2));
    assert_eq!(charge(&mut meta, 4, acct()), (false, 2));
    // Per-IP counting for unclaimed queues, on the free limit.
    let ip = || crate::Payer::Ip("10.0.0.1".into());
    assert_eq!(charge(&mut meta, 5, ip()), (true, 1));
    // A raise lifts the limit and asks for a drain; a new month resets the count.
    match meta.run(
        6,
        Command::SetPlan {
            account: "acct_1".into(),
            plan: crate::Plan::Pro,
        },
    ) {
        Response::AccountState { account } => {
            assert_eq!((account.upgrades, account.drained), (1, 0))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(charge(&mut meta, 7, acct()), (true, 3));
    let next_month = 40 * 86_400_000;
    assert_eq!(charge(&mut meta, next_month, acct()), (true, 1));
    // Claims find the account by key.
    let q = QueueId::new(1, 1);
    assert_eq!(
        meta.run(
            8,
            Command::Claim {
                key_digest: [8; 32],
                queue: q.clone()
            }
        ),
        Response::Owner {
            owner: "acct_1".into()
        }
    );
    assert_eq!(
        meta.run(
            8,
            Command::Claim {
                key_digest: [9; 32],
                queue: q
            }
        ),
        Response::Refused(CommandError::AccountNotFound)
    );
    match meta
        .state
        .query(&Query::DrainWork, &meta.mem)
        .expect("lookup")
    {
        QueryResult::DrainWork(work) => assert_eq!(work.len(), 1),
        other => panic!("{other:?}"),
    }
    meta.run(
        9,
        Command::DrainDone {
            account: "acct_1".into(),
            upgrade: 1,
        },
    );
    match meta
        .state
        .query(&Query::DrainWork, &meta.mem)
        .expect("lookup")
    {
        QueryResult::DrainWork(work) => assert!(work.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn held_publishes_drain_first_and_in_order() {
    let mut h = Harness::new();
    let q = h.create();
    h.publish(2, &q, "{\"n\":1}", None);
    let hold = |h: &mut Harness, n: u32, key: Option<&str>| {
        h.run(
            3,
            Command::Publish {
                queue: q.clone(),
                auth: KEY,
                id: format!("qm_h{n}"),
                payload: format!("{{\"n\":{n}}}"),
                source: Source::Publish,
                idempotency: key.map(|k| (k.to_owned(), [n as u8; 32])),
                hold: Some(format!("pp_{n}")),
            },
        )
    };
    assert_eq!(
        hold(&mut h, 2, Some("k2")),
        Response::Held {
            pending_id: "pp_2".into()
        }
    );
    // A retried held publish is the same pending row, not a new one.
    assert_eq!(
        hold(&mut h, 2, Some("k2")),
        Response::Held {
            pending_id: "pp_2".into()
        }
    );
    hold(&mut h, 3, None);
    assert_eq!(h.mem.held.len(), 2);
    assert_eq!(h.mem.messages.len(), 1);
    // The next allowed publish drains the held ones first, keeping the order they were sent in.
    let r = h.publish(4, &q, "{\"n\":4}", None);
    assert_eq!(seq_of(&r), 4);
    let order: Vec<(u64, String, &'static str)> = h
        .mem
        .messages
        .values()
        .map(|e| (e.seq, e.payload.clone(), e.source.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (1, "{\"n\":1}".into(), "publish"),
            (2, "{\"n\":2}".into(), "quota-drain"),
            (3, "{\"n\":3}".into(), "quota-drain"),
            (4, "{\"n\":4}".into(), "publish"),
        ]
    );
    assert!(h.mem.held.is_empty());
    assert_eq!(
        h.run(5, Command::DrainHeld { queue: q.clone() }),
        Response::Drained { count: 0 }
    );
}
