//! Property tests of a queue's invariants.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

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
    /// head; pulls from any cursor return exactly the envelopes after it. Cases that failed
    /// once are replayed first from `proptest-regressions/shard/tests/properties.txt`.
    #[test]
    fn queue_invariants_hold(ops in proptest::collection::vec(op(), 1..80)) {
        queue_invariants(ops)?;
    }
}

/// The case saved in `proptest-regressions/shard/tests/properties.txt`, kept as a plain test
/// too: the saved seed replays it only while the strategy stays as it is.
#[test]
fn the_saved_regression_case_still_holds() {
    let publish = || Op::Publish {
        t: 0,
        key: None,
        body: 0,
    };
    let ops = vec![
        publish(),
        publish(),
        publish(),
        Op::Ack {
            consumer: 0,
            cursor: 3,
        },
        Op::Ack {
            consumer: 1,
            cursor: 0,
        },
    ];
    if let Err(e) = queue_invariants(ops) {
        panic!("{e}");
    }
    // proptest reads saved cases from the path parallel to this source file.
    let saved = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("proptest-regressions/shard/tests/properties.txt");
    assert!(saved.exists(), "{} is missing", saved.display());
}

fn queue_invariants(ops: Vec<Op>) -> Result<(), TestCaseError> {
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
                let name = if consumer == 0 {
                    "me".to_owned()
                } else {
                    format!("c{consumer}")
                };
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
            QueryResult::Pulled {
                messages,
                below_floor,
                ..
            } => {
                let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
                let from = start.max(min_cursor);
                prop_assert_eq!(seqs, ((from + 1)..=last_seq).collect::<Vec<_>>());
                prop_assert_eq!(below_floor, start < min_cursor);
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    Ok(())
}
