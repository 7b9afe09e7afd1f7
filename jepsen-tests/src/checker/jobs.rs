//! Job anomalies: double completion, an attempt finished (completed or failed) with a stale
//! token, lost jobs, a job both cancelled for good and completed.

use std::collections::BTreeMap;

use super::{Anomaly, AnomalyKind, Operation};
use crate::{FinalState, Op, Outcome};

pub(super) fn check(ops: &[Operation], fin: &FinalState, out: &mut Vec<Anomaly>) {
    let mut completions: BTreeMap<&str, Vec<(&Operation, u64)>> = BTreeMap::new();
    let mut finishes: Vec<(&str, &Operation, u64)> = Vec::new();
    let mut cancelled: Vec<(&str, &Operation)> = Vec::new();
    let mut claims: BTreeMap<&str, Vec<(&Operation, u64)>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        match &o.op {
            Op::CompleteJob { job, attempt } => {
                completions
                    .entry(job.as_str())
                    .or_default()
                    .push((o, *attempt));
                finishes.push((job.as_str(), o, *attempt));
            }
            Op::FailJob { job, attempt } => finishes.push((job.as_str(), o, *attempt)),
            Op::CancelJob {
                job,
                cancelled: true,
            } => cancelled.push((job.as_str(), o)),
            Op::ClaimJob { job, attempt } => {
                claims.entry(job.as_str()).or_default().push((o, *attempt))
            }
            Op::EnqueueJob { job } if !fin.jobs.contains_key(job) => {
                out.push(Anomaly {
                    kind: AnomalyKind::LostJob,
                    events: o.events(),
                    message: format!("{job} was enqueued but is not in the final state"),
                });
            }
            _ => {}
        }
    }
    for (job, done) in &completions {
        if done.len() > 1 {
            out.push(Anomaly {
                kind: AnomalyKind::JobCompletedTwice,
                events: done.iter().flat_map(|(o, _)| o.events()).collect(),
                message: format!("{job} completed {} times", done.len()),
            });
        }
    }
    // Cancelling a pending job ends it: no attempt can complete it, before or after.
    for (job, c) in cancelled {
        let done = completions.get(job).map(Vec::as_slice).unwrap_or_default();
        let final_status = fin.jobs.get(job).map(String::as_str);
        if !done.is_empty() || final_status == Some("completed") {
            out.push(Anomaly {
                kind: AnomalyKind::CancelledJobCompleted,
                events: c
                    .events()
                    .into_iter()
                    .chain(done.iter().flat_map(|(o, _)| o.events()))
                    .collect(),
                message: format!("{job} was cancelled while pending, yet completed"),
            });
        }
    }
    for (job, f, attempt) in finishes {
        // A newer claim that finished before this completion (or failure) began made its
        // token stale.
        let newer = claims
            .get(job)
            .into_iter()
            .flatten()
            .find(|(claim, a)| *a > attempt && claim.end < f.start);
        if let Some((claim, a)) = newer {
            out.push(Anomaly {
                kind: AnomalyKind::StaleCompletion,
                events: [claim.events(), f.events()].concat(),
                message: format!(
                    "{job} finished with attempt {attempt}'s token after attempt {a} was claimed"
                ),
            });
        }
    }
}
