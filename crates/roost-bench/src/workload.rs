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

use crate::client::{Api, PullReply, QueueHandle};
use crate::payload;
use crate::stats::{new_histogram, record};

/// Messages requested per pull while draining.
pub(crate) const DRAIN_BATCH: u64 = 100;

/// How many empty pulls a whole drain tolerates (e.g. a lagging follower) before it is
/// declared stuck; each costs [`EMPTY_PULL_BACKOFF`].
const MAX_EMPTY_PULLS: u64 = 1000;

/// Pause after an empty pull before asking again.
const EMPTY_PULL_BACKOFF: Duration = Duration::from_millis(5);

/// When each message of an open-loop run is due: message `i` at `start + i / rate`.
///
/// Latency is measured from the due time, not from when a sender got to it, so a stalled
/// server is charged for the requests that queued up behind it (coordinated omission).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacing {
    /// When message 0 is due.
    pub start: Instant,
    /// Fixed arrival rate in messages per second.
    pub rate: u64,
}

impl Pacing {
    /// When message `i` is due.
    pub(crate) fn due(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.rate as f64)
    }
}

/// Waits until message `i` is due under `pacing` and returns the instant its latency is
/// measured from: the due time when paced (open loop), now otherwise (closed loop).
pub(crate) async fn departure(pacing: Option<Pacing>, i: u64) -> Instant {
    match pacing {
        Some(p) => {
            let due = p.due(i);
            tokio::time::sleep_until(due.into()).await;
            due
        }
        None => Instant::now(),
    }
}

/// The consumer side of a drain, over HTTP or gRPC. Cheap to clone, so acks can run as
/// tasks of their own while the next batch is pulled.
pub(crate) trait Consumer: Clone + Send + Sync + 'static {
    /// Pulls up to `limit` messages with `seq > cursor`.
    fn pull(
        &self,
        cursor: u64,
        limit: u64,
    ) -> impl std::future::Future<Output = anyhow::Result<PullReply>> + Send;
    /// Acknowledges everything up to and including `cursor`.
    fn ack(&self, cursor: u64) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// The publishing side of the workloads, over HTTP or gRPC.
pub(crate) trait Publisher: Clone + Send + Sync + 'static {
    /// Publishes messages `first..` (their JSON bodies) in one request; the assigned seqs, in
    /// order. Fails unless every message was stored.
    fn publish(
        &self,
        first: u64,
        bodies: Vec<String>,
    ) -> impl std::future::Future<Output = anyhow::Result<Vec<u64>>> + Send;
}

/// A queue over HTTP: the shared client and the queue it publishes to or drains.
#[derive(Clone)]
pub(crate) struct HttpQueue(pub Arc<Api>, pub Arc<QueueHandle>);

impl Publisher for HttpQueue {
    async fn publish(&self, first: u64, mut bodies: Vec<String>) -> anyhow::Result<Vec<u64>> {
        if bodies.len() == 1 {
            Ok(vec![
                self.0
                    .publish(&self.1, first, bodies.swap_remove(0))
                    .await?,
            ])
        } else {
            self.0.publish_batch(&self.1, first, &bodies).await
        }
    }
}

impl Consumer for HttpQueue {
    async fn pull(&self, cursor: u64, limit: u64) -> anyhow::Result<PullReply> {
        self.0.pull(&self.1, cursor, limit).await
    }

    async fn ack(&self, cursor: u64) -> anyhow::Result<()> {
        self.0.ack(&self.1, cursor).await
    }
}

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

