//! What travels through Raft (commands) and what is answered from applied state (queries).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Account, Binding, CommandError, DlqEntry, Envelope, Form, FormId, GroupId, Job, JobEvent,
    JobSpec, JobStatus, JobTtl, MirrorWork, Origins, Payer, Plan, PlanLimits, Queue, QueueId,
    QueueSettings, Source, Submission, Task, TaskStatus, WorkQueue,
};

/// A replicated log entry: commands proposed together and stamped by the proposing leader.
///
/// Batching concurrent commands into one entry lets one log write and one fsync serve them all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The proposer's wall clock in ms since the Unix epoch. The machine's own clock is
    /// `max(seen, stamped)`, so time never runs backwards inside a group even when leaders'
    /// clocks disagree.
    pub stamped_ms: u64,
    /// What to do, in order; each gets its own [`Response`].
    pub commands: Vec<Command>,
}

impl Batch {
    /// Roughly how many bytes the batch carries, to keep entries small enough to replicate fast.
    pub fn weight(command: &Command) -> usize {
        match command {
            Command::Publish { payload, .. } => 128 + payload.len(),
            Command::Submit { payload, .. } => 128 + payload.len(),
            Command::Capped { command, .. } | Command::KeepHeld { command } => {
                Batch::weight(command)
            }
            _ => 128,
        }
    }
}

