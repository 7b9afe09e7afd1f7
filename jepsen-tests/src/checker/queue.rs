//! Queue anomalies: lost or duplicated publishes, real-time order, cursors, pulls, the DLQ.

use std::collections::{BTreeMap, BTreeSet};

use super::{Anomaly, AnomalyKind, Operation};
use crate::{FinalState, Op, Outcome};

fn anomaly(kind: AnomalyKind, events: Vec<usize>, message: String) -> Anomaly {
    Anomaly {
        kind,
        events,
        message,
    }
}

pub(super) fn check(ops: &[Operation], fin: &FinalState, out: &mut Vec<Anomaly>) {
    let publishes: Vec<(&Operation, &str, &str, u64)> = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .filter_map(|o| match &o.op {
            Op::Publish {
                key,
                value,
                seq: Some(s),
            } => Some((o, key.as_str(), value.as_str(), *s)),
            _ => None,
        })
        .collect();
    // Every publish ever attempted (any outcome) and every replay: what may legitimately exist.
    let attempted: BTreeSet<&str> = ops
        .iter()
        .filter_map(|o| match &o.op {
            Op::Publish { value, .. } => Some(value.as_str()),
            _ => None,
        })
        .collect();
    let replayed: BTreeSet<u64> = fin.replays.keys().copied().collect();

    // Lost: acknowledged, above the floor, and not at its seq.
    for (o, _, value, seq) in &publishes {
        if *seq > fin.floor && fin.messages.get(seq).map(String::as_str) != Some(*value) {
            let found = fin
                .messages
                .get(seq)
                .cloned()
                .unwrap_or_else(|| "nothing".into());
            out.push(anomaly(
                AnomalyKind::LostPublish,
                o.events(),
                format!("{value} acknowledged at seq {seq}, final state has {found} there"),
            ));
        }
    }
    // Refused or "unavailable" promises nothing happened: a value whose every attempt failed
    // must never show up.
    let mut fates: BTreeMap<&str, (bool, Vec<&Operation>)> = BTreeMap::new();
    for o in ops {
        if let Op::Publish { value, .. } = &o.op {
            let fate = fates.entry(value.as_str()).or_insert((true, Vec::new()));
            fate.0 &= o.outcome == Outcome::Fail;
            fate.1.push(o);
        }
    }
    let pulled: BTreeSet<&str> = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .flat_map(|o| match &o.op {
            Op::Pull { messages, .. } => messages.iter().map(|(_, v)| v.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect();
    let stored: BTreeSet<&str> = fin.messages.values().map(String::as_str).collect();
    for (value, (all_failed, attempts)) in &fates {
        if *all_failed && (stored.contains(value) || pulled.contains(value)) {
            out.push(anomaly(
                AnomalyKind::FailedPublishApplied,
                attempts.iter().flat_map(|o| o.events()).collect(),
                format!("{value} was refused or reported unavailable, yet it was published"),
            ));
        }
    }
    unexpected(ops, fin, &attempted, out);
    // One seq for two messages; one key under two seqs.
    let mut by_seq: BTreeMap<u64, Vec<&(&Operation, &str, &str, u64)>> = BTreeMap::new();
    let mut by_key: BTreeMap<&str, Vec<&(&Operation, &str, &str, u64)>> = BTreeMap::new();
    for p in &publishes {
        by_seq.entry(p.3).or_default().push(p);
        by_key.entry(p.1).or_default().push(p);
    }
    for (seq, ps) in &by_seq {
        let values: BTreeSet<&str> = ps.iter().map(|p| p.2).collect();
        if values.len() > 1 {
            let events = ps.iter().flat_map(|p| p.0.events()).collect();
            out.push(anomaly(
                AnomalyKind::DuplicateSeq,
                events,
                format!("seq {seq} acknowledged for {values:?}"),
            ));
        }
    }
    for (key, ps) in &by_key {
        let seqs: BTreeSet<u64> = ps.iter().map(|p| p.3).collect();
        if seqs.len() > 1 {
            let events = ps.iter().flat_map(|p| p.0.events()).collect();
            out.push(anomaly(
                AnomalyKind::DuplicatePublish,
                events,
                format!("key {key} acknowledged at seqs {seqs:?}"),
            ));
        }
    }
    // Stored twice: one published value at two seqs (replays carry their own seqs).
    let mut seqs_of: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (seq, value) in &fin.messages {
        if !replayed.contains(seq) {
            seqs_of.entry(value.as_str()).or_default().push(*seq);
        }
    }
    for (value, seqs) in seqs_of.iter().filter(|(_, s)| s.len() > 1) {
        let events = publishes
            .iter()
            .filter(|p| p.2 == *value)
            .flat_map(|p| p.0.events())
            .collect();
        out.push(anomaly(
            AnomalyKind::DuplicatePublish,
            events,
            format!("{value} stored at seqs {seqs:?}"),
        ));
    }
    // Real-time order: finished-before-started implies a lower seq. A publish retried under
    // its key began with its first attempt (any attempt may be the one that took effect).
    // Sorted by completion with a running maximum, each publish is compared with the highest
    // seq acknowledged before it began (O(n log n)).
    let mut began: BTreeMap<&str, u64> = BTreeMap::new();
    for o in ops {
        if let Op::Publish { key, .. } = &o.op {
            let start = began.entry(key.as_str()).or_insert(o.start);
            *start = (*start).min(o.start);
        }
    }
    let mut sorted: Vec<&(&Operation, &str, &str, u64)> = publishes.iter().collect();
    sorted.sort_by_key(|p| p.0.end);
    let mut prefix_max: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, p) in sorted.iter().enumerate() {
        let best = match prefix_max.last() {
            Some(&m) if sorted[m].3 >= p.3 => m,
            _ => i,
        };
        prefix_max.push(best);
    }
    for b in &publishes {
        let start = began.get(b.1).copied().unwrap_or(b.0.start);
        let before = sorted.partition_point(|a| a.0.end < start);
        if before == 0 {
            continue;
        }
        let a = sorted[prefix_max[before - 1]];
        if a.3 >= b.3 && a.2 != b.2 {
            out.push(anomaly(
                AnomalyKind::RealTimeOrder,
                [a.0.events(), b.0.events()].concat(),
                format!(
                    "{} (seq {}) finished before {} (seq {}) began",
                    a.2, a.3, b.2, b.3
                ),
            ));
        }
    }
    // Acked cursors never move back.
    let mut acks: BTreeMap<&str, Vec<(&Operation, u64)>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if let Op::Ack {
            consumer,
            stored: Some(s),
            ..
        } = &o.op
        {
            acks.entry(consumer.as_str()).or_default().push((o, *s));
        }
    }
    for (consumer, list) in &acks {
        for (x, sx) in list {
            for (y, sy) in list {
                if x.end < y.start && sy < sx {
                    out.push(anomaly(
                        AnomalyKind::CursorBack,
                        [x.events(), y.events()].concat(),
                        format!("{consumer}'s cursor went from {sx} back to {sy}"),
                    ));
                }
            }
        }
    }
    // Pulls: contiguous from the cursor (or from what GC left), and only real messages.
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let Op::Pull {
            cursor,
            messages,
            consumer,
        } = &o.op
        else {
            continue;
        };
        let mut expect = *cursor + 1;
        for (i, (seq, value)) in messages.iter().enumerate() {
            let gc_gap = i == 0 && seq.saturating_sub(1) <= fin.floor;
            if *seq != expect && !gc_gap {
                out.push(anomaly(
                    AnomalyKind::PullSkip,
                    o.events(),
                    format!("{consumer} pulled after {cursor}: expected seq {expect}, got {seq}"),
                ));
                break;
            }
            expect = seq + 1;
            let wrong = match fin.messages.get(seq) {
                Some(stored) => stored != value,
                None => {
                    *seq > fin.floor
                        || !(attempted.contains(value.as_str())
                            || fin.replays.values().any(|r| r == value))
                }
            };
            if wrong {
                out.push(anomaly(
                    AnomalyKind::PullInvent,
                    o.events(),
                    format!("{consumer} pulled seq {seq} = {value}, which the queue never held"),
                ));
            }
        }
    }
    // DLQ: each dead-lettered message once, unless replayed; each replay exactly one envelope.
    let mut dead: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    let mut replays: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for o in ops {
        match &o.op {
            Op::DeadLetter { value } if o.outcome == Outcome::Ok => {
                dead.entry(value.as_str()).or_default().push(o)
            }
            Op::Replay { value, .. } if o.outcome != Outcome::Fail => {
                replays.entry(value.as_str()).or_default().push(o)
            }
            _ => {}
        }
    }
    for (value, moved) in &dead {
        let in_dlq = fin.dlq.iter().filter(|v| v == value).count();
        let replay_ops = replays.get(value).map(Vec::as_slice).unwrap_or_default();
        let ok_replays = replay_ops
            .iter()
            .filter(|o| o.outcome == Outcome::Ok)
            .count();
        let allowed: &[usize] = if ok_replays > 0 {
            &[0]
        } else if replay_ops.is_empty() {
            &[1]
        } else {
            &[0, 1]
        };
        if !allowed.contains(&in_dlq) {
            let events = moved
                .iter()
                .chain(replay_ops)
                .flat_map(|o| o.events())
                .collect();
            out.push(anomaly(
                AnomalyKind::DlqNotExactlyOnce,
                events,
                format!("{value} is in the DLQ {in_dlq} times"),
            ));
        }
    }
    for (value, list) in &replays {
        for o in list.iter().filter(|o| o.outcome == Outcome::Ok) {
            if let Op::Replay { seq: Some(seq), .. } = &o.op {
                let stored = fin.messages.get(seq).or_else(|| fin.replays.get(seq));
                if *seq > fin.floor && stored.map(String::as_str) != Some(*value) {
                    out.push(anomaly(
                        AnomalyKind::DlqNotExactlyOnce,
                        o.events(),
                        format!("replay of {value} at seq {seq} is not in the queue"),
                    ));
                }
            }
        }
        // Replays the garbage collection has since removed are not in the final state.
        let copies = fin.replays.values().filter(|v| v == value).count();
        let ok = list
            .iter()
            .filter(|o| {
                o.outcome == Outcome::Ok
                    && matches!(o.op, Op::Replay { seq: Some(s), .. } if s > fin.floor)
            })
            .count();
        let maybe = list.len();
        if copies < ok || copies > maybe {
            let events = list.iter().flat_map(|o| o.events()).collect();
            out.push(anomaly(
                AnomalyKind::DlqNotExactlyOnce,
                events,
                format!(
                    "{value} replayed {ok}..={maybe} times but {copies} replayed envelopes exist"
                ),
            ));
        }
    }
}

