//! Values read when `/metrics` is scraped: each group's openraft metrics, the storage's
//! counters and RocksDB's properties, the outbox backlogs, and the process's memory and open
//! files. They already exist elsewhere, so they are copied into a registry made for the one
//! scrape rather than kept twice.

use std::sync::atomic::{AtomicU64, Ordering};

use openraft::ServerState;
use prometheus_client::encoding::{prometheus_text, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use roost_state::META_GROUP;
use roost_storage::{Buckets, Timed};

use crate::status::commit_index;
use crate::Node;

/// Label pairs of one sample.
type Labels = Vec<(&'static str, String)>;

/// The registry of one scrape.
#[derive(Default)]
struct Scrape {
    registry: Registry,
}

impl Scrape {
    /// Registers gauge `name` with one sample per label set.
    fn gauges(&mut self, name: &str, help: &str, samples: Vec<(Labels, f64)>) {
        let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        for (labels, value) in samples {
            family.get_or_create(&labels).set(value);
        }
        self.registry.register(name, help, family);
    }

    /// Registers counter `name` (the encoder adds `_total`) with one sample per label set.
    fn counters(&mut self, name: &str, help: &str, samples: Vec<(Labels, f64)>) {
        let family = Family::<Labels, Counter<f64, AtomicU64>>::default();
        for (labels, value) in samples {
            family.get_or_create(&labels).inc_by(value);
        }
        self.registry.register(name, help, family);
    }

    /// Registers one unlabelled gauge.
    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.gauges(name, help, vec![(Vec::new(), value)]);
    }

    /// Registers `name_total` (operations) and `name_seconds_total` (their time) from `of`.
    fn timed<'a>(&mut self, name: &str, help: &str, of: impl Iterator<Item = (Labels, &'a Timed)>) {
        let (counts, seconds): (Vec<_>, Vec<_>) = of
            .map(|(labels, t)| ((labels.clone(), t.count() as f64), (labels, t.seconds())))
            .unzip();
        self.counters(name, help, counts);
        self.counters(
            &format!("{name}_seconds"),
            &format!("{help}: total time"),
            seconds,
        );
    }
}

/// A histogram whose buckets were counted elsewhere (by the storage, which knows no
/// Prometheus), encoded as it is at the scrape.
#[derive(Debug)]
struct Counted {
    /// Each bucket's upper bound and its own count.
    buckets: Vec<(f64, u64)>,
    /// The sum of every observation, in seconds.
    sum: f64,
}

impl Counted {
    fn of(buckets: &Buckets, sum: f64) -> Self {
        Counted {
            buckets: buckets.counts(),
            sum,
        }
    }
}

