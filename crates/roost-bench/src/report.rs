//! The benchmark's result: per-repetition numbers plus their spread, as JSON or a table.

use std::fmt::Write as _;

use serde::Serialize;

use crate::stats::{LatencyMs, Spread};
use crate::Workload;

/// Which part of a workload a measurement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Publishing messages (latency = one publish request).
    Publish,
    /// Consuming them back (latency = one pull of a batch plus its ack).
    Drain,
    /// Job claim→complete cycles (latency = one claim plus its completion).
    Cycle,
    /// Creating queues (latency = one create request).
    Create,
}

impl Phase {
    /// Lowercase name used in the table.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Publish => "publish",
            Phase::Drain => "drain",
            Phase::Cycle => "cycle",
            Phase::Create => "create",
        }
    }
}

/// Throughput and latency of one phase of one repetition.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    /// Which phase this is.
    pub phase: Phase,
    /// Messages published or consumed.
    pub msgs: u64,
    /// Wall-clock duration of the phase, in seconds.
    pub elapsed_secs: f64,
    /// `msgs / elapsed_secs`.
    pub msgs_per_sec: f64,
    /// Request latency percentiles.
    pub latency: LatencyMs,
    /// User+system CPU seconds the server processes (`--pids`) spent during the phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_secs: Option<f64>,
    /// `server_cpu_secs` per message, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_msg: Option<f64>,
}

impl PhaseResult {
    /// Builds a result, deriving the rate from the count and duration.
    pub(crate) fn new(phase: Phase, msgs: u64, elapsed_secs: f64, latency: LatencyMs) -> Self {
        let msgs_per_sec = if elapsed_secs > 0.0 {
            msgs as f64 / elapsed_secs
        } else {
            0.0
        };
        Self {
            phase,
            msgs,
            elapsed_secs,
            msgs_per_sec,
            latency,
            server_cpu_secs: None,
            server_cpu_us_per_msg: None,
        }
    }

    /// Adds the servers' CPU time for the phase, if it was measured.
    pub(crate) fn with_server_cpu(mut self, secs: Option<f64>) -> Self {
        self.server_cpu_secs = secs;
        self.server_cpu_us_per_msg = secs
            .filter(|_| self.msgs > 0)
            .map(|s| s * 1e6 / self.msgs as f64);
        self
    }
}

/// One repetition: a fresh queue and the phases run against it.
#[derive(Debug, Clone, Serialize)]
pub struct Repetition {
    /// 1-based repetition number.
    pub rep: u64,
    /// The queue this repetition used.
    pub queue_id: String,
    /// Phase results, in the order they ran.
    pub phases: Vec<PhaseResult>,
}

/// Spread of one phase's key metrics across repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseSummary {
    /// Which phase is summarized.
    pub phase: Phase,
    /// Throughput across repetitions.
    pub msgs_per_sec: Spread,
    /// Median latency across repetitions.
    pub p50_ms: Spread,
    /// 99th percentile latency across repetitions.
    pub p99_ms: Spread,
    /// Server CPU per message across repetitions, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_msg: Option<Spread>,
}

/// Everything a benchmark run measured, plus the parameters needed to interpret it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Workload that ran.
    pub workload: Workload,
    /// Node URLs requests were spread over.
    pub urls: Vec<String>,
    /// Messages per repetition.
    pub count: u64,
    /// Most publish requests kept in flight (1 for `seq`).
    pub window: u64,
    /// Open loop: the fixed arrival rate in messages per second (latency counted from each
    /// message's due time); absent for closed loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u64>,
    /// Which API the messages went over: `http` or `grpc`.
    pub api: &'static str,
    /// Acks a drain kept in flight (1: each awaited before the next pull).
    pub ack_window: u64,
    /// Messages per publish request.
    pub batch: u64,
    /// Jobs each worker claimed at once (`jobs` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_batch: Option<u32>,
    /// Size of each published JSON body, in bytes.
    pub payload_bytes: usize,
    /// Per-repetition results.
    pub repetitions: Vec<Repetition>,
    /// Min/median/max across repetitions, one entry per phase.
    pub summary: Vec<PhaseSummary>,
    /// Requests sent again to another node after a connection failure
    /// (`--idempotency-keys`).
    pub failovers: u64,
    /// Replies that named another node as the shard's leader (`--leader-aware`; `None`
    /// when requests went round-robin).
    pub leader_hints: Option<u64>,
}