/// A state change. Every field is chosen before proposing so replicas agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Does nothing; proves a group can commit.
    Noop,
    /// Records the cluster layout in the metadata group (the first value wins), so a node
    /// started with a different shard count can tell it would misroute.
    InitLayout {
        /// Number of shard groups the proposer is configured with.
        shards: u32,
    },
    /// Time passes: reaps messages past their queues' retention. Proposed by shard leaders.
    Tick,
    /// Creates a queue.
    CreateQueue {
        /// Id chosen by the proposer (encodes this shard).
        id: QueueId,
        /// SHA-256 of the key shown once to the creator.
        key_digest: [u8; 32],
        /// Consumers registered from the start (cursor 0).
        consumers: Vec<String>,
        /// Settings.
        settings: QueueSettings,
    },
    /// Deletes a queue and all of its data.
    DeleteQueue {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
    },
    /// Appends one envelope.
    Publish {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// Message id chosen by the proposer.
        id: String,
        /// The JSON document (already validated by the edge).
        payload: String,
        /// Where the envelope comes from.
        source: Source,
        /// `Idempotency-Key` and the body's digest, when the client sent a key.
        idempotency: Option<(String, [u8; 32])>,
        /// Set when the publisher is over its quota: hold the envelope under this pending id
        /// instead of appending it.
        hold: Option<String>,
    },
    /// Appends every held publish of the queue, in order (after a plan was raised).
    DrainHeld {
        /// Target queue.
        queue: QueueId,
    },
    /// Records the account that claimed a queue (the first claim wins).
    SetOwner {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// The claiming account.
        owner: String,
    },
    /// Creates an account (metadata group; operator only).
    CreateAccount {
        /// Its id, chosen by the proposer.
        id: String,
        /// Its plan.
        plan: Plan,
    },
    /// Adds a key to an account (metadata group; operator only).
    AddAccountKey {
        /// The account.
        account: String,
        /// Digest of the new key.
        key_digest: [u8; 32],
    },
    /// Changes an account's plan (metadata group; operator only).
    SetPlan {
        /// The account.
        account: String,
        /// The new plan.
        plan: Plan,
    },
    /// Claims a queue for the account holding a key (metadata group).
    Claim {
        /// Digest of the account key presented.
        key_digest: [u8; 32],
        /// The queue (its key was proven by the edge).
        queue: QueueId,
    },
    /// Counts one publish against a payer's monthly limit, if under it (metadata group).
    Charge {
        /// Who pays.
        payer: Payer,
        /// The operator's limits.
        limits: PlanLimits,
    },
    /// Records that an account's held publishes were drained after upgrade `upgrade`.
    DrainDone {
        /// The account.
        account: String,
        /// The upgrade the drain served.
        upgrade: u64,
    },
    /// Moves a consumer's cursor forward (UPSERT MAX), registering the consumer if new.
    Ack {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// The consumer.
        consumer: String,
        /// Everything with `seq <= cursor` is done.
        cursor: u64,
    },
    /// Adds consumers (starting at the current head) and removes others.
    SetConsumers {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// Consumers to register.
        add: Vec<String>,
        /// Consumers to unregister.
        remove: Vec<String>,
    },
    /// Records a failed delivery; dead-letters the message at the limit or when asked.
    Nack {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// The consumer that failed.
        consumer: String,
        /// The message that failed.
        seq: u64,
        /// Why it failed.
        error: String,
        /// Dead-letter at once, whatever the count.
        dead_letter: bool,
    },
    /// Appends a dead letter's payload as a new envelope and removes the dead letter.
    ReplayDlq {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// Id of the dead-lettered envelope.
        dlq_msg_id: String,
        /// Id of the new envelope, chosen by the proposer.
        id: String,
    },
    /// Creates a form.
    CreateForm {
        /// Id chosen by the proposer (encodes this shard).
        id: FormId,
        /// SHA-256 of the key shown once to the creator.
        key_digest: [u8; 32],
        /// A label.
        name: String,
    },
    /// Stores a submission (public: no key).
    Submit {
        /// Target form.
        form: FormId,
        /// Submission id chosen by the proposer.
        id: String,
        /// The fields as a JSON object.
        payload: String,
    },
    /// Mirrors the form's later submissions into a queue. The edge has checked the queue key.
    BindForm {
        /// Target form.
        form: FormId,
        /// Digest of the form key presented.
        auth: [u8; 32],
        /// Where to mirror.
        binding: Binding,
    },
    /// Records that submissions up to `through` were mirrored, or that mirroring failed.
    MirrorDone {
        /// The form.
        form: FormId,
        /// Newest submission mirrored (or given up on).
        through: u64,
        /// Set when the queue refused: the binding is dropped with this reason.
        failed: Option<String>,
        /// The queue the drain published to (a failure only ends that binding).
        queue: QueueId,
    },
    /// Enqueues a job (or, for a known Idempotency-Key, answers the existing one).
    CreateJob {
        /// Id chosen by the proposer (encodes this shard).
        id: String,
        /// The owning workspace.
        workspace: String,
        /// What to run.
        spec: JobSpec,
        /// The client's `Idempotency-Key`.
        idempotency: Option<String>,
        /// How long it is kept once finished.
        ttl: JobTtl,
    },
    /// Hands up to `tokens.len()` pending jobs of the given types to a worker.
    ClaimJobs {
        /// The worker's workspace.
        workspace: String,
        /// The worker.
        worker_id: String,
        /// Job types it handles.
        types: Vec<String>,
        /// Lease length.
        lease_ms: u64,
        /// Fencing tokens chosen by the proposer, one per job it may get.
        tokens: Vec<u64>,
    },
    /// Extends a lease and reports progress; answers whether cancellation was requested.
    Heartbeat {
        /// The worker's workspace.
        workspace: String,
        /// The job.
        job: String,
        /// The lease token.
        token: u64,
        /// 0–100, when reported.
        progress: Option<u8>,
        /// New lease length from now.
        lease_ms: u64,
    },
    /// Finishes the current attempt successfully.
    CompleteJob {
        /// The worker's workspace.
        workspace: String,
        /// The job.
        job: String,
        /// The lease token.
        token: u64,
        /// Result JSON.
        result: String,
    },
    /// Finishes the current attempt with an error.
    FailJob {
        /// The worker's workspace.
        workspace: String,
        /// The job.
        job: String,
        /// The lease token.
        token: u64,
        /// Why.
        error: String,
        /// Whether another attempt may help.
        retryable: bool,
    },
    /// Cancels a pending job, or asks a running one to stop.
    CancelJob {
        /// The caller's workspace.
        workspace: String,
        /// The job.
        job: String,
    },
    /// Records one webhook delivery attempt for a finished job (`attempt` is 1-based; a
    /// repeated or stale report is ignored).
    WebhookAttempted {
        /// The job.
        job: String,
        /// The delivery's generation (see `WebhookDelivery::generation`).
        generation: u64,
        /// Which attempt this reports.
        attempt: u32,
        /// The receiver's HTTP status, or why nothing was delivered.
        outcome: Result<u16, String>,
        /// Stop trying (the address is not allowed).
        give_up: bool,
    },
    /// Runs a failed or cancelled job again.
    RetryJob {
        /// The caller's workspace.
        workspace: String,
        /// The job.
        job: String,
    },
    /// Creates a work queue.
    CreateWorkQueue {
        /// Id chosen by the proposer (encodes this shard).
        id: String,
        /// The owning workspace.
        workspace: String,
        /// A label.
        name: String,
        /// The team.
        team: String,
    },
    /// Deletes a work queue and its tasks.
    DeleteWorkQueue {
        /// The caller's workspace.
        workspace: String,
        /// The queue.
        id: String,
    },
    /// Adds a task (or, for a known Idempotency-Key, answers the existing one).
    AddTask {
        /// Id chosen by the proposer.
        id: String,
        /// The caller's workspace.
        workspace: String,
        /// The queue.
        queue: String,
        /// What to do.
        name: String,
        /// 1–5, 5 the most urgent.
        priority: u8,
        /// JSON for the agent.
        payload: String,
        /// Due by.
        deadline_ms: Option<u64>,
        /// The client's `Idempotency-Key`.
        idempotency: Option<String>,
    },
    /// Assigns the most urgent pending task of `queue` (or, stealing, of another queue of the
    /// same team) to an agent.
    Dequeue {
        /// The caller's workspace.
        workspace: String,
        /// The queue asked.
        queue: String,
        /// The agent.
        agent: String,
        /// Fencing token chosen by the proposer.
        token: u64,
        /// Lease length.
        lease_ms: u64,
        /// Take from the team's other queues instead.
        steal: bool,
    },
    /// Extends a task's lease.
    TaskHeartbeat {
        /// The caller's workspace.
        workspace: String,
        /// The task.
        task: String,
        /// Its token.
        token: u64,
        /// New lease length from now.
        lease_ms: u64,
    },
    /// Completes (`Ok(result)`) or fails (`Err(error)`) an assigned task.
    FinishTask {
        /// The caller's workspace.
        workspace: String,
        /// The task.
        task: String,
        /// The assignment's token, when the agent sends it.
        token: Option<u64>,
        /// Result JSON or error text.
        outcome: Result<String, String>,
    },
    /// Adds and removes allowed CORS origins (never `*`).
    SetOrigins {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// Origins to allow.
        add: Vec<String>,
        /// Origins to stop allowing.
        remove: Vec<String>,
    },
    /// Applies `command` (a publish the proposer charged to its payer) without releasing the
    /// queue's held publishes first: only a plan raise releases those (see `DrainHeldChunk`).
    KeepHeld {
        /// The publish.
        command: Box<Command>,
    },
    /// A [`Command::Charge`] that, over the limit, also counts `bytes` against the payer's
    /// held backlog for the month, and refuses (`HeldFull`) past `max_held_bytes`, so a payer
    /// cannot park unbounded data in held publishes.
    ChargeHold {
        /// Who pays.
        payer: Payer,
        /// Limits per plan.
        limits: PlanLimits,
        /// Size of the publish's payload.
        bytes: u64,
        /// Most payload bytes one payer may have held back a month.
        max_held_bytes: u64,
    },
    /// Gives back a charge of `month` whose publish stored nothing (an idempotent replay, a
    /// refusal, a retry of a held publish); a charge of an earlier month is left alone.
    Refund {
        /// Who was charged.
        payer: Payer,
        /// The month of the charge, as the proposer's clock had it.
        month: u32,
    },
    /// Appends up to `max` of a queue's held publishes, oldest first, after its plan was
    /// raised; the driver repeats it until fewer come back, so no entry grows with the backlog.
    DrainHeldChunk {
        /// The queue.
        queue: QueueId,
        /// Most publishes to append.
        max: u64,
    },
    /// Deletes the queues nothing was ever published to that were created at least
    /// `unused_for_ms` ago (by the group clock) and that no account claimed.
    ExpireUnused {
        /// How long a queue may stay unused.
        unused_for_ms: u64,
    },
    /// Applies `command` (a queue create, ack, consumer or origin change) unless it would take
    /// its queue past `caps`. Appended rather than a field on each command, so entries already
    /// in logs keep their encoding and their meaning.
    Capped {
        /// The limits the proposer applies.
        caps: crate::QueueCaps,
        /// The command they limit.
        command: Box<Command>,
    },
    /// Gives back `bytes` of a payer's held backlog of `month` that a [`Command::ChargeHold`]
    /// counted for a publish that held nothing new (a retry of a held publish).
    RefundHeld {
        /// Who was charged.
        payer: Payer,
        /// The month of the charge, as the proposer's clock had it.
        month: u32,
        /// The bytes counted.
        bytes: u64,
    },
}

