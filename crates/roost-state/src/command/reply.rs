//! What applying a command answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Account, CommandError, Envelope, Form, Job, Origins, Plan, Queue, Task, WorkQueue};

/// The outcome of applying a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Applied; nothing to report.
    Done,
    /// The layout recorded in the metadata group.
    Layout {
        /// The shard count fixed at bootstrap.
        shards: u32,
    },
    /// The queue exists now.
    Created {
        /// Its metadata.
        queue: Queue,
    },
    /// An envelope was appended, or an idempotent retry found the original.
    Published {
        /// The envelope's seq.
        seq: u64,
        /// The envelope's id.
        id: String,
        /// Publish time (ms since the epoch).
        published_at_ms: u64,
        /// True when the idempotency key matched an earlier publish.
        replayed: bool,
    },
    /// The publish was held back by a quota.
    Held {
        /// Id reported to the publisher.
        pending_id: String,
    },
    /// How many held publishes were drained.
    Drained {
        /// Their number.
        count: u64,
    },
    /// The queue's owner after a claim.
    Owner {
        /// The account.
        owner: String,
    },
    /// An account after a change.
    AccountState {
        /// The account.
        account: Account,
    },
    /// The outcome of a charge.
    Charged {
        /// Whether the publish fits the payer's limit (and was counted).
        allowed: bool,
        /// The payer's plan (`free` for an IP).
        plan: Plan,
        /// Publishes counted this month.
        used: u64,
        /// The monthly limit (`None`: unlimited).
        limit: Option<u64>,
    },
    /// A job after a change (or found by its Idempotency-Key).
    JobState {
        /// The job.
        job: Box<Job>,
        /// False when an earlier request with the same key created it.
        created: bool,
    },
    /// Jobs handed to a worker.
    Claimed {
        /// The jobs, each with its lease.
        jobs: Vec<Job>,
    },
    /// A work queue after a change.
    WorkQueueState {
        /// The queue.
        queue: WorkQueue,
    },
    /// A task after a change (or found by its Idempotency-Key).
    TaskState {
        /// The task.
        task: Box<Task>,
        /// False when an earlier request with the same key created it.
        created: bool,
    },
    /// The task a dequeue or steal assigned, if any was pending.
    Dequeued {
        /// The task.
        task: Option<Box<Task>>,
    },
    /// A heartbeat's answer.
    HeartbeatAck {
        /// The lease now ends then.
        expires_ms: u64,
        /// The client asked the job to stop.
        cancel_requested: bool,
    },
    /// The consumer's cursor after the ack.
    Acked {
        /// The stored cursor (never lower than before).
        cursor: u64,
    },
    /// The roster after a change.
    Consumers {
        /// Registered consumers and their cursors.
        consumers: BTreeMap<String, u64>,
    },
    /// A nack was counted.
    Nacked {
        /// The message.
        seq: u64,
        /// Nacks it has received.
        nack_count: u32,
        /// Whether it is (now or already) in the DLQ.
        dead_lettered: bool,
    },
    /// A dead letter was replayed as a new envelope.
    Replayed {
        /// The new envelope.
        envelope: Envelope,
    },
    /// The form exists now.
    FormCreated {
        /// Its metadata.
        form: Form,
    },
    /// A submission was stored.
    Submitted {
        /// Its id.
        id: String,
        /// Its seq.
        seq: u64,
        /// Whether it will be mirrored into a queue.
        mirrored: bool,
    },
    /// The form's metadata after a change.
    FormState {
        /// The form.
        form: Form,
    },
    /// The allowed origins after a change.
    Origins {
        /// The set.
        origins: Origins,
    },
    /// The command was refused and changed nothing.
    Refused(CommandError),
    /// The cluster's roster after a change.
    Roster(crate::Roster),
}
