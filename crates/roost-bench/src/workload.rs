//! The measured phases: pipelined publishing and single-consumer draining.
//!
//! Both are bounded by the message count, and both check what the server returned (unique
//! publish seqs; a drain that sees exactly the published seqs in strictly increasing order)
//! so that a broken run fails instead of reporting numbers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use hdrhistogram::Histogram;

use crate::client::{Api, QueueHandle};
use crate::payload;
use crate::stats::{new_histogram, record};

/// Messages requested per pull while draining.
pub(crate) const DRAIN_BATCH: u64 = 100;

/// How many empty pulls a whole drain tolerates (e.g. a lagging follower) before it is
/// declared stuck; each costs [`EMPTY_PULL_BACKOFF`].
const MAX_EMPTY_PULLS: u64 = 1000;

/// Pause after an empty pull before asking again.
const EMPTY_PULL_BACKOFF: Duration = Duration::from_millis(5);

/// Raw measurements of one phase.
#[derive(Debug)]
pub(crate) struct PhaseOutcome {
    /// Messages handled.
    pub msgs: u64,
    /// Wall-clock time of the phase.
    pub elapsed: Duration,
    /// Per-request latencies in microseconds.
    pub hist: Histogram<u64>,
}

/// Publishes `count` messages keeping `window` requests in flight (`window` tasks sharing
/// one client and a message counter). Returns the measurements and the assigned seqs, sorted.
pub(crate) async fn publish(
    api: &Arc<Api>,
    queue: &Arc<QueueHandle>,
    count: u64,
    window: u64,
    payload_bytes: usize,
) -> anyhow::Result<(PhaseOutcome, Vec<u64>)> {
    ensure!(window >= 1, "window must be at least 1");
    let tasks = window.min(count);
    let next = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    let start = Instant::now();
    for _ in 0..tasks {
        let api = Arc::clone(api);
        let queue = Arc::clone(queue);
        let next = Arc::clone(&next);
        set.spawn(async move {
            let mut hist = new_histogram()?;
            let mut seqs = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let body = payload::build(i, payload_bytes);
                let sent = Instant::now();
                let seq = api
                    .publish(&queue, body)
                    .await
                    .with_context(|| format!("publishing message {i} to {}", queue.id))?;
                record(&mut hist, sent.elapsed());
                seqs.push(seq);
            }
            anyhow::Ok((hist, seqs))
        });
    }
    let mut hist = new_histogram()?;
    let mut seqs = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    // Dropping `set` on an early return aborts the remaining publishers.
    while let Some(joined) = set.join_next().await {
        let (h, s) = joined.context("publisher task failed")??;
        hist.add(h).context("merging latency histograms")?;
        seqs.extend(s);
    }
    let elapsed = start.elapsed();
    ensure!(
        seqs.len() as u64 == count,
        "published {} messages, expected {count}",
        seqs.len()
    );
    seqs.sort_unstable();
    if let Some(w) = seqs.windows(2).find(|w| w[0] == w[1]) {
        bail!("server assigned seq {} to two different messages", w[0]);
    }
    Ok((
        PhaseOutcome {
            msgs: count,
            elapsed,
            hist,
        },
        seqs,
    ))
}

/// Drains the queue with one consumer: pull a batch of [`DRAIN_BATCH`], ack it, repeat
/// until every message in `published` (sorted seqs) was seen. Fails unless the drain sees
/// exactly those seqs, in strictly increasing order, and nothing more.
pub(crate) async fn drain(
    api: &Api,
    queue: &QueueHandle,
    published: &[u64],
) -> anyhow::Result<PhaseOutcome> {
    let expected = published.len() as u64;
    let mut hist = new_histogram()?;
    let mut cursor = 0u64;
    let mut received = 0u64;
    let mut last_seq: Option<u64> = None;
    let mut empty_pulls = 0u64;
    let start = Instant::now();
    // Every non-empty pull makes progress, every empty one spends the empty budget.
    for _ in 0..expected.saturating_add(MAX_EMPTY_PULLS) {
        if received == expected {
            break;
        }
        let sent = Instant::now();
        let reply = api
            .pull(queue, cursor, DRAIN_BATCH)
            .await
            .with_context(|| format!("draining {} at cursor {cursor}", queue.id))?;
        if reply.messages.is_empty() {
            empty_pulls += 1;
            ensure!(
                empty_pulls < MAX_EMPTY_PULLS,
                "drain of {} stuck at cursor {cursor}: {received} of {expected} messages seen",
                queue.id
            );
            tokio::time::sleep(EMPTY_PULL_BACKOFF).await;
            continue;
        }
        for m in &reply.messages {
            let floor = last_seq.unwrap_or(cursor);
            ensure!(
                m.seq > floor,
                "drain of {}: seq {} not above previous {floor}",
                queue.id,
                m.seq
            );
            let Some(&want) = published.get(received as usize) else {
                bail!(
                    "drain of {} returned more than the {expected} published messages (seq {})",
                    queue.id,
                    m.seq
                );
            };
            ensure!(
                m.seq == want,
                "drain of {}: got seq {} where published seq {want} was expected",
                queue.id,
                m.seq
            );
            last_seq = Some(m.seq);
            received += 1;
        }
        let batch_last = last_seq.unwrap_or(cursor);
        ensure!(
            reply.next_cursor >= batch_last,
            "drain of {}: next_cursor {} is behind the last delivered seq {batch_last}",
            queue.id,
            reply.next_cursor
        );
        api.ack(queue, reply.next_cursor)
            .await
            .with_context(|| format!("acking {} at cursor {}", queue.id, reply.next_cursor))?;
        record(&mut hist, sent.elapsed());
        cursor = reply.next_cursor;
    }
    let elapsed = start.elapsed();
    ensure!(
        received == expected,
        "drain of {} saw {received} messages, expected {expected}",
        queue.id
    );
    // Outside the timed section: the queue must now be empty for this consumer.
    let tail = api
        .pull(queue, cursor, DRAIN_BATCH)
        .await
        .with_context(|| format!("final pull of {} at cursor {cursor}", queue.id))?;
    if let Some(extra) = tail.messages.first() {
        bail!(
            "drain of {} found unexpected extra message seq {} after all {expected} published ones",
            queue.id,
            extra.seq
        );
    }
    ensure!(
        !tail.has_more,
        "drain of {}: server reports more messages after all {expected} published ones",
        queue.id
    );
    Ok(PhaseOutcome {
        msgs: received,
        elapsed,
        hist,
    })
}