impl Command {
    /// Whether applying the command twice has the same effect and answer as once, so a request
    /// whose outcome is unknown (leader lost mid-write) may be retried.
    pub fn is_retry_safe(&self) -> bool {
        match self {
            Command::Noop
            | Command::InitLayout { .. }
            | Command::Tick
            | Command::Ack { .. }
            | Command::SetConsumers { .. }
            | Command::SetOrigins { .. }
            | Command::BindForm { .. }
            | Command::MirrorDone { .. } => true,
            Command::Publish { idempotency, .. } => idempotency.is_some(),
            Command::DrainHeld { .. }
            | Command::SetOwner { .. }
            | Command::AddAccountKey { .. }
            | Command::SetPlan { .. }
            | Command::Claim { .. }
            | Command::DrainDone { .. } => true,
            Command::CreateAccount { .. } | Command::Charge { .. } => false,
            Command::CreateQueue { .. }
            | Command::DeleteQueue { .. }
            | Command::Nack { .. }
            | Command::ReplayDlq { .. }
            | Command::CreateForm { .. }
            | Command::Submit { .. }
            | Command::ClaimJobs { .. }
            | Command::FailJob { .. }
            | Command::RetryJob { .. } => false,
            Command::CreateJob { idempotency, .. } => idempotency.is_some(),
            Command::Capped { command, .. } => command.is_retry_safe(),
            Command::ExpireUnused { .. } => true,
            Command::KeepHeld { command } => command.is_retry_safe(),
            Command::Refund { .. } | Command::ChargeHold { .. } | Command::RefundHeld { .. } => {
                false
            }
            Command::DrainHeldChunk { .. } => true,
            // A repeated completion answers the completed job (see `complete_job`).
            Command::Heartbeat { .. } | Command::CompleteJob { .. } => true,
            Command::CancelJob { .. } => false,
            Command::AddTask { idempotency, .. } => idempotency.is_some(),
            Command::WebhookAttempted { .. } => true,
            Command::TaskHeartbeat { .. } => true,
            Command::DeleteWorkQueue { .. } => false,
            Command::CreateWorkQueue { .. }
            | Command::Dequeue { .. }
            | Command::FinishTask { .. } => false,
        }
    }

