//! `roost worker`: runs a command for each claimed job.
//!
//! The job's payload (JSON) goes to the command's stdin. On stdout, a line `progress N`
//! (0–100) reports progress, sent with the next heartbeat; the last other line is the result
//! (JSON, or else a JSON string). Exit status 0 completes the job; anything else fails it
//! (retryable). Heartbeats keep the lease while the command runs; when one says cancellation
//! was requested, the command is killed and the job reported as failed (not retryable), which
//! the server records as cancelled.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use roost_client::wire::{ClaimJobs, CompleteJob, Doc, FailJob, Job, JobHeartbeat};
use roost_client::Client;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

/// Options of `roost worker`.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// A node's URL.
    #[arg(long, env = "ROOST_URL", default_value = "http://127.0.0.1:7070")]
    pub url: String,
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

/// Runs workers until interrupted or `--max-jobs` jobs were handled.
pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.concurrency > 256 {
        bail!("--concurrency must be between 1 and 256");
    }
    let client = Client::new(&args.url)?;
    let stop = CancellationToken::new();
    let done = Arc::new(AtomicU64::new(0));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
    }
    let mut slots = Vec::new();
    for slot in 0..args.concurrency {
        let (args, client, stop, done) = (args.clone(), client.clone(), stop.clone(), done.clone());
        slots.push(tokio::spawn(async move {
            let worker_id = format!("{}-{slot}", args.worker_id);
            while !stop.is_cancelled() {
                if args.max_jobs > 0 && done.load(Ordering::SeqCst) >= args.max_jobs {
                    stop.cancel();
                    break;
                }
                match claim(&client, &args, &worker_id).await {
                    Ok(Some(job)) => {
                        if let Err(e) = run_job(&client, &args, &job).await {
                            eprintln!("job {}: {e:#}", job.id);
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        eprintln!("claim failed: {e:#}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }
    for s in slots {
        s.await?;
    }
    Ok(())
}

/// One due job of the worker's types, waiting up to 10 s for one.
async fn claim(client: &Client, args: &WorkerArgs, worker_id: &str) -> anyhow::Result<Option<Job>> {
    let req = ClaimJobs {
        worker_id: worker_id.to_owned(),
        types: args.types.clone(),
        limit: Some(1),
        wait: Some(10),
    };
    let claimed = client.claim_jobs(&args.token, &req).await?;
    Ok(claimed.jobs.into_iter().next())
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
