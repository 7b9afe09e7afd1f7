//! The history: one JSON line per event, as Jepsen records them (invoke, then ok / fail / info).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The client sent the request.
    Invoke,
    /// It took effect, with the recorded result.
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// Unknown (timeout, connection lost): it may or may not have taken effect.
    Info,
}

/// An operation of a workload, with its result once known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Op {
    /// A fault the nemesis injected (`invoke` when it starts, `ok` once healed), recorded so
    /// reports can show when faults were active; the checker ignores it.
    Nemesis {
        /// What was done, e.g. `partition [2]` or `kill 3`.
        fault: String,
    },
    /// Publish `value` (unique per logical message) with an Idempotency-Key; `seq` on ok.
    Publish {
        /// Idempotency key.
        key: String,
        /// The unique payload.
        value: String,
        /// The seq the server acknowledged.
        #[serde(default)]
        seq: Option<u64>,
    },
    /// Pull after `cursor`; the `(seq, value)` pairs returned on ok.
    Pull {
        /// The consumer.
        consumer: String,
        /// Exclusive start.
        cursor: u64,
        /// What came back.
        #[serde(default)]
        messages: Vec<(u64, String)>,
    },
    /// Ack up to `cursor`; the stored cursor on ok.
    Ack {
        /// The consumer.
        consumer: String,
        /// The cursor asked.
        cursor: u64,
        /// The cursor stored.
        #[serde(default)]
        stored: Option<u64>,
    },
    /// Dead-letter the message `value`.
    DeadLetter {
        /// The message's payload.
        value: String,
    },
    /// Replay the dead letter of `value`; the new envelope's seq on ok.
    Replay {
        /// The dead-lettered payload.
        value: String,
        /// The replayed envelope's seq.
        #[serde(default)]
        seq: Option<u64>,
    },
    /// Enqueue job `job`.
    EnqueueJob {
        /// The job's id.
        job: String,
    },
    /// A worker claimed `job` at `attempt` with `token`.
    ClaimJob {
        /// The job.
        job: String,
        /// Attempt number.
        #[serde(default)]
        attempt: u64,
    },
    /// A worker completed `job` with the lease of `attempt`.
    CompleteJob {
        /// The job.
        job: String,
        /// The attempt whose token was presented.
        attempt: u64,
    },
    /// Cancel `job`; on ok, whether it was still pending and is now cancelled for good (else
    /// cancellation was only requested of its running worker).
    CancelJob {
        /// The job.
        job: String,
        /// It ended cancelled at once.
        #[serde(default)]
        cancelled: bool,
    },
    /// Add work-queue task `task` (its id on ok).
    AddTask {
        /// The task's id.
        task: String,
    },
    /// An agent was handed `task` (dequeue or steal) with lease `token`.
    TakeTask {
        /// The task.
        task: String,
        /// The assignment's fencing token.
        token: String,
    },
    /// An agent completed `task` presenting `token`.
    CompleteTask {
        /// The task.
        task: String,
        /// The token presented.
        token: String,
    },
    /// A worker failed `job`'s attempt (retryably) with the lease of `attempt`.
    FailJob {
        /// The job.
        job: String,
        /// The attempt whose token was presented.
        attempt: u64,
    },
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The client process.
    pub process: u64,
    /// Invoke or completion.
    #[serde(rename = "type")]
    pub outcome: Outcome,
    /// The operation (with results on completion).
    #[serde(flatten)]
    pub op: Op,
    /// Monotonic time, ns.
    pub time: u64,
}

/// A history, in the order events happened.
pub type History = Vec<Event>;

/// What the cluster holds after the run, read once every fault was healed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// The queue's envelopes, `seq -> value`.
    #[serde(default)]
    pub messages: BTreeMap<u64, String>,
    /// Every envelope's seq at or below this was garbage-collected.
    #[serde(default)]
    pub floor: u64,
    /// Values of the dead letters still in the DLQ, one entry per row.
    #[serde(default)]
    pub dlq: Vec<String>,
    /// Replayed envelopes: `seq -> replayed value`.
    #[serde(default)]
    pub replays: BTreeMap<u64, String>,
    /// Every job's final status.
    #[serde(default)]
    pub jobs: BTreeMap<String, String>,
    /// Every work-queue task's final status.
    #[serde(default)]
    pub tasks: BTreeMap<String, String>,
}

/// Reads a JSON-lines history.
pub fn parse(text: &str) -> anyhow::Result<History> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| anyhow::anyhow!("history line {}: {e}", i + 1))
        })
        .collect()
}
