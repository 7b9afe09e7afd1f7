//! The `Queues` service.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use roost_api::{Api, Error, ErrorCode};
use roost_node::Node;
use roost_state::{
    Command, Envelope, Query, QueryResult, QueueId, Response, Retention, Source, Topic,
};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response as GrpcResponse, Status, Streaming};

use crate::credentials::{addr, auth, publisher};
use crate::pb;
use crate::status::{as_error, failed, invalid, refused, status, unexpected};

/// Publishes in flight on one publish stream.
const STREAM_WINDOW: usize = 1024;
/// Most messages one pull returns.
const MAX_PULL: u32 = 1000;

/// Serves queue operations through a node.
#[derive(Clone)]
pub struct QueuesService {
    /// The application layer (waiting calls' slots; the queue calls move there next).
    api: Api,
    /// The node requests are routed through.
    pub(crate) node: Arc<Node>,
    /// Largest payload accepted.
    max_payload: usize,
    /// Retention limits given to queues created over this API (the node's configuration).
    pub(crate) retention: Retention,
    /// Consumers and origins one queue may have.
    pub(crate) caps: roost_state::QueueCaps,
}

/// A boxed stream of replies.
type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl QueuesService {
    /// The tonic service.
    pub fn server(
        api: Api,
        retention: Retention,
        caps: roost_state::QueueCaps,
    ) -> pb::queues_server::QueuesServer<Self> {
        let max_payload = api.settings().max_document_bytes;
        pb::queues_server::QueuesServer::new(QueuesService {
            node: Arc::clone(api.node()),
            api,
            max_payload,
            retention,
            caps,
        })
        .max_decoding_message_size(max_payload + 64 * 1024)
    }

    /// The queue id in a request, if it names an existing shard.
    pub(crate) fn queue(&self, raw: &str) -> Result<QueueId, Status> {
        QueueId::parse(raw)
            .filter(|q| (1..=self.node.shards()).contains(&q.shard()))
            .ok_or_else(|| refused(&roost_state::CommandError::QueueNotFound))
    }

    /// One publish, validated and applied.
    async fn publish_one(
        &self,
        auth: [u8; 32],
        publisher: &str,
        req: pb::PublishRequest,
    ) -> Result<pb::PublishReply, Status> {
        let queue = self.queue(&req.queue_id)?;
        let payload = json_text("payload", &req.payload, self.max_payload)?;
        let idempotency =
            idempotency(req.idempotency_key)?.map(|key| (key, Sha256::digest(&req.payload).into()));
        let command = Command::Publish {
            queue: queue.clone(),
            auth,
            id: roost_state::ids::message_id(rand::rng().random()),
            payload: payload.to_owned(),
            source: Source::Publish,
            idempotency,
            hold: None,
        };
        let charged = self
            .node
            .publish_charged(command, publisher)
            .await
            .map_err(failed)?;
        match charged.response {
            Response::Published {
                seq, id, replayed, ..
            } => Ok(pb::PublishReply {
                correlation: req.correlation,
                seq,
                id,
                replayed,
                error: None,
            }),
            Response::Held { pending_id } => {
                Err(crate::status::held(charged.denied.as_ref(), &pending_id))
            }
            Response::Refused(e) => Err(refused(&e)),
            other => Err(unexpected(&other)),
        }
    }

    async fn pull_once(
        &self,
        auth: [u8; 32],
        req: &pb::PullRequest,
    ) -> Result<pb::PullReply, Status> {
        let queue = self.queue(&req.queue_id)?;
        if !roost_state::ids::is_valid_consumer_id(&req.consumer_id) {
            return Err(invalid(
                ErrorCode::InvalidConsumerId,
                "consumer_id must be 1-128 letters, digits, '_', '-', '.' or ':'",
            ));
        }
        let limit = if req.limit == 0 { 10 } else { req.limit };
        if limit > MAX_PULL {
            return Err(invalid(
                ErrorCode::InvalidLimit,
                "limit must be at most 1000",
            ));
        }
        let query = Query::Pull {
            queue: queue.clone(),
            auth,
            consumer: req.consumer_id.clone(),
            cursor: req.cursor,
            limit: limit as usize,
        };
        // Refused past 30 s, as over HTTP (it used to be clamped here).
        if req.wait_secs > 30 {
            return Err(invalid(
                ErrorCode::InvalidWait,
                "wait must be at most 30 seconds",
            ));
        }
        let wait = Duration::from_secs(u64::from(req.wait_secs));
        let deadline = Instant::now() + wait;
        let mut changes =
            (!wait.is_zero()).then(|| self.node.subscribe(Topic::Queue(queue.clone())));
        loop {
            let reply = match self
                .node
                .read(queue.shard(), query.clone())
                .await
                .map_err(failed)?
            {
                QueryResult::Pulled {
                    messages,
                    cursor,
                    next_cursor,
                    has_more,
                    floor,
                    ..
                } => pb::PullReply {
                    messages: messages.into_iter().map(envelope).collect(),
                    cursor,
                    next_cursor,
                    has_more,
                    floor,
                },
                QueryResult::Refused(e) => return Err(refused(&e)),
                other => return Err(unexpected(&other)),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match &mut changes {
                Some(changes) if reply.messages.is_empty() && !left.is_zero() => {
                    changes.changed(left).await;
                }
                _ => return Ok(reply),
            }
        }
    }
}

/// An envelope as the reply message.
pub(crate) fn envelope(e: Envelope) -> pb::Envelope {
    pb::Envelope {
        id: e.id,
        seq: e.seq,
        source: e.source.as_str().to_owned(),
        payload: e.payload.into_bytes(),
        published_at_ms: e.published_at_ms,
    }
}

#[tonic::async_trait]
impl pb::queues_server::Queues for QueuesService {
    async fn publish(
        &self,
        req: Request<pb::PublishRequest>,
    ) -> Result<GrpcResponse<pb::PublishReply>, Status> {
        let key = auth(&req)?;
        let publisher = publisher(&req);
        self.publish_one(key, &publisher, req.into_inner())
            .await
            .map(GrpcResponse::new)
    }

    type PublishStreamStream = ReplyStream<pb::PublishReply>;

    async fn publish_stream(
        &self,
        req: Request<Streaming<pb::PublishRequest>>,
    ) -> Result<GrpcResponse<Self::PublishStreamStream>, Status> {
        let key = auth(&req)?;
        let publisher: Arc<str> = publisher(&req).into();
        let mut incoming = req.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_WINDOW);
        let window = Arc::new(Semaphore::new(STREAM_WINDOW));
        let service = self.clone();
        tokio::spawn(async move {
            while let Some(next) = incoming.next().await {
                let Ok(req) = next else {
                    break;
                };
                let Ok(permit) = window.clone().acquire_owned().await else {
                    break;
                };
                let (service, tx, publisher) = (service.clone(), tx.clone(), publisher.clone());
                tokio::spawn(async move {
                    let correlation = req.correlation;
                    let reply = service
                        .publish_one(key, &publisher, req)
                        .await
                        .unwrap_or_else(|s| pb::PublishReply {
                            correlation,
                            error: Some(as_error(&s)),
                            ..Default::default()
                        });
                    let _ = tx.send(Ok(reply)).await;
                    drop(permit);
                });
            }
        });
        Ok(GrpcResponse::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<GrpcResponse<pb::PullReply>, Status> {
        let key = auth(&req)?;
        let _slot = if req.get_ref().wait_secs > 0 {
            self.api.wait_slot(addr(&req)).map_err(status)?
        } else {
            None
        };
        self.pull_once(key, req.get_ref())
            .await
            .map(GrpcResponse::new)
    }

    type PullStreamStream = ReplyStream<pb::Envelope>;

    async fn pull_stream(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<GrpcResponse<Self::PullStreamStream>, Status> {
        let key = auth(&req)?;
        let slot = self.api.wait_slot(addr(&req)).map_err(status)?;
        let mut pull = req.into_inner();
        // Check the request (and the key) before the stream starts.
        let first = self
            .pull_once(
                key,
                &pb::PullRequest {
                    wait_secs: 0,
                    ..pull.clone()
                },
            )
            .await?;
        let (tx, rx) = mpsc::channel(1024);
        let service = self.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut page = Some(first);
            loop {
                let next = match page.take() {
                    Some(p) => Ok(p),
                    // A long poll can wait 30 s with nothing to send: stop as soon as the client
                    // goes, not at the next message, so a cancelled stream costs nothing.
                    None => tokio::select! {
                        next = service.pull_once(key, &pull) => next,
                        _ = tx.closed() => return,
                    },
                };
                let reply = match next {
                    Ok(p) => p,
                    Err(s) => {
                        let _ = tx.send(Err(s)).await;
                        return;
                    }
                };
                pull.cursor = Some(reply.next_cursor);
                pull.wait_secs = 30;
                for e in reply.messages {
                    if tx.send(Ok(e)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(GrpcResponse::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn ack(
        &self,
        req: Request<pb::AckRequest>,
    ) -> Result<GrpcResponse<pb::AckReply>, Status> {
        let key = auth(&req)?;
        let req = req.into_inner();
        let queue = self.queue(&req.queue_id)?;
        if !roost_state::ids::is_valid_consumer_id(&req.consumer_id) {
            return Err(invalid(
                ErrorCode::InvalidConsumerId,
                "consumer_id must be 1-128 letters, digits, '_', '-', '.' or ':'",
            ));
        }
        let command = self.caps.limit(Command::Ack {
            queue: queue.clone(),
            auth: key,
            consumer: req.consumer_id,
            cursor: req.cursor,
        });
        match self.apply(&queue, command).await? {
            Response::Acked { cursor } => Ok(GrpcResponse::new(pb::AckReply { cursor })),
            other => Err(unexpected(&other)),
        }
    }

    async fn create_queue(
        &self,
        req: Request<pb::CreateQueueRequest>,
    ) -> Result<GrpcResponse<pb::CreateQueueReply>, Status> {
        self.create_queue(req.into_inner())
            .await
            .map(GrpcResponse::new)
    }

    async fn get_queue(
        &self,
        req: Request<pb::QueueRef>,
    ) -> Result<GrpcResponse<pb::QueueInfo>, Status> {
        let key = auth(&req)?;
        self.get_queue(key, req.into_inner())
            .await
            .map(GrpcResponse::new)
    }

    async fn delete_queue(
        &self,
        req: Request<pb::QueueRef>,
    ) -> Result<GrpcResponse<pb::DeleteQueueReply>, Status> {
        let key = auth(&req)?;
        self.delete_queue(key, req.into_inner())
            .await
            .map(GrpcResponse::new)
    }

    async fn set_consumers(
        &self,
        req: Request<pb::SetConsumersRequest>,
    ) -> Result<GrpcResponse<pb::QueueInfo>, Status> {
        let key = auth(&req)?;
        self.set_consumers(key, req.into_inner())
            .await
            .map(GrpcResponse::new)
    }

    async fn nack(
        &self,
        req: Request<pb::NackRequest>,
    ) -> Result<GrpcResponse<pb::NackReply>, Status> {
        let key = auth(&req)?;
        self.nack(key, req.into_inner())
            .await
            .map(GrpcResponse::new)
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::DeadLettersRequest>,
    ) -> Result<GrpcResponse<pb::DeadLettersReply>, Status> {
        let key = auth(&req)?;
        self.list_dead_letters(key, req.into_inner())
            .await
            .map(GrpcResponse::new)
    }

    async fn replay_dead_letter(
        &self,
        req: Request<pb::ReplayRequest>,
    ) -> Result<GrpcResponse<pb::Envelope>, Status> {
        let key = auth(&req)?;
        let publisher = publisher(&req);
        self.replay_dead_letter(key, &publisher, req.into_inner())
            .await
            .map(GrpcResponse::new)
    }
}

/// `bytes` as a JSON document of at most `max` bytes (a message), without copying it.
fn json_text<'a>(field: &str, bytes: &'a [u8], max: usize) -> Result<&'a str, Status> {
    if bytes.len() > max {
        return Err(invalid(
            ErrorCode::PayloadTooLarge,
            &format!("{field} exceeds the size limit"),
        ));
    }
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| roost_api::input::is_json_document(s))
        .ok_or_else(|| {
            invalid(
                ErrorCode::InvalidJson,
                &format!("{field} must be a JSON document, nested at most 128 deep"),
            )
        })
}

/// An optional idempotency key: empty means none.
fn idempotency(key: String) -> Result<Option<String>, Status> {
    if key.is_empty() {
        return Ok(None);
    }
    if !roost_api::input::is_valid_idempotency_key(&key) {
        return Err(status(Error::new(
            ErrorCode::InvalidIdempotencyKey,
            "idempotency_key must be 1-255 visible ASCII characters",
            "",
        )));
    }
    Ok(Some(key))
}