/// Publishes `count` messages keeping at most `window` messages in flight (tasks sharing one
/// client and a message counter, each sending `batch` messages per request), as fast as
/// replies come back or, with `pacing` (one message per request), at its fixed rate. Returns
/// the measurements (a message's latency is its request's) and the assigned seqs, sorted.
pub(crate) async fn publish(
    to: impl Publisher,
    count: u64,
    (window, batch): (u64, u64),
    payload_bytes: usize,
    pacing: Option<Pacing>,
) -> anyhow::Result<(PhaseOutcome, Vec<u64>)> {
    ensure!(
        window >= 1 && batch >= 1,
        "window and batch must be at least 1"
    );
    let tasks = (window / batch).clamp(1, count.div_ceil(batch));
    let next = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    let start = Instant::now();
    for _ in 0..tasks {
        let to = to.clone();
        let next = Arc::clone(&next);
        set.spawn(async move {
            let mut hist = new_histogram()?;
            let mut seqs = Vec::new();
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= count {
                    break;
                }
                let bodies: Vec<String> = (first..(first + batch).min(count))
                    .map(|i| payload::build(i, payload_bytes))
                    .collect();
                let sent = departure(pacing, first).await;
                let stored = to
                    .publish(first, bodies)
                    .await
                    .with_context(|| format!("publishing messages from {first}"))?;
                let took = sent.elapsed();
                for _ in &stored {
                    record(&mut hist, took);
                }
                seqs.extend(stored);
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

/// Creates `count` queues keeping `window` create requests in flight; fails unless every
/// create got a distinct queue id.
pub(crate) async fn create_queues(
    api: &Arc<Api>,
    count: u64,
    window: u64,
) -> anyhow::Result<PhaseOutcome> {
    let next = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    let start = Instant::now();
    for _ in 0..window.min(count) {
        let (api, next) = (Arc::clone(api), Arc::clone(&next));
        set.spawn(async move {
            let mut hist = new_histogram()?;
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let sent = Instant::now();
                ids.push(api.create_queue().await?.id);
                record(&mut hist, sent.elapsed());
            }
            anyhow::Ok((hist, ids))
        });
    }
    let mut hist = new_histogram()?;
    let mut ids = std::collections::HashSet::new();
    while let Some(joined) = set.join_next().await {
        let (h, created) = joined.context("creating task failed")??;
        hist.add(h).context("merging latency histograms")?;
        ids.extend(created);
    }
    ensure!(
        ids.len() as u64 == count,
        "{count} creates returned {} distinct queue ids",
        ids.len()
    );
    Ok(PhaseOutcome {
        msgs: count,
        elapsed: start.elapsed(),
        hist,
    })
}

/// Drains `queue` with one consumer: pull a batch of [`DRAIN_BATCH`], ack it, repeat
/// until every message in `published` (sorted seqs) was seen. With `ack_window` 1 every ack
/// is awaited before the next pull; above 1, up to that many acks stay in flight while the
/// following batches are pulled (pulls name their cursor, so they need not wait), and the
/// phase ends when the last ack is confirmed. Fails unless the drain sees exactly the
/// published seqs, in strictly increasing order, and nothing more, or if any ack fails.
pub(crate) async fn drain(
    consumer: &impl Consumer,
    queue: &str,
    published: &[u64],
    ack_window: u64,
) -> anyhow::Result<PhaseOutcome> {
    let mut acks = tokio::task::JoinSet::new();
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
        let reply = consumer
            .pull(cursor, DRAIN_BATCH)
            .await
            .with_context(|| format!("draining {queue} at cursor {cursor}"))?;
        if reply.messages.is_empty() {
            empty_pulls += 1;
            ensure!(
                empty_pulls < MAX_EMPTY_PULLS,
                "drain of {queue} stuck at cursor {cursor}: {received} of {expected} messages seen"
            );
            tokio::time::sleep(EMPTY_PULL_BACKOFF).await;
            continue;
        }
        for m in &reply.messages {
            let floor = last_seq.unwrap_or(cursor);
            ensure!(
                m.seq > floor,
                "drain of {}: seq {} not above previous {floor}",
                queue,
                m.seq
            );
            let Some(&want) = published.get(received as usize) else {
                bail!(
                    "drain of {} returned more than the {expected} published messages (seq {})",
                    queue,
                    m.seq
                );
            };
            ensure!(
                m.seq == want,
                "drain of {}: got seq {} where published seq {want} was expected",
                queue,
                m.seq
            );
            last_seq = Some(m.seq);
            received += 1;
        }
        let batch_last = last_seq.unwrap_or(cursor);
        ensure!(
            reply.next_cursor >= batch_last,
            "drain of {}: next_cursor {} is behind the last delivered seq {batch_last}",
            queue,
            reply.next_cursor
        );
        let acked = reply.next_cursor;
        let acker = consumer.clone();
        acks.spawn(async move {
            acker
                .ack(acked)
                .await
                .with_context(|| format!("acking at cursor {acked}"))
        });
        while acks.len() as u64 >= ack_window.max(1) {
            if let Some(done) = acks.join_next().await {
                done.context("ack task failed")??;
            }
        }
        record(&mut hist, sent.elapsed());
        cursor = reply.next_cursor;
    }
    while let Some(done) = acks.join_next().await {
        done.context("ack task failed")??;
    }
    let elapsed = start.elapsed();
    ensure!(
        received == expected,
        "drain of {} saw {received} messages, expected {expected}",
        queue
    );
    // Outside the timed section: the queue must now be empty for this consumer.
    let tail = consumer
        .pull(cursor, DRAIN_BATCH)
        .await
        .with_context(|| format!("final pull of {queue} at cursor {cursor}"))?;
    if let Some(extra) = tail.messages.first() {
        bail!(
            "drain of {} found unexpected extra message seq {} after all {expected} published ones",
            queue,
            extra.seq
        );
    }
    ensure!(
        !tail.has_more,
        "drain of {}: server reports more messages after all {expected} published ones",
        queue
    );
    Ok(PhaseOutcome {
        msgs: received,
        elapsed,
        hist,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_spaces_messages_by_the_rate() {
        let start = Instant::now();
        let p = Pacing { start, rate: 4 };
        assert_eq!(p.due(0), start);
        assert_eq!(p.due(1), start + Duration::from_millis(250));
        assert_eq!(p.due(10), start + Duration::from_millis(2500));
    }

    #[tokio::test]
    async fn paced_departures_wait_and_report_the_due_time() {
        let start = Instant::now();
        let p = Pacing { start, rate: 50 };
        // Message 2 is due 40 ms in: departure waits for it and reports the due time, so a
        // late sender is charged from when the message should have left.
        let sent = departure(Some(p), 2).await;
        assert_eq!(sent, start + Duration::from_millis(40));
        assert!(Instant::now() >= sent);
        // A message already overdue leaves at once, still measured from its due time.
        let overdue = departure(Some(p), 0).await;
        assert_eq!(overdue, start);
        // Closed loop measures from now.
        let before = Instant::now();
        assert!(departure(None, 7).await >= before);
    }
}