impl TypedMetric for Counted {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Counted {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let count = self.buckets.iter().map(|(_, n)| n).sum();
        encoder.encode_histogram::<NoLabelSet>(self.sum, count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

fn group(g: usize) -> Labels {
    vec![("group", g.to_string())]
}

impl Node {
    /// Every metric of this node in Prometheus text format (see [`crate::METRICS_CONTENT_TYPE`]).
    pub fn metrics_text(&self) -> String {
        let mut text = String::new();
        let mut scrape = Scrape::default();
        self.scrape_groups(&mut scrape);
        self.scrape_storage(&mut scrape);
        scrape_process(&mut scrape);
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.metrics().registry);
        let _ = prometheus_text::encode(&mut text, &scrape.registry);
        text
    }

    fn scrape_groups(&self, scrape: &mut Scrape) {
        let metrics: Vec<_> = self
            .groups()
            .iter()
            .map(|g| g.raft.metrics().borrow().clone())
            .collect();
        let per_group =
            |value: &dyn Fn(&openraft::RaftMetrics<u64, roost_types::Node>) -> Option<f64>| {
                metrics
                    .iter()
                    .enumerate()
                    .filter_map(|(g, m)| Some((group(g), value(m)?)))
                    .collect::<Vec<_>>()
            };
        let leads =
            |m: &openraft::RaftMetrics<u64, roost_types::Node>| m.state == ServerState::Leader;
        scrape.gauges(
            "roost_raft_is_leader",
            "1 when this node leads the group",
            per_group(&|m| Some(if leads(m) { 1.0 } else { 0.0 })),
        );
        scrape.gauges(
            "roost_raft_has_leader",
            "1 when this node knows a leader of the group",
            per_group(&|m| Some(if m.current_leader.is_some() { 1.0 } else { 0.0 })),
        );
        scrape.gauges(
            "roost_raft_term",
            "The group's current term on this node",
            per_group(&|m| Some(m.current_term as f64)),
        );
        scrape.gauges(
            "roost_raft_last_log_index",
            "The last index of the group's log on this node",
            per_group(&|m| Some(m.last_log_index.unwrap_or(0) as f64)),
        );
        scrape.gauges(
            "roost_raft_applied_index",
            "The last index the group's state machine applied on this node",
            per_group(&|m| Some(m.last_applied.map_or(0, |l| l.index) as f64)),
        );
        scrape.gauges(
            "roost_raft_commit_index",
            "The index a majority of the group's voters hold (reported by the leader only)",
            per_group(&|m| commit_index(m).map(|i| i as f64)),
        );
        scrape.gauges(
            "roost_raft_quorum_ack_age_seconds",
            "Time since a quorum last acknowledged the leader (reported by the leader only)",
            per_group(&|m| {
                m.millis_since_quorum_ack
                    .filter(|_| leads(m))
                    .map(|ms| ms as f64 / 1e3)
            }),
        );
        let mut lag = Vec::new();
        for (g, m) in metrics.iter().enumerate() {
            let (Some(replication), true) = (&m.replication, leads(m)) else {
                continue;
            };
            let last = m.last_log_index.unwrap_or(0);
            for (follower, matched) in replication.iter().filter(|(id, _)| **id != self.id()) {
                let behind = last.saturating_sub(matched.map_or(0, |l| l.index));
                lag.push((
                    vec![("group", g.to_string()), ("follower", follower.to_string())],
                    behind as f64,
                ));
            }
        }
        scrape.gauges(
            "roost_raft_follower_lag_entries",
            "Log entries a member is behind the leader (reported by the leader only)",
            lag,
        );
        let snapshots: Vec<_> = self.groups().iter().map(|g| g.snapshots.clone()).collect();
        scrape.timed(
            "roost_snapshot_builds",
            "Snapshots of the group built on this node",
            snapshots
                .iter()
                .enumerate()
                .map(|(g, s)| (group(g), &s.builds)),
        );
        scrape.timed(
            "roost_snapshot_installs",
            "Snapshots of the group received and installed on this node",
            snapshots
                .iter()
                .enumerate()
                .map(|(g, s)| (group(g), &s.installs)),
        );
        let mut backlog: Vec<(Labels, f64)> = (0..metrics.len())
            .filter(|g| leads(&metrics[*g]))
            .map(|g| {
                let left = self.metrics().mirror_backlog[g].load(Ordering::Relaxed);
                (
                    vec![
                        ("outbox", "form_mirror".to_owned()),
                        ("group", g.to_string()),
                    ],
                    left as f64,
                )
            })
            .collect();
        if metrics.get(META_GROUP as usize).is_some_and(leads) {
            let left = self.metrics().drain_backlog.load(Ordering::Relaxed);
            backlog.push((
                vec![
                    ("outbox", "quota_drain".to_owned()),
                    ("group", META_GROUP.to_string()),
                ],
                left as f64,
            ));
        }
        scrape.gauges(
            "roost_outbox_backlog",
            "Work the group's last outbox drive left for the next (form mirror: submissions; quota drain: queues with held publishes); reported by the group's leader",
            backlog,
        );
    }

    fn scrape_storage(&self, scrape: &mut Scrape) {
        let wal = self.storage().wal_stats();
        scrape.timed(
            "roost_wal_syncs",
            "WAL syncs (fdatasync) of the node's database",
            std::iter::once((Vec::new(), &wal.syncs)),
        );
        scrape.registry.register(
            "roost_wal_sync_duration_seconds",
            "How long each WAL sync took (every acknowledged write waits for one)",
            Counted::of(&wal.latency, wal.syncs.seconds()),
        );
        scrape.counters(
            "roost_wal_synced_appends",
            "Raft log appends acknowledged by WAL syncs (several share one sync)",
            vec![(Vec::new(), wal.appends.load(Ordering::Relaxed) as f64)],
        );
        let engine = self.storage().engine_stats();
        scrape.gauge(
            "roost_rocksdb_pending_compaction_bytes",
            "Bytes RocksDB estimates compaction has yet to rewrite",
            engine.pending_compaction_bytes as f64,
        );
        scrape.gauge(
            "roost_rocksdb_write_stopped",
            "1 while RocksDB stops writes (a write stall)",
            if engine.write_stopped { 1.0 } else { 0.0 },
        );
        scrape.gauge(
            "roost_rocksdb_delayed_write_rate_bytes",
            "The rate RocksDB holds writes to while it delays them (0 when it does not)",
            engine.delayed_write_rate as f64,
        );
        scrape.gauge(
            "roost_rocksdb_live_data_bytes",
            "Bytes of live data RocksDB estimates",
            engine.live_data_bytes as f64,
        );
        scrape.gauge(
            "roost_rocksdb_sst_bytes",
            "Bytes of RocksDB's SST files",
            engine.sst_bytes as f64,
        );
    }
}

/// The process's resident memory and open file descriptors, from `/proc` (left out where
/// there is none).
fn scrape_process(scrape: &mut Scrape) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        });
    if let Some(bytes) = rss {
        scrape.gauge(
            "process_resident_memory_bytes",
            "Resident memory of the process",
            bytes as f64,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        scrape.gauge(
            "process_open_fds",
            "Open file descriptors of the process",
            fds.count() as f64,
        );
    }
}
