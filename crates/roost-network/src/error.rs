//! Why a forwarded request did not get an answer.

use roost_types::NodeId;
use thiserror::Error;

/// A forwarding failure; the caller may retry against the named leader.
#[derive(Debug, Error)]
pub enum ForwardError {
    /// The receiving node does not lead the group (any more).
    #[error("node is not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader the receiver knows of.
        leader: Option<NodeId>,
    },
    /// The peer could not be reached or answered with a transport error.
    #[error("peer {node} unreachable: {message}")]
    Unreachable {
        /// The peer.
        node: NodeId,
        /// What went wrong.
        message: String,
    },
    /// The group cannot serve requests right now (shutting down, storage failure).
    #[error("group unavailable: {0}")]
    Unavailable(String),
    /// A message could not be encoded or decoded.
    #[error("malformed peer message: {0}")]
    Malformed(String),
}
