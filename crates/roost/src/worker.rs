//! `roost worker`: runs a command for each claimed job.
//!
//! The job's payload (JSON) goes to the command's stdin. On stdout, a line `progress N`
//! (0–100) reports progress, sent with the next heartbeat; the last other line is the result
//! (JSON, or else a JSON string). Exit status 0 completes the job; anything else fails it
//! (retryable). Heartbeats keep the lease while the command runs; when one says cancellation
//! was requested, the command is killed and the job reported as failed (not retryable), which
//! the server records as cancelled.

use std::process::Stdio;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use roost_client::wire::{ClaimJobs, CompleteJob, Doc, FailJob, Job, JobHeartbeat};
use roost_client::Client;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::NodesArgs;

/// Options of `roost worker`.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub nodes: NodesArgs,
    /// Workspace token (or ROOST_TOKEN).
    #[arg(long, env = "ROOST_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Job type to run (repeatable).
    #[arg(long = "type", required = true)]
    pub types: Vec<String>,
    /// Jobs run at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// This worker's id.
    #[arg(long, default_value = "roost-worker")]
    pub worker_id: String,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 10)]
    pub heartbeat_secs: u64,
    /// Stop after this many jobs (0: run until interrupted).
    #[arg(long, default_value_t = 0)]
    pub max_jobs: u64,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Runs jobs until interrupted or `--max-jobs` jobs were handled: up to `--concurrency` at
/// once. One claim asks for as many jobs as there are free slots (at most 100), so a worker
/// with many slots fills them in one request (one Raft entry) rather than one per slot.
pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.concurrency > 256 {
        bail!("--concurrency must be between 1 and 256");
    }
    let client = args.nodes.client().await?;
    let stop = CancellationToken::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
    }
    let args = Arc::new(args);
    let slots = Arc::new(Semaphore::new(args.concurrency));
    let mut running = JoinSet::new();
    let mut claimed = 0u64;
    while !stop.is_cancelled() {
        let left = match args.max_jobs {
            0 => MAX_CLAIM,
            max if claimed >= max => break,
            max => (max - claimed).min(MAX_CLAIM),
        };
        // Wait for a free slot, then take every other free one.
        let first = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot?,
            _ = stop.cancelled() => break,
        };
        let mut free = vec![first];
        while (free.len() as u64) < left {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => free.push(slot),
                Err(_) => break,
            }
        }
        match claim(&client, &args, free.len()).await {
            // Slots left over go back when `free` is dropped.
            Ok(jobs) => {
                for (job, slot) in jobs.into_iter().zip(free) {
                    claimed += 1;
                    let (client, args) = (client.clone(), Arc::clone(&args));
                    running.spawn(async move {
                        if let Err(e) = run_job(&client, &args, &job).await {
                            eprintln!("job {}: {e:#}", job.id);
                        }
                        drop(slot);
                    });
                }
            }
            Err(e) => {
                eprintln!("claim failed: {e:#}");
                drop(free);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.cancelled() => {}
                }
            }
        }
    }
    while let Some(done) = running.join_next().await {
        done?;
    }
    Ok(())
}

/// Most jobs one claim may ask for.
const MAX_CLAIM: u64 = 100;

/// Up to `limit` due jobs of the worker's types, waiting up to 10 s for one.
async fn claim(client: &Client, args: &WorkerArgs, limit: usize) -> anyhow::Result<Vec<Job>> {
    let req = ClaimJobs {
        worker_id: args.worker_id.clone(),
        types: args.types.clone(),
        limit: Some(u32::try_from(limit)?),
        wait: Some(10),
    };
    Ok(client.claim_jobs(&args.token, &req).await?.jobs)
}

async fn run_job(client: &Client, args: &WorkerArgs, job: &Job) -> anyhow::Result<()> {
    let id = &job.id;
    let token = job
        .token
        .as_deref()
        .context("a claimed job without its token")?;
    let mut child = tokio::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", args.command[0]))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command may exit without reading its input; that is its business, not an error.
        let payload = format!("{}\n", job.payload.get());
        let _ = stdin.write_all(payload.as_bytes()).await;
    }
    let stdout = child.stdout.take().context("no stdout")?;
    let progress = Arc::new(AtomicU8::new(0));
    let reader = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut last = None;
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match line
                    .strip_prefix("progress ")
                    .and_then(|p| p.trim().parse::<u8>().ok())
                {
                    Some(p) => progress.store(p.min(100), Ordering::SeqCst),
                    None if !line.trim().is_empty() => last = Some(line),
                    None => {}
                }
            }
            last
        })
    };
    let mut beat = tokio::time::interval(Duration::from_secs(args.heartbeat_secs.max(1)));
    beat.tick().await;
    let status = loop {
        tokio::select! {
            status = child.wait() => break Some(status?),
            _ = beat.tick() => {
                let beat = JobHeartbeat {
                    token: token.to_owned(),
                    progress: Some(i64::from(progress.load(Ordering::SeqCst))),
                };
                match client.heartbeat_job(&args.token, id, &beat).await {
                    Ok(beat) if beat.cancel_requested => {
                        child.kill().await?;
                        break None;
                    }
                    Ok(_) => {}
                    // The lease is gone (timed out or reclaimed): stop working on it.
                    Err(e @ roost_client::Error::Api { status: 409, .. }) => {
                        child.kill().await?;
                        return Err(e.into());
                    }
                    Err(e) => eprintln!("heartbeat failed: {e:#}"),
                }
            }
        }
    };
    let last = reader.await.unwrap_or(None);
    match status {
        None => {
            let fail = FailJob {
                token: token.to_owned(),
                error: "cancelled".into(),
                retryable: false,
            };
            client.fail_job(&args.token, id, &fail).await?;
        }
        Some(s) if s.success() => {
            // The line as printed when it is JSON, else the line as a JSON string.
            let result = match last {
                None => RawValue::NULL.to_owned(),
                Some(l) => serde_json::from_str::<Box<RawValue>>(&l)
                    .or_else(|_| serde_json::value::to_raw_value(&l))?,
            };
            let complete = CompleteJob {
                token: token.to_owned(),
                result: Some(Doc::parse(result.get())?),
            };
            client.complete_job(&args.token, id, &complete).await?;
        }
        Some(s) => {
            let fail = FailJob {
                token: token.to_owned(),
                error: format!("command exited with {s}"),
                retryable: true,
            };
            client.fail_job(&args.token, id, &fail).await?;
        }
    }
    Ok(())
}