impl Report {
    /// Computes the per-phase spread over `repetitions` (phases in first-seen order).
    pub(crate) fn summarize(repetitions: &[Repetition]) -> Vec<PhaseSummary> {
        let mut phases: Vec<Phase> = Vec::new();
        for r in repetitions.iter().flat_map(|r| &r.phases) {
            if !phases.contains(&r.phase) {
                phases.push(r.phase);
            }
        }
        phases
            .into_iter()
            .map(|phase| {
                let results: Vec<&PhaseResult> = repetitions
                    .iter()
                    .flat_map(|r| &r.phases)
                    .filter(|p| p.phase == phase)
                    .collect();
                let spread = |f: fn(&PhaseResult) -> f64| {
                    Spread::of(&results.iter().map(|p| f(p)).collect::<Vec<_>>())
                };
                let cpu: Vec<f64> = results
                    .iter()
                    .filter_map(|p| p.server_cpu_us_per_msg)
                    .collect();
                PhaseSummary {
                    phase,
                    msgs_per_sec: spread(|p| p.msgs_per_sec),
                    p50_ms: spread(|p| p.latency.p50_ms),
                    p99_ms: spread(|p| p.latency.p99_ms),
                    server_cpu_us_per_msg: (cpu.len() == results.len()).then(|| Spread::of(&cpu)),
                }
            })
            .collect()
    }

