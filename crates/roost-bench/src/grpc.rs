//! Publishing over the client gRPC API: one bidirectional stream keeping `window` publishes
//! in flight, each matched to its reply by correlation id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context};
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;

use crate::client::QueueHandle;
use crate::payload;
use crate::stats::{new_histogram, record};
use crate::workload::PhaseOutcome;

/// Code generated from `proto/roost/client/v1/client.proto` (client side only).
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("roost.client.v1");
}

/// Publishes `count` messages over one stream with `window` in flight; returns the
/// measurements and the seqs, sorted.
pub(crate) async fn publish(
    url: &str,
    queue: &QueueHandle,
    count: u64,
    window: u64,
    payload_bytes: usize,
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
                slots.acquire().await?.forget();
                sent_at
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .insert(i, Instant::now());
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