    /// The shard the command's queue or form lives in, to check it reached the right group.
    pub fn shard(&self) -> Option<GroupId> {
        match self {
            Command::CreateForm { id: form, .. }
            | Command::Submit { form, .. }
            | Command::BindForm { form, .. }
            | Command::MirrorDone { form, .. } => Some(form.shard()),
            Command::CreateAccount { .. }
            | Command::AddAccountKey { .. }
            | Command::SetPlan { .. }
            | Command::Claim { .. }
            | Command::Charge { .. }
            | Command::DrainDone { .. } => Some(crate::META_GROUP),
            Command::CreateJob { id, .. } => crate::ids::job_shard(id),
            Command::Capped { command, .. } | Command::KeepHeld { command } => command.shard(),
            Command::Refund { .. } | Command::ChargeHold { .. } | Command::RefundHeld { .. } => {
                Some(crate::META_GROUP)
            }
            Command::ClaimJobs { .. } => None,
            Command::CreateWorkQueue { id, .. }
            | Command::DeleteWorkQueue { id, .. }
            | Command::AddTask { queue: id, .. }
            | Command::Dequeue { queue: id, .. }
            | Command::TaskHeartbeat { task: id, .. }
            | Command::FinishTask { task: id, .. } => crate::ids::work_shard(id),
            Command::Heartbeat { job, .. }
            | Command::CompleteJob { job, .. }
            | Command::FailJob { job, .. }
            | Command::CancelJob { job, .. }
            | Command::RetryJob { job, .. }
            | Command::WebhookAttempted { job, .. } => crate::ids::job_shard(job),
            other => other.queue().map(QueueId::shard),
        }
    }

