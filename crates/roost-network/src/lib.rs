//! Peer networking: every Raft group's RPCs and request forwarding, over gRPC.
//!
//! This crate alone converts openraft's types to and from protobuf ([`convert`]). A node keeps one
//! HTTP/2 channel per peer ([`PeerClients`]); every group's [`GroupNetwork`] multiplexes its
//! RPCs over it, tagged with the group id. [`PeerService`] is the receiving side and hands each
//! RPC to the node through [`PeerHandler`]. Both sides speak mutual TLS when configured and
//! carry the cluster's id ([`security`]).

mod client;
mod convert;
mod error;
mod forwarder;
mod members;
pub mod protocol;
pub mod security;
mod server;

/// Code generated from `proto/roost/peer/v1/peer.proto`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("roost.peer.v1");
}

pub use client::{GroupNetwork, PeerClients, PeerConnection};
pub use error::ForwardError;
pub use members::{Identity, MembersHandler, MembersService};
pub use security::{ClusterId, PeerTls, PemError};
pub use server::{PeerHandler, PeerService};

/// A client of one peer: its channel, every request stamped with this node's cluster id.
/// Here rather than in `client`, which starts `forwarder`s that use it, so neither module
/// imports the other.
type Client = pb::peer_client::PeerClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, security::Stamp>,
>;
