//! The jobs workload: enqueue `count` jobs pipelined, then `window` workers run claim→complete
//! cycles until every job is done; fails unless exactly `count` jobs complete.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use hdrhistogram::Histogram;

use crate::client::Api;
use crate::workload::PhaseOutcome;

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")
}

/// Enqueues `count` jobs of `job_type`, `window` at a time.
pub(crate) async fn enqueue(
    api: &Arc<Api>,
    token: &str,
    job_type: &str,
    count: u64,
    window: u64,
) -> anyhow::Result<PhaseOutcome> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..window.min(count) {
        let (api, next, token, job_type) = (
            api.clone(),
            next.clone(),
            token.to_owned(),
            job_type.to_owned(),
        );
        set.spawn(async move {
            let mut hist = histogram()?;
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    return anyhow::Ok(hist);
                }
                let t = Instant::now();
                let payload = roost_client::wire::Doc::parse(format!("{{\"i\":{i}}}"))?;
                api.create_job(&token, &job_type, payload).await?;
                hist.record(t.elapsed().as_micros() as u64)?;
            }
        });
    }
    let mut hist = histogram()?;
    while let Some(h) = set.join_next().await {
        hist.add(h.context("enqueuer failed")??)?;
    }
    Ok(PhaseOutcome {
        msgs: count,
        elapsed: start.elapsed(),
        hist,
    })
}

/// Runs claim→complete cycles with `workers` concurrent workers until `count` jobs completed.
/// Each worker claims up to `claim_batch` jobs at once and completes them concurrently.
pub(crate) async fn cycle(
    api: &Arc<Api>,
    token: &str,
    job_type: &str,
    count: u64,
    workers: u64,
    claim_batch: u32,
) -> anyhow::Result<PhaseOutcome> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (api, done, token, job_type) = (
            api.clone(),
            done.clone(),
            token.to_owned(),
            job_type.to_owned(),
        );
        set.spawn(async move {
            let mut hist = histogram()?;
            let mut idle = 0;
            let worker = format!("bench-{w}");
            while done.load(Ordering::SeqCst) < count {
                let t = Instant::now();
                let claimed = api
                    .claim_jobs(&token, &job_type, &worker, claim_batch)
                    .await?;
                if claimed.is_empty() {
                    idle += 1;
                    ensure!(idle < 2_000, "no job to claim for too long");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                idle = 0;
                // A job's cycle: its claim plus its own completion.
                let completions = claimed.iter().map(|(id, lease)| async {
                    api.complete_job(&token, id, lease).await?;
                    anyhow::Ok(t.elapsed())
                });
                for took in futures::future::try_join_all(completions).await? {
                    hist.record(took.as_micros() as u64)?;
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
            anyhow::Ok(hist)
        });
    }
    let mut hist = histogram()?;
    while let Some(h) = set.join_next().await {
        hist.add(h.context("worker failed")??)?;
    }
    let completed = done.load(Ordering::SeqCst);
    ensure!(
        completed == count,
        "completed {completed} jobs, expected {count}"
    );
    Ok(PhaseOutcome {
        msgs: count,
        elapsed: start.elapsed(),
        hist,
    })
}
