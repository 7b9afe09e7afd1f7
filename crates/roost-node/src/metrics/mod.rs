//! The node's Prometheus metrics, served as text at `/metrics`.
//!
//! Two kinds of values. Events are counted as they happen, in the [`Metrics`] registry each
//! node owns (never a global one: several nodes may share a test process): requests at each
//! edge, what applied commands did, Raft proposal batches, leader changes, webhook deliveries.
//! Values that already exist elsewhere (each group's openraft metrics, the storage's counters,
//! RocksDB's properties, the process's memory) are read when scraped (`scrape`).
//!
//! No label names a queue, a workspace or a job: anonymous queues are unbounded in number, so
//! per-queue values live in the API instead. Labels are edges, route templates, gRPC methods,
//! tool names, statuses, group ids and member ids, all bounded.

mod events;
mod leaders;
mod scrape;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use roost_state::GroupId;

pub(crate) use events::Kind;
pub(crate) use leaders::watch as watch_leaders;

/// The content type of [`crate::Node::metrics_text`]: Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which door a request came in by.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Edge {
    /// The HTTP API.
    Http,
    /// The client gRPC API.
    Grpc,
    /// MCP tool calls.
    Mcp,
}

impl Edge {
    fn as_str(self) -> &'static str {
        match self {
            Edge::Http => "http",
            Edge::Grpc => "grpc",
            Edge::Mcp => "mcp",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    edge: &'static str,
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    by: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

/// The `status` of a webhook delivery attempt that the receiver accepted (2xx).
const DELIVERED: &str = "delivered";
/// The `status` of a webhook delivery attempt that got no 2xx.
const FAILED: &str = "failed";
/// A read check the leader's lease answered.
const LEASE: &str = "lease";
/// A read check answered by a round of heartbeats.
const QUORUM: &str = "quorum";

/// A node's registry of counted events.
pub struct Metrics {
    registry: Registry,
    /// Request latency by edge, operation and status (its count is the request count).
    requests: Family<RequestLabels, Histogram>,
    published: Counter,
    pulled: Counter,
    acks: Counter,
    nacks: Counter,
    dead_lettered: Counter,
    replayed: Counter,
    jobs: Family<StatusLabels, Counter>,
    tasks: Family<StatusLabels, Counter>,
    webhooks: Family<StatusLabels, Counter>,
    leader_changes: Family<GroupLabels, Counter>,
    batch_sizes: Family<GroupLabels, Histogram>,
    read_checks: Family<CheckLabels, Counter>,
    /// Per group: submissions the last form-mirroring drain left behind (see `mirror`).
    mirror_backlog: Vec<AtomicU64>,
    /// Queues with held publishes the last quota drain found (see `quota_drain`).
    drain_backlog: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A registry for a node with `groups` groups (the metadata group and the shards).
    pub(crate) fn new(groups: usize) -> Metrics {
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 0.25 ms to about 8 s.
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        let batch_sizes = Family::<GroupLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1.0, 2.0, 10))
        });
        let mut metrics = Metrics {
            requests: requests.clone(),
            published: Counter::default(),
            pulled: Counter::default(),
            acks: Counter::default(),
            nacks: Counter::default(),
            dead_lettered: Counter::default(),
            replayed: Counter::default(),
            jobs: Family::default(),
            tasks: Family::default(),
            webhooks: Family::default(),
            leader_changes: Family::default(),
            batch_sizes: batch_sizes.clone(),
            read_checks: Family::default(),
            mirror_backlog: (0..groups).map(|_| AtomicU64::new(0)).collect(),
            drain_backlog: AtomicU64::new(0),
            registry: Registry::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "roost_request_duration_seconds",
            "Client requests by edge (http, grpc, mcp), operation (route template, gRPC method or tool) and status; for gRPC streams, until the response headers",
            requests.clone(),
        );
        registry.register(
            "roost_raft_proposal_batch_size",
            "Commands per Raft entry this node proposed as the group's leader",
            batch_sizes.clone(),
        );
        let counters: [(&str, &str, &Counter); 6] = [
            ("roost_messages_published", "Messages appended to queues by publishes this node led (idempotent repeats excluded)", &metrics.published),
            ("roost_messages_pulled", "Messages handed out by pulls this node answered as leader", &metrics.pulled),
            ("roost_acks", "Acks this node applied as leader", &metrics.acks),
            ("roost_nacks", "Nacks this node applied as leader", &metrics.nacks),
            ("roost_dead_lettered", "Nacks this node applied as leader that left the message in the dead-letter queue", &metrics.dead_lettered),
            ("roost_dead_letters_replayed", "Dead letters replayed as new messages by this node as leader", &metrics.replayed),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        let by_status: [(&str, &str, &Family<StatusLabels, Counter>); 3] = [
            ("roost_jobs", "Jobs that entered a status (pending, running, completed, failed, cancelled) through a request this node led", &metrics.jobs),
            ("roost_tasks", "Work-queue tasks that entered a status (pending, assigned, completed, failed) through a request this node led", &metrics.tasks),
            ("roost_webhook_deliveries", "Job webhook delivery attempts by outcome (delivered, failed)", &metrics.webhooks),
        ];
        for (name, help, family) in by_status {
            registry.register(name, help, family.clone());
        }
        // Every status from the start, at zero, so a rate over a status that has not
        // happened yet is 0 rather than no series at all (and alerts on it can resolve).
        use roost_state::{JobStatus as J, TaskStatus as T};
        let statuses = [
            (
                &metrics.jobs,
                [
                    J::Pending,
                    J::Running,
                    J::Completed,
                    J::Failed,
                    J::Cancelled,
                ]
                .map(J::as_str)
                .to_vec(),
            ),
            (
                &metrics.tasks,
                [T::Pending, T::Assigned, T::Completed, T::Failed]
                    .map(T::as_str)
                    .to_vec(),
            ),
            (&metrics.webhooks, vec![DELIVERED, FAILED]),
        ];
        // Every group from the start too: a node that never led a group proposed nothing in it.
        for group in 0..groups {
            let labels = group_labels(group as GroupId);
            let _ = metrics.batch_sizes.get_or_create(&labels);
            let _ = metrics.leader_changes.get_or_create(&labels);
        }
        for (family, names) in statuses {
            for status in names {
                let _ = family.get_or_create(&StatusLabels { status });
            }
        }
        for by in [LEASE, QUORUM] {
            let _ = metrics.read_checks.get_or_create(&CheckLabels { by });
        }
        registry.register(
            "roost_read_checks",
            "Leadership checks behind linearizable reads this node answered as leader (one per batch of concurrent reads), by what vouched: the leader's lease or a round of heartbeats to a quorum",
            metrics.read_checks.clone(),
        );
        registry.register(
            "roost_raft_leader_changes",
            "Times this node saw a group's leader become a different node (or the first one)",
            metrics.leader_changes.clone(),
        );
        metrics
    }

    /// Records one request at `edge`: `operation` must be bounded (a route template, a gRPC
    /// method, a tool name), never a raw path or an id.
    pub fn request(&self, edge: Edge, operation: &str, status: &str, took: Duration) {
        let labels = RequestLabels {
            edge: edge.as_str(),
            operation: operation.to_owned(),
            status: status.to_owned(),
        };
        self.requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Records a webhook delivery attempt.
    pub(crate) fn webhook(&self, delivered: bool) {
        let status = if delivered { DELIVERED } else { FAILED };
        self.webhooks.get_or_create(&StatusLabels { status }).inc();
    }

    /// Records one Raft entry of `commands` commands proposed in `group`.
    pub(crate) fn proposed(&self, group: GroupId, commands: usize) {
        self.batch_sizes
            .get_or_create(&group_labels(group))
            .observe(commands as f64);
    }

    /// Records one leadership check for reads, answered by the lease or by a quorum round.
    pub(crate) fn read_checked(&self, by_lease: bool) {
        let by = if by_lease { LEASE } else { QUORUM };
        self.read_checks.get_or_create(&CheckLabels { by }).inc();
    }

    /// Records that `group`'s leader changed.
    fn leader_changed(&self, group: GroupId) {
        self.leader_changes
            .get_or_create(&group_labels(group))
            .inc();
    }

    /// Records what the last form-mirroring drain of `group` left for the next one.
    pub(crate) fn set_mirror_backlog(&self, group: GroupId, submissions: u64) {
        if let Some(slot) = self.mirror_backlog.get(group as usize) {
            slot.store(submissions, Ordering::Relaxed);
        }
    }

    /// Records how many queues the last quota drain found with held publishes.
    pub(crate) fn set_drain_backlog(&self, queues: u64) {
        self.drain_backlog.store(queues, Ordering::Relaxed);
    }
}

fn group_labels(group: GroupId) -> GroupLabels {
    GroupLabels {
        group: group.to_string(),
    }
}
