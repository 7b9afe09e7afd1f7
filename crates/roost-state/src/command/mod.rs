//! What travels through Raft (commands) and what is answered from applied state (queries).
//!
//! A command's operation is a struct in the module of its domain (`queue`, `form`, `account`,
//! `job`, `work`, `system`), which states next to it, as an [`Operation`], whether it may be
//! retried and which group applies it.

mod account;
mod cluster;
mod form;
mod job;
mod query;
mod queue;
mod reply;
mod system;
mod work;

pub use account::{
    AddAccountKey, Charge, ChargeHold, Claim, CreateAccount, DrainDone, DrainHeld, DrainHeldChunk,
    Refund, RefundHeld, SetOwner, SetPlan,
};
pub use cluster::{AddMember, MemberStarted, RemoveMember, SeedMembers};
pub use form::{BindForm, CreateForm, MirrorDone, Submit};
pub use job::{
    CancelJob, ClaimJobs, CompleteJob, CreateJob, FailJob, Heartbeat, RetryJob, WebhookAttempted,
};
pub use query::{Query, QueryResult};
pub use queue::{
    Ack, CreateQueue, DeleteQueue, Nack, Publish, ReplayDlq, SetConsumers, SetOrigins,
};
pub use reply::Response;
pub use system::{Capped, ExpireUnused, InitLayout, KeepHeld};
pub use work::{AddTask, CreateWorkQueue, DeleteWorkQueue, Dequeue, FinishTask, TaskHeartbeat};

use serde::{Deserialize, Serialize};

use crate::{GroupId, QueueId};

/// What each kind of command states about itself, next to its definition.
pub trait Operation {
    /// Whether applying it twice has the same effect and answer as once, so a request whose
    /// outcome is unknown (leader lost mid-write) may be retried.
    fn retry_safe(&self) -> bool;

    /// The group that applies it (`None`: any group, or one only its proposer knows).
    fn group(&self) -> Option<GroupId> {
        self.queue().map(QueueId::shard)
    }

    /// The queue it is about.
    fn queue(&self) -> Option<&QueueId> {
        None
    }
}

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
            Command::Publish(Publish { payload, .. }) => 128 + payload.len(),
            Command::Submit(Submit { payload, .. }) => 128 + payload.len(),
            Command::Capped(Capped { command, .. }) | Command::KeepHeld(KeepHeld { command }) => {
                Batch::weight(command)
            }
            _ => 128,
        }
    }
}

