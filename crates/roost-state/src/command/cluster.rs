//! Commands about the cluster's members (metadata group; see [`crate::roster`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::META_GROUP;

/// Records the members a cluster started with, unless a roster is already recorded (the first
/// value wins, like the layout): proposed by the metadata leader from its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedMembers {
    /// Peer and HTTP address by node id.
    pub members: BTreeMap<u64, (String, String)>,
}

/// Adds a member (an operator's request); the same member added again changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMember {
    /// Its node id, never used before.
    pub id: u64,
    /// Its peer address.
    pub peer_addr: String,
    /// Its HTTP address.
    pub http_addr: String,
}

/// Removes a member for good: its id can never come back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMember {
    /// Its node id.
    pub id: u64,
}

/// Records the incarnation of the data dir serving under a member's id; a different one later
/// is refused (the id's disk was replaced, so its votes and entries were forgotten).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStarted {
    /// The member's node id.
    pub id: u64,
    /// The incarnation its data dir chose.
    pub incarnation: u64,
}

macro_rules! meta_only {
    ($($t:ty),*) => {$(
        impl Operation for $t {
            fn retry_safe(&self) -> bool {
                true
            }

            fn group(&self) -> Option<crate::GroupId> {
                Some(META_GROUP)
            }
        }
    )*};
}

meta_only!(SeedMembers, AddMember, RemoveMember, MemberStarted);
