//! Reads of applied state, and their answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Account, CommandError, DlqEntry, Envelope, Form, FormId, Job, JobEvent, JobStatus, MirrorWork,
    Origins, Queue, QueueId, Submission, Task, TaskStatus, WorkQueue,
};

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
    /// The cluster's roster (metadata group).
    Roster,
    /// The operator's view of the shard's queues: totals and the `limit` deepest, with their
    /// slowest consumers (never a payload or a key).
    QueueStats {
        /// Most queues to report in full.
        limit: usize,
    },
    /// The operator's counts of the shard's jobs and tasks by status.
    WorkloadStats,
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
    /// The cluster's roster.
    Roster(crate::Roster),
    /// A shard's queue statistics.
    QueueStats(crate::QueueStats),
    /// A shard's jobs and tasks by status.
    WorkloadStats(crate::WorkloadStats),
}
