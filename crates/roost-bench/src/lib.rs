//! Roost's load generator, run as `roost bench ...`.
//!
//! It drives a Roost server (or every node of a cluster) purely over the public client APIs,
//! so it measures what a client sees and needs no server crate. Workloads:
//!
//! - `seq` (W1): sequential publish, one request in flight;
//! - `window` (W1): pipelined publish keeping `--window` requests in flight;
//! - `drain` (W2): publish `--count` messages pipelined, then drain them with one consumer
//!   pulling batches of 100 and acking each batch; publish and drain rates are reported
//!   separately and the drain is verified against what was published;
//! - `jobs`: enqueue jobs, then claim→complete them with `--window` workers;
//! - `create`: create queues and leave them idle (for memory footprints).
//!
//! Publishing and draining go over HTTP or, with `--grpc-url`, over the client gRPC API.
//! Runs are closed loop (the next request leaves when a reply frees a slot) or, with
//! `--rate`, open loop (fixed arrival rate; latency counted from each message's due time, so
//! a stall is charged for the requests queued behind it). With `--pids`, each phase also
//! reports the server processes' CPU time.
//!
//! Each repetition runs on a fresh queue. Latencies go into HDR histograms (microseconds)
//! and the [`Report`] gives per-repetition numbers plus min/median/max across repetitions.

mod client;
mod cpu;
mod grpc;
mod jobs;
pub mod payload;
mod report;
mod stats;
mod workload;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use serde::Serialize;

pub use report::{Phase, PhaseResult, PhaseSummary, Repetition, Report};
pub use stats::{LatencyMs, Spread};

use crate::client::Api;
use crate::cpu::ServerCpu;
use crate::workload::{Pacing, PhaseOutcome};

/// Which load pattern to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// W1 sequential: publish one message at a time, waiting for each reply.
    Seq,
    /// W1 pipelined: publish keeping `--window` requests in flight.
    Window,
    /// W2: publish `--count` messages pipelined, then drain them with one consumer
    /// (pull batches of 100, ack each batch).
    Drain,
    /// Jobs: enqueue `--count` jobs pipelined, then `--window` workers run claim→complete
    /// cycles until all are done (needs `--token`).
    Jobs,
    /// Create `--count` queues, `--window` requests in flight, and leave them idle (what a
    /// node's memory holds per queue is measured around this).
    Create,
}

impl Workload {
    /// Lowercase name, as accepted by `--workload`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Seq => "seq",
            Workload::Window => "window",
            Workload::Drain => "drain",
            Workload::Jobs => "jobs",
            Workload::Create => "create",
        }
    }
}

