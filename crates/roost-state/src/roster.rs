//! The cluster's members as the metadata group records them: who should vote in every group,
//! where each member listens, and which ids are spent.
//!
//! Raft membership is per group and changes only on a group's leader; the roster is the one
//! desired list every group's leader drives its group towards (see `roost-node`'s
//! `membership`). Ids are never reused (openraft's rule: a node that lost its log must not
//! come back under the id whose votes and entries it forgot), so removal keeps the id in
//! `removed`, and each member's `incarnation` — a number its data dir chose when it was made —
//! tells a wiped disk from the one the cluster knew.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Address of its peer (gRPC) listener.
    pub peer_addr: String,
    /// Address of its HTTP listener.
    pub http_addr: String,
    /// The incarnation of the data dir that first served under this id (`None` until it
    /// started).
    pub incarnation: Option<u64>,
}

/// Every member, and every id that was removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Members by node id.
    pub members: BTreeMap<u64, Member>,
    /// Ids that were members once and may never be again.
    pub removed: BTreeSet<u64>,
}

impl Roster {
    /// Whether nothing was recorded yet (a cluster from before rosters, or a new one).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.removed.is_empty()
    }
}
