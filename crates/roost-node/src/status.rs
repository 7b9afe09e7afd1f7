//! The cluster view a node reports on `/cluster`, uses for readiness, and answers members'
//! `Status` calls with (see `survey`).

use openraft::{RaftMetrics, ServerState};
use roost_state::META_GROUP;
use roost_types::NodeId;
use serde::{Deserialize, Serialize};

use crate::Node;

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

impl Node {
    /// The node's view of the cluster.
    pub fn status(&self) -> ClusterStatus {
        let groups = self
            .groups()
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let m = g.raft.metrics().borrow().clone();
                let membership = m.membership_config.membership();
                let voters: Vec<NodeId> = membership.voter_ids().collect();
                let learners: Vec<NodeId> = membership.learner_ids().collect();
                let commit_index = commit_index(&m);
                GroupStatus {
                    group: i as u32,
                    kind: if i as u32 == META_GROUP {
                        "meta"
                    } else {
                        "shard"
                    }
                    .into(),
                    leader: m.current_leader,
                    role: match m.state {
                        ServerState::Leader => "leader",
                        ServerState::Follower => "follower",
                        ServerState::Candidate => "candidate",
                        ServerState::Learner => "learner",
                        ServerState::Shutdown => "shutdown",
                    }
                    .into(),
                    term: m.current_term,
                    last_log_index: m.last_log_index,
                    commit_index,
                    applied_index: m.last_applied.map(|l| l.index),
                    snapshot_index: m.snapshot.map(|l| l.index),
                    purged_index: m.purged.map(|l| l.index),
                    voters,
                    learners,
                    queues: g.reader.queue_count(),
                }
            })
            .collect();
        ClusterStatus {
            node_id: self.id(),
            nodes: self
                .members()
                .iter()
                .map(|(id, m)| MemberStatus {
                    id: *id,
                    peer_addr: m.peer_addr.clone(),
                    http_addr: m.http_addr.clone(),
                })
                .collect(),
            shards: self.shards(),
            groups,
            disk_bytes: self.storage().approximate_size(),
            waiters: self.waiting(),
        }
    }
}

/// The index a majority of the voters hold, as the leader sees it (`None` on a follower,
/// which openraft 0.9 does not tell its commit index).
pub(crate) fn commit_index(m: &RaftMetrics<NodeId, roost_types::Node>) -> Option<u64> {
    let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
    m.replication.as_ref().map(|r| {
        let mut matched: Vec<u64> = voters
            .iter()
            .map(|v| r.get(v).copied().flatten().map_or(0, |l| l.index))
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        matched.get(voters.len() / 2).copied().unwrap_or(0)
    })
}