/// A state change. Every field is chosen before proposing so replicas agree.
///
/// A persisted enum: its variants are only appended (the log holds entries of every age), and
/// each variant carries its operation as a struct of the same fields in the same order, which
/// encodes exactly as the fields did inline (`roost-storage`'s golden bytes pin it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Does nothing; proves a group can commit.
    Noop,
    /// Records the cluster layout in the metadata group (the first value wins), so a node
    /// started with a different shard count can tell it would misroute.
    InitLayout(system::InitLayout),
    /// Time passes: reaps messages past their queues' retention. Proposed by shard leaders.
    Tick,
    /// Creates a queue.
    CreateQueue(queue::CreateQueue),
    /// Deletes a queue and all of its data.
    DeleteQueue(queue::DeleteQueue),
    /// Appends one envelope.
    Publish(queue::Publish),
    /// Appends every held publish of the queue, in order (after a plan was raised).
    DrainHeld(account::DrainHeld),
    /// Records the account that claimed a queue (the first claim wins).
    SetOwner(account::SetOwner),
    /// Creates an account (metadata group; operator only).
    CreateAccount(account::CreateAccount),
    /// Adds a key to an account (metadata group; operator only).
    AddAccountKey(account::AddAccountKey),
    /// Changes an account's plan (metadata group; operator only).
    SetPlan(account::SetPlan),
    /// Claims a queue for the account holding a key (metadata group).
    Claim(account::Claim),
    /// Counts one publish against a payer's monthly limit, if under it (metadata group).
    Charge(account::Charge),
    /// Records that an account's held publishes were drained after upgrade `upgrade`.
    DrainDone(account::DrainDone),
    /// Moves a consumer's cursor forward (UPSERT MAX), registering the consumer if new.
    Ack(queue::Ack),
    /// Adds consumers (starting at the current head) and removes others.
    SetConsumers(queue::SetConsumers),
    /// Records a failed delivery; dead-letters the message at the limit or when asked.
    Nack(queue::Nack),
    /// Appends a dead letter's payload as a new envelope and removes the dead letter.
    ReplayDlq(queue::ReplayDlq),
    /// Creates a form.
    CreateForm(form::CreateForm),
    /// Stores a submission (public: no key).
    Submit(form::Submit),
    /// Mirrors the form's later submissions into a queue. The edge has checked the queue key.
    BindForm(form::BindForm),
    /// Records that submissions up to `through` were mirrored, or that mirroring failed.
    MirrorDone(form::MirrorDone),
    /// Enqueues a job (or, for a known Idempotency-Key, answers the existing one).
    CreateJob(job::CreateJob),
    /// Hands up to `tokens.len()` pending jobs of the given types to a worker.
    ClaimJobs(job::ClaimJobs),
    /// Extends a lease and reports progress; answers whether cancellation was requested.
    Heartbeat(job::Heartbeat),
    /// Finishes the current attempt successfully.
    CompleteJob(job::CompleteJob),
    /// Finishes the current attempt with an error.
    FailJob(job::FailJob),
    /// Cancels a pending job, or asks a running one to stop.
    CancelJob(job::CancelJob),
    /// Records one webhook delivery attempt for a finished job (`attempt` is 1-based; a
    /// repeated or stale report is ignored).
    WebhookAttempted(job::WebhookAttempted),
    /// Runs a failed or cancelled job again.
    RetryJob(job::RetryJob),
    /// Creates a work queue.
    CreateWorkQueue(work::CreateWorkQueue),
    /// Deletes a work queue and its tasks.
    DeleteWorkQueue(work::DeleteWorkQueue),
    /// Adds a task (or, for a known Idempotency-Key, answers the existing one).
    AddTask(work::AddTask),
    /// Assigns the most urgent pending task of `queue` (or, stealing, of another queue of the
    /// same team) to an agent.
    Dequeue(work::Dequeue),
    /// Extends a task's lease.
    TaskHeartbeat(work::TaskHeartbeat),
    /// Completes (`Ok(result)`) or fails (`Err(error)`) an assigned task.
    FinishTask(work::FinishTask),
    /// Adds and removes allowed CORS origins (never `*`).
    SetOrigins(queue::SetOrigins),
    /// Applies `command` (a publish the proposer charged to its payer) without releasing the
    /// queue's held publishes first: only a plan raise releases those (see `DrainHeldChunk`).
    KeepHeld(system::KeepHeld),
    /// A [`Command::Charge`] that, over the limit, also counts `bytes` against the payer's
    /// held backlog for the month, and refuses (`HeldFull`) past `max_held_bytes`, so a payer
    /// cannot park unbounded data in held publishes.
    ChargeHold(account::ChargeHold),
    /// Gives back a charge of `month` whose publish stored nothing (an idempotent replay, a
    /// refusal, a retry of a held publish); a charge of an earlier month is left alone.
    Refund(account::Refund),
    /// Appends up to `max` of a queue's held publishes, oldest first, after its plan was
    /// raised; the driver repeats it until fewer come back, so no entry grows with the backlog.
    DrainHeldChunk(account::DrainHeldChunk),
    /// Deletes the queues nothing was ever published to that were created at least
    /// `unused_for_ms` ago (by the group clock) and that no account claimed.
    ExpireUnused(system::ExpireUnused),
    /// Applies `command` (a queue create, ack, consumer or origin change) unless it would take
    /// its queue past `caps`. Appended rather than a field on each command, so entries already
    /// in logs keep their encoding and their meaning.
    Capped(system::Capped),
    /// Gives back `bytes` of a payer's held backlog of `month` that a [`Command::ChargeHold`]
    /// counted for a publish that held nothing new (a retry of a held publish).
    RefundHeld(account::RefundHeld),
    /// Records the members a cluster started with, unless a roster exists (metadata group).
    SeedMembers(cluster::SeedMembers),
    /// Adds a member to the roster (metadata group; operator only).
    AddMember(cluster::AddMember),
    /// Removes a member for good (metadata group; operator only).
    RemoveMember(cluster::RemoveMember),
    /// Records the incarnation of the data dir serving under a member's id (metadata group).
    MemberStarted(cluster::MemberStarted),
}

