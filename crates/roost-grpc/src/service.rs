//! The `Queues` service: each call parses, calls `roost_api::Api` and renders (the same
//! operations, checks and error codes as the HTTP edge's `/q`). The publish stream keeps many
//! publishes in flight; the pull stream follows the queue.

use std::pin::Pin;

use futures::stream::FuturesUnordered;
use roost_api::{Api, Published, Pull, QueueRef, Replayed};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::credentials::{account_key, addr, bearer};
use crate::status::{as_error, held, over_quota, status};
use crate::{convert, pb};

/// Publishes in flight on one publish stream.
const STREAM_WINDOW: usize = 1024;
/// How long each look of the pull stream waits for a message.
const STREAM_WAIT_SECS: u64 = 30;

/// Serves queue operations.
#[derive(Clone)]
pub struct QueuesService {
    /// The application layer.
    api: Api,
}

/// A boxed stream of replies.
type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl QueuesService {
    /// The tonic service.
    pub fn server(api: Api) -> pb::queues_server::QueuesServer<Self> {
        let max = api.settings().max_document_bytes + 64 * 1024;
        pb::queues_server::QueuesServer::new(QueuesService { api }).max_decoding_message_size(max)
    }

    /// The queue `raw` names, with the call's key; an account key in the metadata claims it.
    async fn queue<T>(&self, req: &Request<T>, raw: &str) -> Result<QueueRef, Status> {
        let queue = self.api.queue_ref(raw, bearer(req)).map_err(status)?;
        if let Some(key) = account_key(req) {
            self.api.claim_queue(&queue, key).await.map_err(status)?;
        }
        Ok(queue)
    }

    /// One publish of a stream: its reply, or its refusal, with the client's correlation id.
    async fn publish_reply(
        &self,
        auth: [u8; 32],
        from: Option<std::net::IpAddr>,
        req: pb::PublishRequest,
    ) -> pb::PublishReply {
        let correlation = req.correlation;
        let published = match self.api.queue_id(&req.queue_id) {
            Ok(id) => self.publish_one(&QueueRef { id, auth }, from, req).await,
            Err(e) => Err(status(e)),
        };
        answered(correlation, published)
    }

    /// One publish.
    async fn publish_one(
        &self,
        queue: &QueueRef,
        from: Option<std::net::IpAddr>,
        req: pb::PublishRequest,
    ) -> Result<pb::PublishReply, Status> {
        let key = (!req.idempotency_key.is_empty()).then_some(req.idempotency_key);
        let published = self.api.publish(queue, from, &req.payload, key).await;
        stored(req.correlation, published.map_err(status)?)
    }
}

/// The reply of one publish among many (a stream's, a batch's): a refusal travels in it rather
/// than ending the call.
fn answered(correlation: u64, reply: Result<pb::PublishReply, Status>) -> pb::PublishReply {
    reply.unwrap_or_else(|s| pb::PublishReply {
        correlation,
        error: Some(as_error(&s)),
        ..Default::default()
    })
}

/// The reply to a publish that ended as `published`; a held one is refused as over quota.
fn stored(correlation: u64, published: Published) -> Result<pb::PublishReply, Status> {
    match published {
        Published::Stored {
            seq, id, replayed, ..
        } => Ok(pb::PublishReply {
            correlation,
            seq,
            id,
            replayed,
            error: None,
        }),
        Published::Held { pending_id, denied } => Err(held(denied.as_ref(), &pending_id)),
    }
}

