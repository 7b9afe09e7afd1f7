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
    /// The peer refused the connection, so the request was certainly never delivered (a
    /// stopped node, or one not started yet): safe to retry anywhere.
    #[error("peer {node} refused the connection: {message}")]
    NotSent {
        /// The peer.
        node: NodeId,
        /// What went wrong.
        message: String,
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

impl ForwardError {
    /// A failed call to `node`: `NotSent` when the connection was refused (nothing reached the
    /// peer), else `Unreachable` (the request may have been delivered).
    pub(crate) fn transport(node: NodeId, status: &tonic::Status) -> Self {
        let message = status.to_string();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(status);
        while let Some(e) = cause {
            let refused = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            if refused {
                return ForwardError::NotSent { node, message };
            }
            cause = e.source();
        }
        ForwardError::Unreachable { node, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_connection_is_known_not_sent() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let status = tonic::Status::from_error(Box::new(refused));
        assert!(matches!(
            ForwardError::transport(3, &status),
            ForwardError::NotSent { node: 3, .. }
        ));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let status = tonic::Status::from_error(Box::new(reset));
        assert!(matches!(
            ForwardError::transport(3, &status),
            ForwardError::Unreachable { node: 3, .. }
        ));
        let answered = tonic::Status::unavailable("leader is busy");
        assert!(matches!(
            ForwardError::transport(3, &answered),
            ForwardError::Unreachable { .. }
        ));
    }
}