impl Command {
    /// The operation inside, for what each kind states about itself.
    fn op(&self) -> &dyn Operation {
        match self {
            Command::Noop | Command::Tick => &system::Standalone,
            Command::InitLayout(c) => c,
            Command::CreateQueue(c) => c,
            Command::DeleteQueue(c) => c,
            Command::Publish(c) => c,
            Command::DrainHeld(c) => c,
            Command::SetOwner(c) => c,
            Command::CreateAccount(c) => c,
            Command::AddAccountKey(c) => c,
            Command::SetPlan(c) => c,
            Command::Claim(c) => c,
            Command::Charge(c) => c,
            Command::DrainDone(c) => c,
            Command::Ack(c) => c,
            Command::SetConsumers(c) => c,
            Command::Nack(c) => c,
            Command::ReplayDlq(c) => c,
            Command::CreateForm(c) => c,
            Command::Submit(c) => c,
            Command::BindForm(c) => c,
            Command::MirrorDone(c) => c,
            Command::CreateJob(c) => c,
            Command::ClaimJobs(c) => c,
            Command::Heartbeat(c) => c,
            Command::CompleteJob(c) => c,
            Command::FailJob(c) => c,
            Command::CancelJob(c) => c,
            Command::WebhookAttempted(c) => c,
            Command::RetryJob(c) => c,
            Command::CreateWorkQueue(c) => c,
            Command::DeleteWorkQueue(c) => c,
            Command::AddTask(c) => c,
            Command::Dequeue(c) => c,
            Command::TaskHeartbeat(c) => c,
            Command::FinishTask(c) => c,
            Command::SetOrigins(c) => c,
            // The wrappers (this and `Capped`) are what they carry: as retry-safe, for the same
            // group and queue.
            Command::KeepHeld(c) => c.command.op(),
            Command::ChargeHold(c) => c,
            Command::Refund(c) => c,
            Command::DrainHeldChunk(c) => c,
            Command::ExpireUnused(c) => c,
            Command::Capped(c) => c.command.op(),
            Command::RefundHeld(c) => c,
            Command::SeedMembers(c) => c,
            Command::AddMember(c) => c,
            Command::RemoveMember(c) => c,
            Command::MemberStarted(c) => c,
        }
    }

    /// Whether applying the command twice has the same effect and answer as once, so a request
    /// whose outcome is unknown (leader lost mid-write) may be retried.
    pub fn is_retry_safe(&self) -> bool {
        self.op().retry_safe()
    }

    /// The group the command must be applied in, to check it reached the right one (`None`: any
    /// group, or one only its proposer knows).
    pub fn shard(&self) -> Option<GroupId> {
        self.op().group()
    }

    /// The queue the command is about.
    pub fn queue(&self) -> Option<&QueueId> {
        self.op().queue()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Source, META_GROUP};

    fn publish(key: Option<&str>) -> Command {
        Command::Publish(Publish {
            queue: QueueId::new(3, 1),
            auth: [0; 32],
            id: "qm_1".into(),
            payload: "{}".into(),
            source: Source::Publish,
            idempotency: key.map(|k| (k.to_owned(), [0; 32])),
            hold: None,
        })
    }

    #[test]
    fn each_kind_states_its_retry_safety_and_group() {
        assert!(publish(Some("k")).is_retry_safe());
        assert!(!publish(None).is_retry_safe());
        assert_eq!(publish(None).shard(), Some(3));
        let kept = |c: Command| {
            Command::KeepHeld(KeepHeld {
                command: Box::new(c),
            })
        };
        assert!(!kept(publish(None)).is_retry_safe());
        assert!(kept(publish(Some("k"))).is_retry_safe());
        assert_eq!(kept(publish(None)).queue(), Some(&QueueId::new(3, 1)));
        let account = Command::CreateAccount(CreateAccount {
            id: "acct_1".into(),
            plan: crate::Plan::Free,
        });
        assert_eq!(
            (account.is_retry_safe(), account.shard()),
            (false, Some(META_GROUP))
        );
        let claim = Command::ClaimJobs(ClaimJobs {
            workspace: "w".into(),
            worker_id: "w1".into(),
            types: vec![],
            lease_ms: 1,
            tokens: vec![1],
        });
        assert_eq!((claim.is_retry_safe(), claim.shard()), (false, None));
        assert!(Command::Tick.is_retry_safe() && Command::Noop.shard().is_none());
    }
}