/// Command-line options of `roost bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Server URL; repeat the flag or separate with commas to spread requests round-robin
    /// over several cluster nodes.
    #[arg(
        long = "url",
        value_name = "URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:7070"
    )]
    pub urls: Vec<String>,

    /// Load pattern to generate.
    #[arg(long, value_enum, default_value_t = Workload::Seq)]
    pub workload: Workload,

    /// Messages per repetition.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,

    /// Publish requests kept in flight by `window` (and by the publish phase of `drain`);
    /// with `--rate`, the most that may be in flight.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,

    /// Open loop: publish at this fixed rate (messages per second) instead of as fast as
    /// replies allow; latency is measured from when each message was due.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,

    /// Acks the drain keeps in flight while it pulls the next batches: 1 waits for every
    /// ack before the next pull; more overlaps acks with pulls (the last ack is awaited).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub ack_window: u64,

    /// Server process ids whose CPU time each phase reports (comma-separated).
    #[arg(long = "pids", value_name = "PID", value_delimiter = ',')]
    pub pids: Vec<u32>,

    /// Keep-alive connections per node that the shared HTTP client's pool retains for
    /// reuse; defaults to the number of requests in flight.
    #[arg(long)]
    pub connections: Option<usize>,

    /// Size in bytes of each published JSON body (`{"i":N,"pad":"xx…"}`); values below the
    /// smallest possible body give that smallest body.
    #[arg(long, default_value_t = 200)]
    pub payload_bytes: usize,

    /// Repetitions, each on a fresh queue.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub reps: u64,

    /// Abort the whole run with an error if it takes longer than this many seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Publish (one stream, `--window` in flight) and drain over the client gRPC API at this
    /// URL instead of HTTP; queues are still created over HTTP. Several (comma-separated):
    /// the gRPC address of each `--url`'s node, in the same order; with `--leader-aware` each
    /// repetition talks to its queue's shard leader, else to the first.
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    pub grpc_url: Vec<String>,

    /// Publish with an `Idempotency-Key` on each message, and send a publish, pull or ack
    /// whose connection failed to the next `--url` (what clients of a cluster whose nodes
    /// restart do); a reply that arrived, 5xx included, still fails the run.
    #[arg(long)]
    pub idempotency_keys: bool,

    /// Send each publish, pull and ack straight to the node that leads its queue's shard (a
    /// map from `GET /cluster` of the `--url`s, updated by the `Roost-Leader` hint a
    /// forwarded reply carries), and each job request to the workspace's leader once a reply
    /// named it, instead of round-robin over the `--url`s.
    #[arg(long)]
    pub leader_aware: bool,

    /// Messages per publish request (above 1: `POST /q/{id}/publish/batch`, or unary
    /// `PublishBatch` calls with `--grpc-url`); `--window` still counts messages in flight.
    /// Not with `--rate`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub batch: u64,

    /// Jobs each worker of the jobs workload claims at once (1-100) and then completes
    /// concurrently.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub claim_batch: u32,

    /// Workspace token for the jobs workload.
    #[arg(long, env = "ROOST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Runs the benchmark described by `args` and returns what it measured.
///
/// Fails on any non-2xx reply, on a drain that does not see exactly the published
/// messages in order, or when the run exceeds `--timeout-secs`.
pub async fn run(args: BenchArgs) -> anyhow::Result<Report> {
    let limit = Duration::from_secs(args.timeout_secs);
    match tokio::time::timeout(limit, run_unbounded(&args)).await {
        Ok(result) => result,
        Err(_) => bail!(
            "benchmark aborted: not finished after --timeout-secs {}",
            args.timeout_secs
        ),
    }
}

/// Runs the benchmark and prints the report to stdout (JSON if `--json`, else a table).
pub async fn run_and_print(args: BenchArgs) -> anyhow::Result<()> {
    let json = args.json;
    let report = run(args).await?;
    if json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.render_table());
    }
    Ok(())
}

