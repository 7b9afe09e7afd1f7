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
use serde_json::{json, Value};
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
                            eprintln!("job {}: {e:#}", job["id"]);
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

async fn post(
    http: &reqwest::Client,
    args: &WorkerArgs,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let r = http
        .post(format!("{}{path}", args.url.trim_end_matches('/')))
        .bearer_auth(&args.token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status}: {v}");
    }
    Ok(v)
}

async fn claim(
    http: &reqwest::Client,
    args: &WorkerArgs,
    worker_id: &str,
) -> anyhow::Result<Option<Value>> {
    let body = json!({"workerId": worker_id, "types": args.types, "limit": 1, "wait": 10});
    let v = post(http, args, "/jobs/claim", body).await?;
    Ok(v["jobs"].get(0).cloned())
}

async fn run_job(http: &reqwest::Client, args: &WorkerArgs, job: &Value) -> anyhow::Result<()> {
    let id = job["id"]
        .as_str()
        .context("claimed job without id")?
        .to_owned();
    let token = job["token"]
        .as_str()
        .context("claimed job without token")?
        .to_owned();
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
        let payload = format!("{}\n", job["payload"]);
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
                match post(http, args, &format!("/jobs/{id}/heartbeat"), body).await {
                    Ok(v) if v["cancelRequested"] == true => {
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
            post(http, args, &format!("/jobs/{id}/fail"), body).await?;
        }
        Some(s) if s.success() => {
            let result = last.map_or(Value::Null, |l| {
                serde_json::from_str(&l).unwrap_or(Value::String(l))
            });
            post(
                http,
                args,
                &format!("/jobs/{id}/complete"),
                json!({"token": token, "result": result}),
            )
            .await?;
        }
        Some(s) => {
            let error = format!("command exited with {s}");
            post(
                http,
                args,
                &format!("/jobs/{id}/fail"),
                json!({"token": token, "error": error, "retryable": true}),
            )
            .await?;
        }
    }
    Ok(())
}
