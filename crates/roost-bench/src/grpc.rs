//! The client gRPC API side of the workloads: publishing over one bidirectional stream
//! keeping `window` publishes in flight (each matched to its reply by correlation id), and a
//! drain consumer pulling and acking with unary calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context};
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;

use roost_client::pb;

use crate::client::{PullReply, PulledMessage, QueueHandle, CONSUMER_ID};
use crate::payload;
use crate::stats::{new_histogram, record};
use crate::workload::{departure, Consumer, Pacing, PhaseOutcome, Publisher};

/// Publishes `count` messages over one stream with at most `window` in flight (at the fixed
/// rate of `pacing` if given); returns the measurements and the seqs, sorted.
pub(crate) async fn publish(
    url: &str,
    queue: &QueueHandle,
    count: u64,
    window: u64,
    payload_bytes: usize,
    pacing: Option<Pacing>,
) -> anyhow::Result<(PhaseOutcome, Vec<u64>)> {
    let mut client = pb::queues_client::QueuesClient::connect(url.to_owned())
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let (tx, rx) = mpsc::channel::<pb::PublishRequest>(window as usize);
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", queue.key).parse()?);
    let mut replies = client.publish_stream(request).await?.into_inner();
    let slots = Arc::new(Semaphore::new(window as usize));
    let sent_at = Arc::new(std::sync::Mutex::new(HashMap::<u64, Instant>::new()));
    let start = Instant::now();
    let producer = {
        let (slots, sent_at, queue_id) = (slots.clone(), sent_at.clone(), queue.id.clone());
        tokio::spawn(async move {
            for i in 0..count {
                let due = departure(pacing, i).await;
                slots.acquire().await?.forget();
                // Open loop charges the wait for a free slot; closed loop starts the clock
                // once the message can leave.
                let sent = if pacing.is_some() {
                    due
                } else {
                    Instant::now()
                };
                sent_at
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .insert(i, sent);
                let req = pb::PublishRequest {
                    queue_id: queue_id.clone(),
                    payload: payload::build(i, payload_bytes).into_bytes(),
                    idempotency_key: String::new(),
                    correlation: i,
                };
                if tx.send(req).await.is_err() {
                    break;
                }
            }
            anyhow::Ok(())
        })
    };
    let mut hist = new_histogram()?;
    let mut seqs = Vec::with_capacity(count as usize);
    while (seqs.len() as u64) < count {
        let reply = replies
            .message()
            .await?
            .context("the server closed the publish stream early")?;
        ensure!(
            reply.error.is_none(),
            "publish {} refused: {:?}",
            reply.correlation,
            reply.error
        );
        let sent = sent_at
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .remove(&reply.correlation)
            .context("reply for an unknown correlation id")?;
        record(&mut hist, sent.elapsed());
        seqs.push(reply.seq);
        slots.add_permits(1);
    }
    producer.await.context("producer task failed")??;
    let elapsed = start.elapsed();
    seqs.sort_unstable();
    let before = seqs.len();
    seqs.dedup();
    ensure!(
        seqs.len() == before,
        "the server acknowledged two publishes with one seq"
    );
    Ok((
        PhaseOutcome {
            msgs: count,
            elapsed,
            hist,
        },
        seqs,
    ))
}

/// A queue over the client gRPC API, with unary calls on one HTTP/2 connection: `Pull` and
/// `Ack` to drain it, `PublishBatch` to publish batches (one at a time goes over the stream,
/// [`publish`]).
#[derive(Clone)]
pub(crate) struct GrpcQueue {
    /// The connected client.
    client: pb::queues_client::QueuesClient<tonic::transport::Channel>,
    /// The queue.
    queue_id: String,
    /// `Bearer <queue key>`, sent with every call.
    auth: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl GrpcQueue {
    /// Connects to `url` to use `queue`.
    pub(crate) async fn connect(url: &str, queue: &QueueHandle) -> anyhow::Result<Self> {
        let client = pb::queues_client::QueuesClient::connect(url.to_owned())
            .await
            .with_context(|| format!("connecting to {url}"))?;
        Ok(Self {
            client,
            queue_id: queue.id.clone(),
            auth: format!("Bearer {}", queue.key).parse()?,
        })
    }

    /// Wraps `msg` with the queue key.
    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(msg);
        request
            .metadata_mut()
            .insert("authorization", self.auth.clone());
        request
    }
}

impl Publisher for GrpcQueue {
    async fn publish(&self, first: u64, bodies: Vec<String>) -> anyhow::Result<Vec<u64>> {
        let request = self.request(pb::PublishBatchRequest {
            queue_id: self.queue_id.clone(),
            messages: bodies
                .into_iter()
                .map(|b| pb::BatchMessage {
                    payload: b.into_bytes(),
                    idempotency_key: String::new(),
                })
                .collect(),
        });
        let reply = self
            .client
            .clone()
            .publish_batch(request)
            .await?
            .into_inner();
        reply
            .replies
            .into_iter()
            .map(|r| match r.error {
                None => Ok(r.seq),
                Some(e) => Err(anyhow::anyhow!(
                    "publish {} refused: {e:?}",
                    first + r.correlation
                )),
            })
            .collect()
    }
}

impl Consumer for GrpcQueue {
    async fn pull(&self, cursor: u64, limit: u64) -> anyhow::Result<PullReply> {
        let request = self.request(pb::PullRequest {
            queue_id: self.queue_id.clone(),
            consumer_id: CONSUMER_ID.to_owned(),
            cursor: Some(cursor),
            limit: u32::try_from(limit).context("pull limit")?,
            wait_secs: 0,
        });
        let reply = self.client.clone().pull(request).await?.into_inner();
        Ok(PullReply {
            messages: reply
                .messages
                .iter()
                .map(|m| PulledMessage { seq: m.seq })
                .collect(),
            next_cursor: reply.next_cursor,
            has_more: reply.has_more,
        })
    }

    async fn ack(&self, cursor: u64) -> anyhow::Result<()> {
        let request = self.request(pb::AckRequest {
            queue_id: self.queue_id.clone(),
            consumer_id: CONSUMER_ID.to_owned(),
            cursor,
        });
        self.client.clone().ack(request).await?;
        Ok(())
    }
}