/// The body of [`run`], without the overall deadline.
async fn run_unbounded(args: &BenchArgs) -> anyhow::Result<Report> {
    let urls = client::normalize_urls(&args.urls);
    ensure!(!urls.is_empty(), "no server url given (--url)");
    ensure!(args.count >= 1, "--count must be at least 1");
    ensure!(args.window >= 1, "--window must be at least 1");
    ensure!(args.reps >= 1, "--reps must be at least 1");
    ensure!(
        args.batch == 1 || args.rate.is_none(),
        "--rate publishes one message per request, not --batch"
    );
    let grpc_urls = client::normalize_urls(&args.grpc_url);
    ensure!(
        grpc_urls.len() <= 1 || grpc_urls.len() == urls.len(),
        "give one --grpc-url, or one per --url in the same order"
    );

    let in_flight = match args.workload {
        Workload::Seq => 1,
        Workload::Window | Workload::Drain | Workload::Jobs | Workload::Create => args.window,
    };
    ensure!(
        args.rate.is_none() || !matches!(args.workload, Workload::Jobs | Workload::Create),
        "--rate applies to publishing workloads only"
    );
    let cpu = ServerCpu::new(args.pids.clone());
    let pool_idle = args
        .connections
        .unwrap_or_else(|| usize::try_from(in_flight).unwrap_or(usize::MAX));
    let mut api = Api::new(
        urls.clone(),
        pool_idle,
        Duration::from_secs(args.timeout_secs),
        args.idempotency_keys,
    )?;
    if args.leader_aware {
        api.learn_leaders().await?;
    }
    let api = Arc::new(api);

    let mut repetitions = Vec::new();
    if args.workload == Workload::Jobs {
        let token = args
            .token
            .as_deref()
            .context("--token (or ROOST_TOKEN) is needed for the jobs workload")?;
        for rep in 1..=args.reps {
            // A type of its own per repetition keeps repetitions apart.
            let job_type = format!("bench-{}-{rep}", std::process::id());
            let enqueued = measured(
                &cpu,
                Phase::Publish,
                jobs::enqueue(&api, token, &job_type, args.count, in_flight),
            )
            .await
            .with_context(|| format!("repetition {rep}: enqueue"))?;
            let cycled = measured(
                &cpu,
                Phase::Cycle,
                jobs::cycle(
                    &api,
                    token,
                    &job_type,
                    args.count,
                    in_flight,
                    args.claim_batch,
                ),
            )
            .await
            .with_context(|| format!("repetition {rep}: claim/complete"))?;
            repetitions.push(Repetition {
                rep,
                queue_id: job_type,
                phases: vec![enqueued, cycled],
            });
        }
    }
    if args.workload == Workload::Create {
        for rep in 1..=args.reps {
            let created = measured(
                &cpu,
                Phase::Create,
                workload::create_queues(&api, args.count, in_flight),
            )
            .await
            .with_context(|| format!("repetition {rep}: creating queues"))?;
            repetitions.push(Repetition {
                rep,
                queue_id: String::new(),
                phases: vec![created],
            });
        }
    }
    for rep in 1..=args.reps {
        if matches!(args.workload, Workload::Jobs | Workload::Create) {
            break;
        }
        let queue = Arc::new(
            api.create_queue()
                .await
                .with_context(|| format!("repetition {rep}: creating queue"))?,
        );
        let mut phases = Vec::new();
        let pacing = args.rate.map(|rate| Pacing {
            start: Instant::now(),
            rate,
        });
        let (count, bytes) = (args.count, args.payload_bytes);
        let grpc_url = grpc_urls
            .get(api.leader_index(&queue.id).unwrap_or(0))
            .or(grpc_urls.first());
        let mut seqs = Vec::new();
        let publish = async {
            let shape = (in_flight, args.batch);
            let (outcome, s) = match grpc_url {
                Some(url) if args.batch > 1 => {
                    let to = grpc::GrpcQueue::connect(url, &queue).await?;
                    workload::publish(to, count, shape, bytes, pacing).await
                }
                Some(url) => grpc::publish(url, &queue, count, in_flight, bytes, pacing).await,
                None => {
                    let to = workload::HttpQueue(Arc::clone(&api), Arc::clone(&queue));
                    workload::publish(to, count, shape, bytes, pacing).await
                }
            }?;
            seqs = s;
            anyhow::Ok(outcome)
        };
        let published = measured(&cpu, Phase::Publish, publish)
            .await
            .with_context(|| format!("repetition {rep}: publish phase"))?;
        phases.push(published);
        if args.workload == Workload::Drain {
            let drain = async {
                match grpc_url {
                    Some(url) => {
                        let consumer = grpc::GrpcQueue::connect(url, &queue).await?;
                        workload::drain(&consumer, &queue.id, &seqs, args.ack_window).await
                    }
                    None => {
                        let consumer = workload::HttpQueue(Arc::clone(&api), Arc::clone(&queue));
                        workload::drain(&consumer, &queue.id, &seqs, args.ack_window).await
                    }
                }
            };
            let drained = measured(&cpu, Phase::Drain, drain)
                .await
                .with_context(|| format!("repetition {rep}: drain phase"))?;
            phases.push(drained);
        }
        repetitions.push(Repetition {
            rep,
            queue_id: queue.id.clone(),
            phases,
        });
    }

    let summary = Report::summarize(&repetitions);
    Ok(Report {
        workload: args.workload,
        urls,
        count: args.count,
        window: in_flight,
        rate: args.rate,
        api: if !grpc_urls.is_empty() {
            "grpc"
        } else {
            "http"
        },
        ack_window: args.ack_window,
        claim_batch: (args.workload == Workload::Jobs).then_some(args.claim_batch),
        batch: args.batch,
        payload_bytes: args.payload_bytes,
        repetitions,
        summary,
        failovers: api.failovers(),
        leader_hints: args.leader_aware.then(|| api.hints()),
    })
}

