//! Roost's client gRPC API, the same operations as the HTTP edge: queues (with a bidirectional
//! publish stream, many publishes in flight, each acknowledged with its seq, and a pull stream
//! that follows the queue), async jobs (with a stream of a job's events) and work queues.
//! Each call parses, calls `roost_api::Api` and renders; [`status`] is the one mapping of
//! error codes to gRPC status codes. Server reflection describes these services (and only
//! these: the peer protocol is served on another port and never described), so tools can call
//! them without the proto files; every call still carries its own credentials.

mod calls;
mod convert;
mod credentials;
mod jobs;
mod service;
mod status;
mod work;

/// Code generated from `proto/roost/client/v1/client.proto`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("roost.client.v1");

    /// The encoded `FileDescriptorSet` of `proto/roost/client/v1/client.proto`.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("client_v1");
}

use std::sync::Arc;

use roost_api::Api;
use tokio_util::sync::CancellationToken;

pub use jobs::JobsService;
pub use service::QueuesService;
pub use work::WorkQueuesService;

/// Why the client gRPC listener stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The descriptors built into the binary could not be read: a build defect.
    #[error("server reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The listener failed.
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}

/// Serves the client API on `incoming` connections (plain TCP, or TLS) until `shutdown`.
pub async fn serve<I, IO, E>(
    incoming: I,
    api: Api,
    shutdown: CancellationToken,
) -> Result<(), ServeError>
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
    let max_decoding = api.settings().max_document_bytes + 64 * 1024;
    let node = Arc::clone(api.node());
    // Both reflection versions: grpcurl asks for v1, older tools only know v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    tonic::transport::Server::builder()
        .layer(tower::layer::layer_fn(move |s| {
            calls::Observe::new(s, Arc::clone(&node))
        }))
        .add_service(QueuesService::server(api.clone()))
        .add_service(JobsService::server(api.clone()).max_decoding_message_size(max_decoding))
        .add_service(WorkQueuesService::server(api).max_decoding_message_size(max_decoding))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
    Ok(())
}
