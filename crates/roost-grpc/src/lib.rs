//! Roost's client gRPC API, the same operations as the HTTP edge: queues (with a bidirectional
//! publish stream, many publishes in flight, each acknowledged with its seq, and a pull stream
//! that follows the queue), async jobs (with a stream of a job's events) and work queues.
//! [`status`] is the one mapping of failures to gRPC status codes.

mod credentials;
mod jobs;
mod manage;
mod refusals;
mod service;
mod status;
mod work;
mod workspace;

/// Code generated from `proto/roost/client/v1/client.proto`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("roost.client.v1");
}

use std::sync::Arc;

use roost_node::Node;
use tokio_util::sync::CancellationToken;

pub use jobs::JobsService;
pub use service::QueuesService;
pub use work::WorkQueuesService;
pub use workspace::Workspaces;

/// What the client API takes from the node's configuration.
#[derive(Clone)]
pub struct Options {
    /// Largest accepted payload (a message, a job's or task's JSON).
    pub max_payload_bytes: usize,
    /// Retention limits given to queues created over this API.
    pub retention: roost_state::Retention,
    /// How long finished jobs are kept.
    pub job_ttl: roost_state::JobTtl,
    /// Consumers and allowed origins one queue may have.
    pub queue_caps: roost_state::QueueCaps,
    /// Checks workspace tokens (jobs, work queues); `None` refuses them all.
    pub tokens: Option<roost_auth::Verifier>,
}

/// Serves the client API on `incoming` connections (plain TCP, or TLS) until `shutdown`.
pub async fn serve<I, IO, E>(
    incoming: I,
    node: Arc<Node>,
    options: Options,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error>
where
    I: futures::Stream<Item = Result<IO, E>>,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let ws = Workspaces::new(Arc::clone(&node), options.tokens, options.max_payload_bytes);
    let max_decoding = options.max_payload_bytes + 64 * 1024;
    let log_node = Arc::clone(&node);
    tonic::transport::Server::builder()
        .layer(tower::layer::layer_fn(move |s| {
            refusals::LogRefused::new(s, Arc::clone(&log_node))
        }))
        .add_service(QueuesService::server(
            node,
            options.max_payload_bytes,
            options.retention,
            options.queue_caps,
        ))
        .add_service(
            JobsService::server(ws.clone(), options.job_ttl)
                .max_decoding_message_size(max_decoding),
        )
        .add_service(WorkQueuesService::server(ws).max_decoding_message_size(max_decoding))
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
}
