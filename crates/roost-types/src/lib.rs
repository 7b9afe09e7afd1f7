//! The Raft type configuration every Raft group of a node shares.
//!
//! Storage, the peer network and the node all name these types, so they live in one small
//! crate that knows openraft and the state machine's request/response types and nothing else.
//! The leader lease ([`lease`]) lives here too: the network records it, the node reads by it,
//! and the simulation (which has a type configuration of its own) runs the same code.

pub mod lease;

pub use roost_state::GroupId;
use std::io::Cursor;

/// A node's id in the cluster (1, 2, 3, …), fixed by its configuration.
pub type NodeId = u64;

/// What Raft membership records about a node: its peer (gRPC) address.
pub type Node = openraft::BasicNode;

openraft::declare_raft_types!(
    /// The type configuration of every Roost Raft group: entries carry stamped batches of
    /// commands (one response per command) and snapshots travel as byte buffers.
    pub TypeConfig:
        D = roost_state::Batch,
        R = Vec<roost_state::Response>,
);

/// A Raft group instance.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log entry of any group.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id.
pub type LogId = openraft::LogId<NodeId>;
/// A vote.
pub type Vote = openraft::Vote<NodeId>;
/// A storage error as openraft reports it.
pub type StorageError = openraft::StorageError<NodeId>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Node>;
/// Membership as last applied.
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