#[tonic::async_trait]
impl pb::queues_server::Queues for QueuesService {
    async fn publish(
        &self,
        req: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::PublishReply>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let from = addr(&req);
        self.publish_one(&queue, from, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn publish_batch(
        &self,
        req: Request<pb::PublishBatchRequest>,
    ) -> Result<Response<pb::PublishBatchReply>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let from = addr(&req);
        let batch = req.into_inner();
        let messages: Vec<(&[u8], Option<String>)> = batch
            .messages
            .iter()
            .map(|m| {
                let key = (!m.idempotency_key.is_empty()).then(|| m.idempotency_key.clone());
                (m.payload.as_slice(), key)
            })
            .collect();
        let results = self
            .api
            .publish_batch(&queue, from, &messages)
            .await
            .map_err(status)?;
        let replies = (0u64..)
            .zip(results)
            .map(|(i, r)| answered(i, r.map_err(status).and_then(|p| stored(i, p))))
            .collect();
        Ok(Response::new(pb::PublishBatchReply { replies }))
    }

    type PublishStreamStream = ReplyStream<pb::PublishReply>;

    async fn publish_stream(
        &self,
        req: Request<Streaming<pb::PublishRequest>>,
    ) -> Result<Response<Self::PublishStreamStream>, Status> {
        // A stream without a key fails at once, not message by message; the key is digested
        // once for the whole stream.
        let auth = roost_api::digest(
            roost_api::queue_key(bearer(&req))
                .map_err(status)?
                .as_bytes(),
        );
        let from = addr(&req);
        let mut incoming = req.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_WINDOW);
        let service = self.clone();
        // One task per stream, not one per message: it reads the requests and drives their
        // publishes itself, instead of a task (an allocation and a wake-up) per message.
        tokio::spawn(async move {
            let mut in_flight = FuturesUnordered::new();
            let mut reading = true;
            loop {
                // Publishes in flight plus replies the client has not taken stay within the
                // window: a request is read only while every publish in flight has a place in
                // the channel, so a finished publish never waits to send its reply (the others
                // keep being polled) and a client that stops reading stops the reading here.
                let room = in_flight.len() < tx.capacity();
                tokio::select! {
                    next = incoming.next(), if reading && room => match next {
                        Some(Ok(req)) => in_flight.push(service.publish_reply(auth, from, req)),
                        // The client closed its side (or broke it): answer what was read.
                        _ => reading = false,
                    },
                    Some(reply) = in_flight.next() => {
                        // Never full, by the rule above; an error means the client has gone:
                        // the publishes already read still finish, as before.
                        if tx.try_send(Ok(reply)).is_err() {
                            reading = false;
                        }
                    }
                    // Nothing in flight and the channel full: wait for the client to take a
                    // reply.
                    _ = tx.reserve(), if reading && !room && in_flight.is_empty() => {}
                    // Closed and every reply sent: dropping `tx` ends the reply stream.
                    else => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn pull(&self, req: Request<pb::PullRequest>) -> Result<Response<pb::PullReply>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let from = addr(&req);
        let pull = convert::pull(req.into_inner());
        let pulled = self.api.pull(&queue, from, pull).await.map_err(status)?;
        Ok(Response::new(convert::pulled(pulled)))
    }

    type PullStreamStream = ReplyStream<pb::Envelope>;

    async fn pull_stream(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<Self::PullStreamStream>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        // The stream holds one waiting place for its whole life; its looks hold none.
        let slot = self.api.wait_slot(addr(&req)).map_err(status)?;
        let mut pull: Pull = convert::pull(req.into_inner());
        // Check the request (and the key) before the stream starts.
        let first = self
            .api
            .pull(
                &queue,
                None,
                Pull {
                    wait: None,
                    ..pull.clone()
                },
            )
            .await
            .map_err(status)?;
        let (tx, rx) = mpsc::channel(1024);
        let api = self.api.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut page = Some(first);
            loop {
                let next = match page.take() {
                    Some(p) => Ok(p),
                    // A long poll can wait 30 s with nothing to send: stop as soon as the client
                    // goes, not at the next message, so a cancelled stream costs nothing.
                    None => tokio::select! {
                        next = api.pull(&queue, None, pull.clone()) => next,
                        _ = tx.closed() => return,
                    },
                };
                let pulled = match next {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(status(e))).await;
                        return;
                    }
                };
                pull.cursor = Some(pulled.next_cursor);
                pull.wait = Some(STREAM_WAIT_SECS);
                for e in pulled.messages {
                    if tx.send(Ok(convert::envelope(e))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn ack(&self, req: Request<pb::AckRequest>) -> Result<Response<pb::AckReply>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let r = req.into_inner();
        let cursor = self
            .api
            .ack(&queue, &r.consumer_id, r.cursor)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::AckReply { cursor }))
    }

    async fn create_queue(
        &self,
        req: Request<pb::CreateQueueRequest>,
    ) -> Result<Response<pb::CreateQueueReply>, Status> {
        let from = addr(&req);
        let create = convert::create_queue(req.into_inner());
        let created = self.api.create_queue(from, create).await.map_err(status)?;
        Ok(Response::new(convert::created_queue(created)))
    }

    async fn get_queue(
        &self,
        req: Request<pb::QueueRef>,
    ) -> Result<Response<pb::QueueInfo>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let info = self.api.get_queue(&queue).await.map_err(status)?;
        Ok(Response::new(convert::queue_info(&info)))
    }

    async fn delete_queue(
        &self,
        req: Request<pb::QueueRef>,
    ) -> Result<Response<pb::DeleteQueueReply>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        self.api.delete_queue(&queue).await.map_err(status)?;
        Ok(Response::new(pb::DeleteQueueReply { deleted: true }))
    }

    async fn set_consumers(
        &self,
        req: Request<pb::SetConsumersRequest>,
    ) -> Result<Response<pb::QueueInfo>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let r = req.into_inner();
        self.api
            .change_consumers(&queue, &r.add, &r.remove)
            .await
            .map_err(status)?;
        let info = self.api.get_queue(&queue).await.map_err(status)?;
        Ok(Response::new(convert::queue_info(&info)))
    }

    async fn nack(&self, req: Request<pb::NackRequest>) -> Result<Response<pb::NackReply>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let nack = convert::nack(req.into_inner());
        let nacked = self.api.nack(&queue, nack).await.map_err(status)?;
        Ok(Response::new(pb::NackReply {
            seq: nacked.seq,
            nack_count: nacked.nack_count,
            dead_lettered: nacked.dead_lettered,
        }))
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::DeadLettersRequest>,
    ) -> Result<Response<pb::DeadLettersReply>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let r = req.into_inner();
        let limit = (r.limit != 0).then_some(r.limit);
        let page = self
            .api
            .dead_letters(&queue, Some(r.cursor), limit)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::dead_letters(page)))
    }

    async fn replay_dead_letter(
        &self,
        req: Request<pb::ReplayRequest>,
    ) -> Result<Response<pb::Envelope>, Status> {
        let queue = self.queue(&req, &req.get_ref().queue_id).await?;
        let from = addr(&req);
        let r = req.into_inner();
        match self
            .api
            .replay(&queue, from, &r.dlq_msg_id)
            .await
            .map_err(status)?
        {
            Replayed::Done(e) => Ok(Response::new(convert::envelope(e))),
            Replayed::OverQuota(d) => Err(over_quota(&d)),
        }
    }
}
