//! The cluster view a node reports on `/cluster`, uses for readiness, and answers members'
//! `Status` calls with (see `survey`).

use roost_types::NodeId;
use serde::{Deserialize, Serialize};

/// One group as seen from this node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group id (0 is the metadata group).
    pub group: u32,
    /// `meta` or `shard`.
    pub kind: String,
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    /// This node's role in the group.
    pub role: String,
    /// The current term.
    pub term: u64,
    /// The last log index on this node.
    pub last_log_index: Option<u64>,
    /// The commit index as this node knows it (the leader's is authoritative).
    pub commit_index: Option<u64>,
    /// The applied index on this node.
    pub applied_index: Option<u64>,
    /// Last log index covered by this node's latest snapshot.
    pub snapshot_index: Option<u64>,
    /// Last log index purged from this node's log.
    pub purged_index: Option<u64>,
    /// Voters of the group.
    pub voters: Vec<NodeId>,
    /// Learners of the group: members receiving its log that do not vote (yet).
    pub learners: Vec<NodeId>,
    /// Queues held (shards only).
    pub queues: usize,
}

/// One cluster member.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberStatus {
    /// The member's id.
    pub id: NodeId,
    /// Its peer address.
    pub peer_addr: String,
    /// Its HTTP address.
    pub http_addr: String,
}

/// What `/cluster` shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The node answering.
    pub node_id: NodeId,
    /// Every member.
    pub nodes: Vec<MemberStatus>,
    /// Number of shard groups.
    pub shards: u32,
    /// Every group (metadata first).
    pub groups: Vec<GroupStatus>,
    /// Approximate bytes of SST files on this node.
    pub disk_bytes: u64,
    /// Requests waiting on this node for a change (long polls, streams, waiting claims).
    pub waiters: usize,
}
