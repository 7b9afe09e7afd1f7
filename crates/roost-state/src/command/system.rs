//! Commands about the group itself: proving it commits, its layout, the passing of time, and
//! the wrappers that carry limits or quota decisions with another command.

use serde::{Deserialize, Serialize};

use super::{Command, Operation};
use crate::QueueCaps;

/// Records the cluster layout in the metadata group (the first value wins), so a node
/// started with a different shard count can tell it would misroute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitLayout {
    /// Number of shard groups the proposer is configured with.
    pub shards: u32,
}

impl Operation for InitLayout {
    fn retry_safe(&self) -> bool {
        true
    }
}

/// Applies `command` (a publish the proposer charged to its payer) without releasing the
/// queue's held publishes first: only a plan raise releases those (see `DrainHeldChunk`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepHeld {
    /// The publish.
    pub command: Box<Command>,
}

/// Deletes the queues nothing was ever published to that were created at least
/// `unused_for_ms` ago (by the group clock) and that no account claimed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireUnused {
    /// How long a queue may stay unused.
    pub unused_for_ms: u64,
}

impl Operation for ExpireUnused {
    fn retry_safe(&self) -> bool {
        true
    }
}

/// Applies `command` (a queue create, ack, consumer or origin change) unless it would take
/// its queue past `caps`. Appended rather than a field on each command, so entries already
/// in logs keep their encoding and their meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capped {
    /// The limits the proposer applies.
    pub caps: QueueCaps,
    /// The command they limit.
    pub command: Box<Command>,
}

/// What `Noop` and `Tick` state: they carry nothing, touch no queue, and may be repeated.
pub(super) struct Standalone;

impl Operation for Standalone {
    fn retry_safe(&self) -> bool {
        true
    }
}
