//! Bulk publishing over the client gRPC API's `PublishStream`: one stream, many publishes in
//! flight, each answered (stored or refused) on its own.

use roost_wire::Doc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::Error;

/// Code generated from `proto/roost/client/v1/client.proto` (client side only), for
/// programs that speak the client gRPC API themselves (the load generator).
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("roost.client.v1");
}

/// Publishes sent ahead of their replies.
const IN_FLIGHT: usize = 256;

/// One publish of a stream.
#[derive(Clone, Debug)]
pub struct StreamPublish {
    /// The message.
    pub payload: Doc,
    /// Makes a repeat answer the first publish.
    pub idempotency_key: Option<String>,
}

/// A stored publish of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamStored {
    /// Its place in the queue.
    pub seq: u64,
    /// The envelope id.
    pub id: String,
    /// Whether this was an idempotent repeat, answered with the first publish.
    pub replayed: bool,
}

/// A refused publish of a stream (the stream goes on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRefusal {
    /// The stable error code, as over HTTP.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// Publishes `messages` into `queue` over one gRPC stream to `grpc_url` (a node's client gRPC
/// listener), with its `key`. The answers come back in the order of `messages`.
pub async fn publish_stream(
    grpc_url: &str,
    queue: &str,
    key: &str,
    messages: Vec<StreamPublish>,
) -> Result<Vec<Result<StreamStored, StreamRefusal>>, Error> {
    let mut client = pb::queues_client::QueuesClient::connect(grpc_url.to_owned()).await?;
    let auth = format!("Bearer {key}")
        .parse()
        .map_err(|_| Error::Request("the queue key is not ASCII".into()))?;
    let count = messages.len();
    let (tx, rx) = mpsc::channel::<pb::PublishRequest>(IN_FLIGHT);
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request.metadata_mut().insert("authorization", auth);
    let queue = queue.to_owned();
    // Sent from a task of its own, so replies are read while requests still go out.
    let sender = tokio::spawn(async move {
        for (i, m) in messages.into_iter().enumerate() {
            let req = pb::PublishRequest {
                queue_id: queue.clone(),
                payload: m.payload.into_string().into_bytes(),
                idempotency_key: m.idempotency_key.unwrap_or_default(),
                correlation: i as u64,
            };
            if tx.send(req).await.is_err() {
                return;
            }
        }
    });
    let mut replies = client.publish_stream(request).await?.into_inner();
    let mut answers: Vec<Option<Result<StreamStored, StreamRefusal>>> = vec![None; count];
    for _ in 0..count {
        let reply = replies.message().await?.ok_or_else(|| {
            Error::Grpc(tonic::Status::unavailable(
                "the server closed the publish stream early",
            ))
        })?;
        let slot = usize::try_from(reply.correlation)
            .ok()
            .and_then(|i| answers.get_mut(i))
            .ok_or_else(|| {
                Error::Grpc(tonic::Status::internal(
                    "a reply for a publish that was not sent",
                ))
            })?;
        *slot = Some(match reply.error {
            Some(e) => Err(StreamRefusal {
                code: e.code,
                message: e.message,
            }),
            None => Ok(StreamStored {
                seq: reply.seq,
                id: reply.id,
                replayed: reply.replayed,
            }),
        });
    }
    sender.abort();
    answers
        .into_iter()
        .map(|a| {
            a.ok_or_else(|| {
                Error::Grpc(tonic::Status::internal(
                    "a publish was not answered (another was answered twice)",
                ))
            })
        })
        .collect()
}
