//! What a node needs to know to start: who it is, who its peers are, how Raft is tuned.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use roost_types::NodeId;
use serde::{Deserialize, Serialize};

use crate::NodeError;

/// One member of the cluster, as every node's configuration lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Address of the member's peer (gRPC) listener.
    pub peer_addr: String,
    /// Address of the member's HTTP listener, for status pages and clients.
    pub http_addr: String,
}

/// Raft timing and log-compaction settings shared by every group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftTuning {
    /// How often a leader sends heartbeats.
    pub heartbeat_ms: u64,
    /// Shortest election timeout.
    pub election_min_ms: u64,
    /// Longest election timeout.
    pub election_max_ms: u64,
    /// Build a snapshot (and later purge the log) after this many applied entries.
    pub snapshot_after_entries: u64,
    /// How many entries past the snapshot to keep for slow followers.
    pub keep_entries_after_snapshot: u64,
}

impl Default for RaftTuning {
    fn default() -> Self {
        RaftTuning {
            heartbeat_ms: 100,
            election_min_ms: 600,
            election_max_ms: 1200,
            snapshot_after_entries: 50_000,
            keep_entries_after_snapshot: 5_000,
        }
    }
}

/// A node's whole configuration.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id; must be a key of `members`.
    pub id: NodeId,
    /// Where RocksDB keeps this node's data.
    pub data_dir: PathBuf,
    /// Address the peer listener binds (may differ from the advertised `members` address).
    pub peer_listen: String,
    /// Every member of the cluster, this node included.
    pub members: BTreeMap<NodeId, Member>,
    /// Number of shard groups; fixed when the cluster is first started.
    pub shards: u32,
    /// Raft settings.
    pub raft: RaftTuning,
    /// How long a client operation may wait for a leader before failing.
    pub request_timeout: Duration,
    /// How often shard leaders propose a tick (retention by age).
    pub tick_interval: Duration,
    /// Requests one client address may keep waiting at once (long polls, streams, claims).
    pub max_waiters_per_client: usize,
    /// Publish quotas; `None` turns them off.
    pub quotas: Option<crate::Quotas>,
    /// Queues never published to are deleted this long after their creation; `None` keeps
    /// them.
    pub expire_unused_queues: Option<Duration>,
    /// Job webhook signing and address policy.
    pub webhooks: crate::WebhookConfig,
    /// Mutual TLS between peers; `None` speaks plaintext.
    pub peer_tls: Option<roost_network::PeerTls>,
    /// Whether this node joins a running cluster (`--join`): it never bootstraps a group and
    /// serves once an operator added it.
    pub joining: bool,
}

impl NodeConfig {
    /// Checks the settings, naming the offending field.
    pub fn validate(&self) -> Result<(), NodeError> {
        let bad = |field, why| Err(NodeError::InvalidField { field, why });
        if !self.members.contains_key(&self.id) {
            return bad("node_id", "must be one of the configured members");
        }
        if self.members.len() > 9 {
            return bad("members", "at most 9 members are supported");
        }
        if self.shards == 0 || self.shards > 255 {
            return bad("shards", "must be between 1 and 255");
        }
        let r = &self.raft;
        if r.heartbeat_ms == 0 || r.election_min_ms <= r.heartbeat_ms {
            return bad(
                "raft.election_min_ms",
                "must exceed raft.heartbeat_ms (> 0)",
            );
        }
        if r.election_max_ms <= r.election_min_ms {
            return bad("raft.election_max_ms", "must exceed raft.election_min_ms");
        }
        if r.snapshot_after_entries == 0 {
            return bad("raft.snapshot_after_entries", "must be positive");
        }
        Ok(())
    }

    /// The openraft configuration for every group.
    pub(crate) fn openraft(&self) -> Result<openraft::Config, NodeError> {
        let r = &self.raft;
        let config = openraft::Config {
            cluster_name: "roost".into(),
            heartbeat_interval: r.heartbeat_ms,
            election_timeout_min: r.election_min_ms,
            election_timeout_max: r.election_max_ms,
            install_snapshot_timeout: 10_000,
            max_payload_entries: 256,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(r.snapshot_after_entries),
            max_in_snapshot_log_to_keep: r.keep_entries_after_snapshot,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| NodeError::Config(format!("raft: {e}")))
    }
}