    /// The report as pretty-printed JSON (what `--json` prints).
    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The report as a plain-text table for humans.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the results are ignored deliberately.
        let _ = writeln!(
            out,
            "roost bench: workload={} api={} count={} window={} batch={} rate={} payload={}B reps={} urls={} failovers={} leader_hints={}",
            self.workload.name(),
            self.api,
            self.count,
            self.window,
            self.batch,
            self.rate
                .map_or_else(|| "closed-loop".to_owned(), |r| format!("{r}/s")),
            self.payload_bytes,
            self.repetitions.len(),
            self.urls.join(","),
            self.failovers,
            self.leader_hints
                .map_or_else(|| "-".to_owned(), |h| h.to_string())
        );
        let _ = writeln!(
            out,
            "{:<8} {:>4} {:>10} {:>10} {:>12} {:>9} {:>9} {:>9} {:>12}",
            "phase",
            "rep",
            "msgs",
            "elapsed_s",
            "msgs/s",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "cpu_us/msg"
        );
        for rep in &self.repetitions {
            for p in &rep.phases {
                let _ = writeln!(
                    out,
                    "{:<8} {:>4} {:>10} {:>10.3} {:>12.1} {:>9.3} {:>9.3} {:>9.3} {:>12}",
                    p.phase.name(),
                    rep.rep,
                    p.msgs,
                    p.elapsed_secs,
                    p.msgs_per_sec,
                    p.latency.p50_ms,
                    p.latency.p99_ms,
                    p.latency.max_ms,
                    p.server_cpu_us_per_msg
                        .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"))
                );
            }
        }
        if !self.summary.is_empty() {
            let _ = writeln!(
                out,
                "\nacross {} repetition(s): min / median / max",
                self.repetitions.len()
            );
            let _ = writeln!(
                out,
                "{:<8} {:>32} {:>26} {:>26}",
                "phase", "msgs/s", "p50_ms", "p99_ms"
            );
            for s in &self.summary {
                let _ = writeln!(
                    out,
                    "{:<8} {:>32} {:>26} {:>26}",
                    s.phase.name(),
                    format!(
                        "{:.1} / {:.1} / {:.1}",
                        s.msgs_per_sec.min, s.msgs_per_sec.median, s.msgs_per_sec.max
                    ),
                    format!(
                        "{:.3} / {:.3} / {:.3}",
                        s.p50_ms.min, s.p50_ms.median, s.p50_ms.max
                    ),
                    format!(
                        "{:.3} / {:.3} / {:.3}",
                        s.p99_ms.min, s.p99_ms.median, s.p99_ms.max
                    ),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lat(p50: f64, p99: f64) -> LatencyMs {
        LatencyMs {
            p50_ms: p50,
            p99_ms: p99,
            max_ms: p99 * 2.0,
        }
    }

    fn sample() -> Report {
        let repetitions: Vec<Repetition> = [(1.0, 1.0, 2.0), (2.0, 3.0, 4.0), (4.0, 2.0, 8.0)]
            .iter()
            .enumerate()
            .map(|(i, &(secs, p50, p99))| Repetition {
                rep: i as u64 + 1,
                queue_id: format!("q_{i}"),
                phases: vec![
                    PhaseResult::new(Phase::Publish, 1000, secs, lat(p50, p99)),
                    PhaseResult::new(Phase::Drain, 1000, secs / 2.0, lat(p50 / 2.0, p99)),
                ],
            })
            .collect();
        let summary = Report::summarize(&repetitions);
        Report {
            workload: Workload::Drain,
            urls: vec!["http://127.0.0.1:7070".to_owned()],
            count: 1000,
            window: 128,
            rate: None,
            api: "http",
            ack_window: 1,
            claim_batch: None,
            batch: 1,
            payload_bytes: 200,
            repetitions,
            summary,
            failovers: 0,
            leader_hints: None,
        }
    }

    #[test]
    fn rate_is_msgs_over_seconds() {
        let p = PhaseResult::new(Phase::Publish, 500, 2.0, lat(1.0, 1.0));
        assert_eq!(p.msgs_per_sec, 250.0);
        let z = PhaseResult::new(Phase::Publish, 500, 0.0, lat(1.0, 1.0));
        assert_eq!(z.msgs_per_sec, 0.0);
    }

    #[test]
    fn server_cpu_is_per_message_and_summarized_only_when_every_rep_has_it() {
        let p =
            PhaseResult::new(Phase::Publish, 500, 2.0, lat(1.0, 1.0)).with_server_cpu(Some(0.25));
        assert_eq!(p.server_cpu_us_per_msg, Some(500.0));
        let q =
            PhaseResult::new(Phase::Publish, 500, 2.0, lat(1.0, 1.0)).with_server_cpu(Some(0.5));
        let both = |a: &PhaseResult, b: &PhaseResult| {
            let reps = [a, b]
                .iter()
                .enumerate()
                .map(|(i, r)| Repetition {
                    rep: i as u64 + 1,
                    queue_id: "q".to_owned(),
                    phases: vec![(*r).clone()],
                })
                .collect::<Vec<_>>();
            Report::summarize(&reps)[0].server_cpu_us_per_msg
        };
        assert_eq!(both(&p, &q).map(|s| s.max), Some(1000.0));
        let unmeasured = PhaseResult::new(Phase::Publish, 500, 2.0, lat(1.0, 1.0));
        assert_eq!(both(&p, &unmeasured), None);
    }

    #[test]
    fn summary_spreads_each_phase_separately() {
        let r = sample();
        assert_eq!(r.summary.len(), 2);
        let publish = &r.summary[0];
        assert_eq!(publish.phase, Phase::Publish);
        // Rates 1000, 500, 250.
        assert_eq!(publish.msgs_per_sec.min, 250.0);
        assert_eq!(publish.msgs_per_sec.median, 500.0);
        assert_eq!(publish.msgs_per_sec.max, 1000.0);
        assert_eq!(publish.p50_ms.median, 2.0);
        assert_eq!(publish.p99_ms.median, 4.0);
        let drain = &r.summary[1];
        assert_eq!(drain.phase, Phase::Drain);
        assert_eq!(drain.msgs_per_sec.median, 1000.0);
        assert_eq!(drain.p50_ms.max, 1.5);
    }

    #[test]
    fn table_and_json_mention_every_phase() {
        let r = sample();
        let table = r.render_table();
        assert!(table.contains("workload=drain"));
        assert_eq!(
            table.lines().filter(|l| l.starts_with("publish")).count(),
            4
        );
        assert_eq!(table.lines().filter(|l| l.starts_with("drain")).count(), 4);
        let json: serde_json::Value =
            serde_json::from_str(&r.to_json().expect("json")).expect("valid json");
        assert_eq!(json["workload"], "drain");
        assert_eq!(json["repetitions"].as_array().map(Vec::len), Some(3));
        assert_eq!(json["summary"][1]["phase"], "drain");
        assert_eq!(
            json["repetitions"][0]["phases"][0]["latency"]["p99_ms"],
            2.0
        );
    }
}
