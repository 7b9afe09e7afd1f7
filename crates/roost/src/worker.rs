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
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

/// Options of `roost worker`.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// A node's URL.
    #[arg(long, default_value = "http://127.0.0.1:7070")]
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
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
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
        let (args, http, stop, done) = (args.clone(), http.clone(), stop.clone(), done.clone());
        slots.push(tokio::spawn(async move {
            let worker_id = format!("{}-{slot}", args.worker_id);
            while !stop.is_cancelled() {
                if args.max_jobs > 0 && done.load(Ordering::SeqCst) >= args.max_jobs {
                    stop.cancel();
                    break;
                }
                match claim(&http, &args, &worker_id).await {
                    Ok(Some(job)) => {
                        if let Err(e) = run_job(&http, &args, &job).await {
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

/// POSTs `body` and reads the answer as `T` (only the fields the worker needs, so a payload
/// that `serde_json::Value` cannot hold, like `1e400`, does not break it).
async fn post<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    args: &WorkerArgs,
    path: &str,
    body: &impl Serialize,
) -> anyhow::Result<T> {
    let r = http
        .post(format!("{}{path}", args.url.trim_end_matches('/')))
        .bearer_auth(&args.token)
        .json(body)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{path}: {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{path}: unexpected answer {text}"))
}

/// What the worker reads of a claim.
#[derive(Deserialize)]
struct Claimed {
    jobs: Vec<ClaimedJob>,
}

/// A claimed job: its payload stays the JSON text the server sent.
#[derive(Deserialize)]
struct ClaimedJob {
    id: String,
    token: String,
    payload: Box<RawValue>,
}

/// What the worker reads of a heartbeat's answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Beat {
    cancel_requested: bool,
}

/// The body of a completion, with the command's result as it printed it.
#[derive(Serialize)]
struct Complete<'a> {
    token: &'a str,
    result: &'a RawValue,
}

async fn claim(
    http: &reqwest::Client,
    args: &WorkerArgs,
    worker_id: &str,
) -> anyhow::Result<Option<ClaimedJob>> {
    let body = json!({"workerId": worker_id, "types": args.types, "limit": 1, "wait": 10});
    let claimed: Claimed = post(http, args, "/jobs/claim", &body).await?;
    Ok(claimed.jobs.into_iter().next())
}

async fn run_job(
    http: &reqwest::Client,
    args: &WorkerArgs,
    job: &ClaimedJob,
) -> anyhow::Result<()> {
    let (id, token) = (&job.id, &job.token);
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
                let body = json!({"token": token, "progress": progress.load(Ordering::SeqCst)});
                match post::<Beat>(http, args, &format!("/jobs/{id}/heartbeat"), &body).await {
                    Ok(beat) if beat.cancel_requested => {
                        child.kill().await?;
                        break None;
                    }
                    Ok(_) => {}
                    // The lease is gone (timed out or reclaimed): stop working on it.
                    Err(e) if e.to_string().contains("409") => {
                        child.kill().await?;
                        return Err(e);
                    }
                    Err(e) => eprintln!("heartbeat failed: {e:#}"),
                }
            }
        }
    };
    let last = reader.await.unwrap_or(None);
    match status {
        None => {
            let body = json!({"token": token, "error": "cancelled", "retryable": false});
            post::<IgnoredAny>(http, args, &format!("/jobs/{id}/fail"), &body).await?;
        }
        Some(s) if s.success() => {
            // The line as printed when it is JSON, else the line as a JSON string.
            let result = match last {
                None => RawValue::NULL.to_owned(),
                Some(l) => serde_json::from_str::<Box<RawValue>>(&l)
                    .or_else(|_| serde_json::value::to_raw_value(&l))?,
            };
            let body = Complete {
                token,
                result: &result,
            };
            post::<IgnoredAny>(http, args, &format!("/jobs/{id}/complete"), &body).await?;
        }
        Some(s) => {
            let error = format!("command exited with {s}");
            let body = json!({"token": token, "error": error, "retryable": true});
            post::<IgnoredAny>(http, args, &format!("/jobs/{id}/fail"), &body).await?;
        }
    }
    Ok(())
}
