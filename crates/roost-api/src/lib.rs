//! Roost's application layer: every client operation, once, under every edge.
//!
//! An edge (HTTP, gRPC) parses a request into the typed structs here, calls one method of
//! [`Api`], and renders the typed reply or the [`Error`]. Everything between lives here:
//! validation and limits ([`input`]), credentials and team scopes, minting ids and fencing
//! tokens (the only clock and randomness above the node, behind [`Source`]), routing to the
//! shard that holds a resource, long polls and their per-client cap. An edge never decides.

mod accounts;
mod admin;
mod backups;
mod doc;
mod error;
mod forms;
pub mod input;
mod jobs;
mod keys;
mod overview;
mod queues;
mod rate;
mod source;
pub mod views;
mod work;
mod workspace;

use std::net::IpAddr;
use std::sync::Arc;

use rate::RateLimiter;
use roost_auth::{Claims, Verifier};
use roost_node::{Node, WaitSlot};
use roost_state::{JobTtl, QueueCaps, Retention};

pub use accounts::AccountKey;
pub use admin::{ClusterNodes, GroupMembers, NewNode, QuorumCheck};
pub use backups::TakenBackup;
pub use doc::{document, time_ms, timestamp, Doc, Time};
pub use error::{Error, ErrorCode};
pub use forms::{CreatedForm, SubmissionPage};
pub use jobs::{ClaimJobs, CreateJob, EventItem, Heartbeat, JobPage, ListJobs};
pub use keys::digest;
pub use overview::{ClusterHealth, GroupHealth, NodeHealth, Workload};
pub use queues::{
    check_origin, consumer_id, origin_set, queue_key, CreateQueue, CreatedQueue, DeadLetters, Nack,
    Nacked, OriginsField, Published, Pull, Pulled, QueueRef, Replayed, MAX_BATCH,
};
pub use roost_wire::LEADER_HEADER;
pub use source::{Fixed, Source, System};
pub use work::{AddTask, CreateWorkQueue, FinishTask, QueueWithCounts};

/// Limits and defaults the layer applies, from the node's configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest JSON document (a payload, a result) accepted.
    pub max_document_bytes: usize,
    /// How long finished jobs are kept.
    pub job_ttl: JobTtl,
    /// Retention of new queues while they have no registered consumer.
    pub retention: Retention,
    /// Consumers and allowed origins one queue may have.
    pub queue_caps: QueueCaps,
    /// Queues and forms one client address may create a minute (creating needs no key).
    pub creates_per_minute: u32,
    /// Public form submissions one client address may make a minute.
    pub form_submissions_per_minute: u32,
    /// Digest of the operator key guarding `/admin` (members, accounts and plans); `None`
    /// refuses every caller.
    pub operator_key_digest: Option<[u8; 32]>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_document_bytes: 256 * 1024,
            job_ttl: JobTtl {
                completed_ms: 7 * 24 * 3600 * 1000,
                failed_ms: 30 * 24 * 3600 * 1000,
                cancelled_ms: 7 * 24 * 3600 * 1000,
            },
            retention: Retention {
                max_age_ms: Some(7 * 24 * 3600 * 1000),
                max_messages: Some(1_000_000),
            },
            queue_caps: QueueCaps::default(),
            creates_per_minute: 60,
            form_submissions_per_minute: 30,
            operator_key_digest: None,
        }
    }
}

/// The operations, over one node. Cheap to clone: every edge and every request holds one.
#[derive(Clone)]
pub struct Api(Arc<Inner>);

struct Inner {
    /// Where commands and reads go.
    node: Arc<Node>,
    /// Limits and defaults.
    settings: Settings,
    /// Checks workspace tokens; `None` refuses every workspace call (no key configured).
    tokens: Option<Verifier>,
    /// The clock and random source.
    source: Arc<dyn Source>,
    /// Keyless creates per client address.
    creates: RateLimiter,
    /// Public form submissions per client address.
    submissions: RateLimiter,
}

impl Api {
    /// The operations over `node`, with the system clock and random source.
    pub fn new(node: Arc<Node>, settings: Settings, tokens: Option<Verifier>) -> Self {
        Self::with_source(node, settings, tokens, Arc::new(System))
    }

    /// The operations over `node`, with time and randomness from `source`.
    pub fn with_source(
        node: Arc<Node>,
        settings: Settings,
        tokens: Option<Verifier>,
        source: Arc<dyn Source>,
    ) -> Self {
        Api(Arc::new(Inner {
            node,
            settings,
            tokens,
            source,
            creates: RateLimiter::default(),
            submissions: RateLimiter::default(),
        }))
    }

    /// The node under this layer.
    pub fn node(&self) -> &Arc<Node> {
        &self.0.node
    }

    /// The limits and defaults.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// Keyless creates per client address.
    pub(crate) fn create_limit(&self) -> &RateLimiter {
        &self.0.creates
    }

    /// Public form submissions per client address.
    pub(crate) fn submission_limit(&self) -> &RateLimiter {
        &self.0.submissions
    }

    /// Now, in ms since the epoch.
    pub fn now_ms(&self) -> u64 {
        self.0.source.now_ms()
    }

    /// A random number (ids, fencing tokens, keys).
    pub fn random(&self) -> u64 {
        self.0.source.random()
    }

    /// The caller of a workspace call, from its bearer token (none sent: `None`).
    pub fn caller(&self, bearer: Option<&str>) -> Result<Claims, Error> {
        let rejected = |why: String| {
            Error::new(
                ErrorCode::InvalidToken,
                why,
                "Send a workspace token as 'Authorization: Bearer <jwt>' (mint one with `roost token create --workspace W`).",
            )
        };
        let tokens = self
            .0
            .tokens
            .as_ref()
            .ok_or_else(|| rejected("workspace tokens are not configured".into()))?;
        let token = bearer.ok_or_else(|| rejected("missing bearer token".into()))?;
        tokens.caller(token).map_err(|e| rejected(e.0))
    }

    /// A place for a request of `addr` about to wait (long polls, event streams, waiting
    /// claims), counted per address on this node. None is needed when the address is not
    /// known, which only an in-process caller can be.
    pub fn wait_slot(&self, addr: Option<IpAddr>) -> Result<Option<WaitSlot>, Error> {
        let Some(ip) = addr else {
            return Ok(None);
        };
        let cap = self.0.node.config().max_waiters_per_client;
        self.0.node.wait_slot(ip).map(Some).ok_or_else(|| {
            Error::new(
                ErrorCode::TooManyWaiters,
                format!("this address already has {cap} requests waiting (long polls, job waits, event streams, claims)"),
                "Wait on fewer things at once: one long poll per consumer, or ask without wait. The limit is [http] max_waiters_per_client.",
            )
        })
    }
}