/// Everything in the final state must come from an operation that may have made it: a message
/// from a publish of its value (any outcome but certain failure is checked above), a replayed
/// envelope from a replay of its value, a dead letter from a nack of its value.
fn unexpected(
    ops: &[Operation],
    fin: &FinalState,
    attempted: &BTreeSet<&str>,
    out: &mut Vec<Anomaly>,
) {
    let mut dead_lettered = BTreeSet::new();
    let mut replay_asked = BTreeSet::new();
    for o in ops.iter().filter(|o| o.outcome != Outcome::Fail) {
        match &o.op {
            Op::DeadLetter { value } => dead_lettered.insert(value.as_str()),
            Op::Replay { value, .. } => replay_asked.insert(value.as_str()),
            _ => false,
        };
    }
    for (seq, value) in &fin.messages {
        let (explained, what) = match fin.replays.get(seq) {
            Some(replayed) => (
                replayed == value && replay_asked.contains(value.as_str()),
                "a replay nobody asked for",
            ),
            None => (
                attempted.contains(value.as_str()),
                "a message nobody published",
            ),
        };
        if !explained {
            out.push(anomaly(
                AnomalyKind::UnexpectedMessage,
                Vec::new(),
                format!("the queue holds seq {seq} = {value}, {what}"),
            ));
        }
    }
    for (seq, value) in &fin.replays {
        if !fin.messages.contains_key(seq) && !replay_asked.contains(value.as_str()) {
            out.push(anomaly(
                AnomalyKind::UnexpectedMessage,
                Vec::new(),
                format!("the replays hold seq {seq} = {value}, a replay nobody asked for"),
            ));
        }
    }
    for value in &fin.dlq {
        if !dead_lettered.contains(value.as_str()) {
            out.push(anomaly(
                AnomalyKind::UnexpectedMessage,
                Vec::new(),
                format!("the DLQ holds {value}, which nobody dead-lettered"),
            ));
        }
    }
}
