//! Roost's client gRPC API: the queue operations of the HTTP edge over gRPC, with a
//! bidirectional publish stream (many publishes in flight, each acknowledged with its seq) and
//! a pull stream that follows the queue. [`status`] is the one mapping of failures to gRPC
//! status codes.

mod manage;
mod service;
mod status;

/// Code generated from `proto/roost/client/v1/client.proto`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("roost.client.v1");
}

use std::sync::Arc;

use roost_node::Node;
use tokio_util::sync::CancellationToken;

pub use service::QueuesService;

/// Serves the client API on `listener` until `shutdown`; queues created over it get
/// `retention`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    node: Arc<Node>,
    max_payload_bytes: usize,
    retention: roost_state::Retention,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(QueuesService::server(node, max_payload_bytes, retention))
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
}
