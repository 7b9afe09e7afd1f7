//! The checker: pairs each invocation with its completion, then looks for every anomaly kind.

mod jobs;
mod queue;
mod tasks;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Event, FinalState, Op, Outcome};

/// What can go wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// An acknowledged publish is missing from the final state.
    LostPublish,
    /// A publish the server said certainly failed (every attempt of it) took effect.
    FailedPublishApplied,
    /// One logical message stored under two seqs.
    DuplicatePublish,
    /// One seq acknowledged for two different messages.
    DuplicateSeq,
    /// Publish A finished before B started, yet A's seq is higher.
    RealTimeOrder,
    /// A consumer's acked cursor moved back.
    CursorBack,
    /// A pull skipped a message that should have been there.
    PullSkip,
    /// A pull returned a message that was never published (or under another seq).
    PullInvent,
    /// A dead letter is in the DLQ more or fewer times than once, or a replay is not exactly
    /// one envelope.
    DlqNotExactlyOnce,
    /// Two completions of one job were accepted.
    JobCompletedTwice,
    /// A completion or failure with an outdated lease was accepted.
    StaleCompletion,
    /// An acknowledged job is missing from the final state.
    LostJob,
    /// A job cancelled while pending (final) was also completed.
    CancelledJobCompleted,
    /// Two completions of one work-queue task were accepted.
    TaskCompletedTwice,
    /// A task's completion was accepted with the token of an assignment that a later one
    /// (a steal, or a new dequeue after the lease lapsed) had already replaced.
    StaleTaskCompletion,
    /// An acknowledged task is missing from the final state.
    LostTask,
    /// The final state holds something no operation could have put there: a message nobody
    /// published, a replay nobody asked for, a dead letter nobody nacked (Jepsen's
    /// "unexpected").
    UnexpectedMessage,
}

/// One anomaly, with the history lines involved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// What.
    pub kind: AnomalyKind,
    /// Indexes (0-based) of the history events involved.
    pub events: Vec<usize>,
    /// Details.
    pub message: String,
}

/// The verdict.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// No anomaly found.
    pub valid: bool,
    /// Every anomaly.
    pub anomalies: Vec<Anomaly>,
    /// Anomalies per kind.
    pub counts: BTreeMap<String, usize>,
    /// Completed operations per outcome (`ok`, `fail`, `info`) and per still-open invocation.
    pub ops: BTreeMap<String, usize>,
}

/// An operation: its invocation and completion.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    /// Index of the invoke event.
    pub invoke: usize,
    /// Index of the completion event, if any.
    pub complete: Option<usize>,
    /// How it ended (`Info` when it never completed).
    pub outcome: Outcome,
    /// The op, with the completion's results when there are any.
    pub op: Op,
    /// When it was invoked.
    pub start: u64,
    /// When it completed (`u64::MAX` when it never did).
    pub end: u64,
}

impl Operation {
    /// The history lines of this operation.
    pub fn events(&self) -> Vec<usize> {
        std::iter::once(self.invoke).chain(self.complete).collect()
    }
}

/// Pairs invocations with completions, per process, in history order.
pub(crate) fn operations(history: &[Event]) -> Vec<Operation> {
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ops: Vec<Operation> = Vec::new();
    for (i, e) in history.iter().enumerate() {
        match e.outcome {
            Outcome::Invoke => {
                open.insert(e.process, ops.len());
                ops.push(Operation {
                    invoke: i,
                    complete: None,
                    outcome: Outcome::Info,
                    op: e.op.clone(),
                    start: e.time,
                    end: u64::MAX,
                });
            }
            done => {
                if let Some(at) = open.remove(&e.process) {
                    let op = &mut ops[at];
                    op.complete = Some(i);
                    op.outcome = done;
                    op.op = e.op.clone();
                    op.end = e.time;
                }
            }
        }
    }
    ops
}

/// Checks `history` against `final_state`.
pub fn check(history: &[Event], final_state: &FinalState) -> Report {
    let ops = operations(history);
    let mut anomalies = Vec::new();
    queue::check(&ops, final_state, &mut anomalies);
    jobs::check(&ops, final_state, &mut anomalies);
    tasks::check(&ops, final_state, &mut anomalies);
    anomalies.sort_by(|a, b| (a.kind, &a.events).cmp(&(b.kind, &b.events)));
    let mut counts = BTreeMap::new();
    for a in &anomalies {
        *counts
            .entry(
                serde_json::to_value(a.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            )
            .or_insert(0) += 1;
    }
    let mut by_outcome = BTreeMap::new();
    for op in &ops {
        let name = match (op.outcome, op.complete) {
            (_, None) => "open",
            (Outcome::Ok, _) => "ok",
            (Outcome::Fail, _) => "fail",
            _ => "info",
        };
        *by_outcome.entry(name.to_owned()).or_insert(0) += 1;
    }
    Report {
        valid: anomalies.is_empty(),
        anomalies,
        counts,
        ops: by_outcome,
    }
}