/// Runs one phase and turns its measurements, plus the servers' CPU time meanwhile, into a
/// report row.
async fn measured(
    cpu: &ServerCpu,
    phase: Phase,
    run: impl Future<Output = anyhow::Result<PhaseOutcome>>,
) -> anyhow::Result<PhaseResult> {
    let before = cpu.seconds()?;
    let outcome = run.await?;
    let after = cpu.seconds()?;
    let spent = before.zip(after).map(|(b, a)| a - b);
    Ok(PhaseResult::new(
        phase,
        outcome.msgs,
        outcome.elapsed.as_secs_f64(),
        LatencyMs::from_histogram(&outcome.hist),
    )
    .with_server_cpu(spent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Wraps the flattened args the way the `roost` binary does.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(argv: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|c| c.bench)
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).expect("parse");
        assert_eq!(a.urls, vec!["http://127.0.0.1:7070"]);
        assert_eq!(a.workload, Workload::Seq);
        assert_eq!(a.count, 10_000);
        assert_eq!(a.window, 128);
        assert!(!a.leader_aware, "round-robin is the default");
        assert_eq!(a.connections, None);
        assert_eq!(a.payload_bytes, 200);
        assert_eq!(a.reps, 3);
        assert_eq!(a.timeout_secs, 300);
        assert_eq!(a.rate, None);
        assert_eq!(a.ack_window, 1);
        assert!(a.pids.is_empty());
        assert!(!a.json);
    }

    #[test]
    fn urls_repeat_and_split_on_commas() {
        let a = parse(&[
            "--url",
            "http://a:1,http://b:2",
            "--url",
            "http://c:3",
            "--workload",
            "drain",
            "--json",
        ])
        .expect("parse");
        assert_eq!(a.urls, vec!["http://a:1", "http://b:2", "http://c:3"]);
        assert_eq!(a.workload, Workload::Drain);
        assert!(a.json);
    }

    #[test]
    fn zero_counts_are_rejected() {
        assert!(parse(&["--count", "0"]).is_err());
        assert!(parse(&["--window", "0"]).is_err());
        assert!(parse(&["--reps", "0"]).is_err());
        assert!(parse(&["--rate", "0"]).is_err());
        assert!(parse(&["--pids", "x"]).is_err());
        assert!(parse(&["--workload", "bogus"]).is_err());
    }

    #[test]
    fn workload_names_match_cli_values() {
        use clap::ValueEnum;
        for w in Workload::value_variants() {
            let pv = w.to_possible_value().expect("visible");
            assert_eq!(pv.get_name(), w.name());
        }
    }

    #[tokio::test]
    async fn unreachable_server_is_an_error_not_a_report() {
        // Port 9 (discard) on localhost is essentially never an HTTP server; the run must
        // fail with an error rather than report numbers.
        let mut a =
            parse(&["--url", "http://127.0.0.1:9", "--count", "1", "--reps", "1"]).expect("parse");
        a.timeout_secs = 5;
        assert!(run(a).await.is_err());
    }
}
