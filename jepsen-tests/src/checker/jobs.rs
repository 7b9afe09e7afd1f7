//! Job anomalies: double completion, stale-token completion, lost jobs.

use std::collections::BTreeMap;

use super::{Anomaly, AnomalyKind, Operation};
use crate::{FinalState, Op, Outcome};

pub(super) fn check(ops: &[Operation], fin: &FinalState, out: &mut Vec<Anomaly>) {
    let mut completions: BTreeMap<&str, Vec<(&Operation, u64)>> = BTreeMap::new();
    let mut claims: BTreeMap<&str, Vec<(&Operation, u64)>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        match &o.op {
            Op::CompleteJob { job, attempt } => completions
                .entry(job.as_str())
                .or_default()
                .push((o, *attempt)),
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
        for (c, attempt) in done {
            // A newer claim that finished before this completion began made its token stale.
            let newer = claims
                .get(job)
                .into_iter()
                .flatten()
                .find(|(claim, a)| *a > *attempt && claim.end < c.start);
            if let Some((claim, a)) = newer {
                out.push(Anomaly {
                    kind: AnomalyKind::StaleCompletion,
                    events: [claim.events(), c.events()].concat(),
                    message: format!("{job} completed with attempt {attempt}'s token after attempt {a} was claimed"),
                });
            }
        }
    }
}