    /// The queue a command is about.
    pub fn queue(&self) -> Option<&QueueId> {
        match self {
            Command::Noop
            | Command::InitLayout { .. }
            | Command::Tick
            | Command::ExpireUnused { .. }
            | Command::CreateForm { .. }
            | Command::Submit { .. }
            | Command::BindForm { .. }
            | Command::MirrorDone { .. }
            | Command::CreateAccount { .. }
            | Command::AddAccountKey { .. }
            | Command::SetPlan { .. }
            | Command::Claim { .. }
            | Command::Charge { .. }
            | Command::DrainDone { .. }
            | Command::CreateJob { .. }
            | Command::ClaimJobs { .. }
            | Command::Heartbeat { .. }
            | Command::CompleteJob { .. }
            | Command::FailJob { .. }
            | Command::CancelJob { .. }
            | Command::RetryJob { .. }
            | Command::CreateWorkQueue { .. }
            | Command::DeleteWorkQueue { .. }
            | Command::AddTask { .. }
            | Command::Dequeue { .. }
            | Command::TaskHeartbeat { .. }
            | Command::FinishTask { .. }
            | Command::WebhookAttempted { .. } => None,
            Command::CreateQueue { id, .. } => Some(id),
            Command::Capped { command, .. } | Command::KeepHeld { command } => command.queue(),
            Command::DrainHeldChunk { queue, .. } => Some(queue),
            Command::Refund { .. } | Command::ChargeHold { .. } | Command::RefundHeld { .. } => {
                None
            }
            Command::DeleteQueue { queue, .. }
            | Command::Publish { queue, .. }
            | Command::Ack { queue, .. }
            | Command::SetConsumers { queue, .. }
            | Command::Nack { queue, .. }
            | Command::ReplayDlq { queue, .. }
            | Command::SetOrigins { queue, .. }
            | Command::DrainHeld { queue }
            | Command::SetOwner { queue, .. } => Some(queue),
        }
    }
}

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
}

/// A read, answered by the leader after it has confirmed leadership (linearizable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// Reads envelopes with `seq > cursor`.
    Pull {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// The reading consumer.
        consumer: String,
        /// Exclusive start; `None` means the consumer's acked cursor.
        cursor: Option<u64>,
        /// Most envelopes to return.
        limit: usize,
    },
    /// A queue's metadata.
    Info {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
    },
    /// A page of dead letters, in the order they were dead-lettered.
    Dlq {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// Rows after this one.
        after: u64,
        /// Most rows to return.
        limit: usize,
    },
    /// The account holding a key (metadata group).
    AccountByKey {
        /// Digest of the key.
        key_digest: [u8; 32],
    },
    /// An account by id (metadata group).
    Account {
        /// The account id.
        id: String,
    },
    /// Accounts whose held publishes wait to be drained (metadata group).
    DrainWork,
    /// The account that claimed a queue (no key needed: it only says who pays).
    Owner {
        /// Target queue.
        queue: QueueId,
    },
    /// One job of a workspace.
    Job {
        /// The caller's workspace.
        workspace: String,
        /// The job.
        id: String,
    },
    /// A page of a workspace's jobs, oldest first.
    Jobs {
        /// The caller's workspace.
        workspace: String,
        /// Only this status.
        status: Option<JobStatus>,
        /// Only this type.
        job_type: Option<String>,
        /// Jobs created after this seq.
        after: u64,
        /// Most to return.
        limit: usize,
    },
    /// A job's events after `after`.
    JobEvents {
        /// The caller's workspace.
        workspace: String,
        /// The job.
        id: String,
        /// Events after this seq.
        after: u64,
        /// Most to return.
        limit: usize,
    },
    /// Finished jobs whose webhook attempt is due by `until_ms` (the asking node's clock).
    WebhooksDue {
        /// Due at or before this time.
        until_ms: u64,
        /// Most to return.
        limit: usize,
    },
    /// A workspace's work queues with task counts.
    WorkQueues {
        /// The caller's workspace.
        workspace: String,
    },
    /// One work queue with task counts.
    WorkQueue {
        /// The caller's workspace.
        workspace: String,
        /// The queue.
        id: String,
    },
    /// A queue's tasks in the order they would be dequeued.
    Tasks {
        /// The caller's workspace.
        workspace: String,
        /// The queue.
        queue: String,
        /// Only this status.
        status: Option<TaskStatus>,
    },
    /// A page of a form's submissions.
    Submissions {
        /// Target form.
        form: FormId,
        /// Digest of the form key presented.
        auth: [u8; 32],
        /// Submissions after this seq.
        after: u64,
        /// Most to return.
        limit: usize,
    },
    /// Submissions waiting to be mirrored, across the shard's forms.
    MirrorOutbox {
        /// Most submissions to return in all.
        limit: usize,
    },
    /// The allowed origins, for CORS (browsers send preflights without credentials).
    Origins {
        /// Target queue.
        queue: QueueId,
    },
    /// Whether a claim would find a job: one pending in `workspace`, due by `now_ms` (the
    /// asking node's clock), of one of `types` (any type when empty). A waiting claim asks
    /// this, a read, and proposes its claim only on a yes, so idle workers write nothing.
    ClaimableJobs {
        /// The caller's workspace.
        workspace: String,
        /// The types the worker takes.
        types: Vec<String>,
        /// Due at or before this time.
        now_ms: u64,
    },
    /// The team of work queue `id`, or of the queue holding task `id`, so an edge can hold a
    /// team-scoped token to its teams before acting on either.
    Team {
        /// The caller's workspace.
        workspace: String,
        /// A work queue or a task.
        id: String,
    },
}

