//! Work-queue task anomalies: a task completed twice, a completion with a replaced token, a
//! lost task. Tokens are opaque (the server draws them), so "replaced" is judged by real time:
//! another assignment of the task that finished before the completion began.

use std::collections::BTreeMap;

use super::{Anomaly, AnomalyKind, Operation};
use crate::{FinalState, Op, Outcome};

pub(super) fn check(ops: &[Operation], fin: &FinalState, out: &mut Vec<Anomaly>) {
    let mut completions: BTreeMap<&str, Vec<(&Operation, &str)>> = BTreeMap::new();
    let mut takes: BTreeMap<&str, Vec<(&Operation, &str)>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        match &o.op {
            Op::CompleteTask { task, token } => completions
                .entry(task.as_str())
                .or_default()
                .push((o, token.as_str())),
            Op::TakeTask { task, token } => takes
                .entry(task.as_str())
                .or_default()
                .push((o, token.as_str())),
            Op::AddTask { task } if !fin.tasks.contains_key(task) => out.push(Anomaly {
                kind: AnomalyKind::LostTask,
                events: o.events(),
                message: format!("{task} was added but is not in the final state"),
            }),
            _ => {}
        }
    }
    for (task, done) in &completions {
        if done.len() > 1 {
            out.push(Anomaly {
                kind: AnomalyKind::TaskCompletedTwice,
                events: done.iter().flat_map(|(o, _)| o.events()).collect(),
                message: format!("{task} completed {} times", done.len()),
            });
        }
        let all_takes = takes.get(task).map(Vec::as_slice).unwrap_or_default();
        for (c, token) in done {
            // The assignment this token came from, and a later one finished before the
            // completion began.
            let Some((mine, _)) = all_takes.iter().find(|(_, t)| t == token) else {
                continue;
            };
            let replaced = all_takes
                .iter()
                .find(|(t, other)| other != token && t.start > mine.end && t.end < c.start);
            if let Some((newer, _)) = replaced {
                out.push(Anomaly {
                    kind: AnomalyKind::StaleTaskCompletion,
                    events: [mine.events(), newer.events(), c.events()].concat(),
                    message: format!("{task} completed with token {token} after it was reassigned"),
                });
            }
        }
    }
}
