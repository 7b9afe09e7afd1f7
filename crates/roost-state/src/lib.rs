//! Roost's replicated state machine, free of IO, clocks and randomness.
//!
//! Every shard group applies the same [`Request`]s in the same order and must reach the same
//! state on every replica, so everything non-deterministic (ids, key digests, the time) is
//! chosen by the node that proposes and travels inside the request. The machine keeps the small,
//! hot per-queue metadata in memory ([`ShardState`]) and describes every change to the bulk data
//! (messages, idempotency records) as [`Effect`]s that the storage layer persists atomically
//! together with the applied log position.

pub mod account;
pub mod command;
pub mod error;
pub mod form;
pub mod ids;
pub mod job;
pub mod mem;
pub mod queue;
pub mod roster;
pub mod shard;
pub mod stats;
pub mod topic;
pub mod work;

pub use account::{month_of, Account, Payer, Plan, PlanLimits};
pub use command::{Batch, Command, Query, QueryResult, Response};
pub use error::{CommandError, LookupError};
pub use form::{Binding, Form, MirrorWork, Submission};
pub use ids::{FormId, GroupId, QueueId, META_GROUP};
pub use job::{Job, JobEvent, JobSpec, JobStatus, JobTtl, Lease, WebhookDelivery};
pub use queue::{
    DlqEntry, Envelope, HeldPublish, IdempotencyRecord, NackRecord, Origins, Queue, QueueCaps,
    QueueSettings, Retention, Source,
};
pub use roster::{Member, Roster};
pub use shard::{Effect, Header, Lookup, ShardParts, ShardState};
pub use stats::{QueueStat, QueueStats, WorkloadStats};
pub use topic::Topic;
pub use work::{Task, TaskStatus, WorkQueue};