/// The answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryResult {
    /// Envelopes in seq order.
    Pulled {
        /// The envelopes read.
        messages: Vec<Envelope>,
        /// The cursor the read started from (after defaulting and flooring).
        cursor: u64,
        /// Highest seq returned, or the start cursor when nothing was.
        next_cursor: u64,
        /// Whether envelopes past `next_cursor` exist.
        has_more: bool,
        /// Every seq at or below this was garbage-collected.
        floor: u64,
        /// The requested cursor was below the floor; reading started at the floor.
        below_floor: bool,
    },
    /// A queue's metadata.
    Info {
        /// The metadata.
        queue: Queue,
    },
    /// Dead letters with their row numbers.
    DlqPage {
        /// `(row, entry)` in row order.
        rows: Vec<(u64, DlqEntry)>,
        /// Pass as `after` for the next page.
        next_cursor: u64,
        /// Whether rows past `next_cursor` exist.
        has_more: bool,
    },
    /// A page of submissions.
    SubmissionPage {
        /// The form's metadata.
        form: Form,
        /// Submissions in seq order.
        rows: Vec<Submission>,
        /// Pass as `after` for the next page.
        next_cursor: u64,
        /// Whether more exist.
        has_more: bool,
    },
    /// Work queues with their task counts by status.
    WorkQueues(Vec<(WorkQueue, BTreeMap<String, u64>)>),
    /// Tasks.
    Tasks(Vec<Task>),
    /// Jobs with a webhook attempt due.
    Jobs(Vec<Job>),
    /// A job.
    Job(Box<Job>),
    /// A page of jobs.
    JobPage {
        /// The jobs.
        jobs: Vec<Job>,
        /// Pass as `after` for the next page.
        next_cursor: u64,
        /// Whether more may exist.
        has_more: bool,
    },
    /// Events of a job.
    JobEvents {
        /// The job as it is now.
        job: Box<Job>,
        /// Events in order.
        events: Vec<JobEvent>,
    },
    /// An account, if found.
    Account(Option<Account>),
    /// A queue's owner (`None`: unclaimed or no such queue).
    Owner(Option<String>),
    /// `(account, upgrade, queues)` for accounts with held publishes to drain.
    DrainWork(Vec<(String, u64, Vec<QueueId>)>),
    /// Mirroring work, one entry per form with pending submissions.
    Outbox(Vec<MirrorWork>),
    /// A queue's allowed origins (`None`: no such queue).
    Origins(Option<Origins>),
    /// The query was refused.
    Refused(CommandError),
    /// Whether a claim would find a job now.
    ClaimableJobs(bool),
    /// A work queue's team.
    Team(String),
}
