//! Identifiers that route requests: a queue id names its shard, so no lookup is needed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Raft group on every node: group 0 is the metadata group, 1..=N are shards.
pub type GroupId = u32;

/// The metadata group (cluster membership, shard placement).
pub const META_GROUP: GroupId = 0;

/// Number of random hex digits after the shard prefix of a queue id.
const RANDOM_HEX: usize = 14;

/// A queue id, `q_` + two hex digits of shard + 14 random hex digits (`q_01a3…`).
///
/// The shard is part of the id so that any node can route a request with no lookup, and the
/// id stays the seed's 16-character shape.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueueId(String);

impl QueueId {
    /// Builds an id for `shard` from random bits chosen by the proposer.
    pub fn new(shard: GroupId, random: u64) -> Self {
        let shard = shard & 0xff;
        let random = random & ((1u64 << (RANDOM_HEX * 4)) - 1);
        QueueId(format!(
            "q_{shard:02x}{random:0width$x}",
            width = RANDOM_HEX
        ))
    }

    /// Parses an id as found in a URL; `None` when it is not of Roost's shape.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.strip_prefix("q_")?;
        let ok = hex.len() == 2 + RANDOM_HEX
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| QueueId(s.to_owned()))
    }

    /// The shard group that owns this queue.
    pub fn shard(&self) -> GroupId {
        // The shape was checked at construction; the prefix is two hex digits.
        GroupId::from_str_radix(&self.0[2..4], 16).unwrap_or(0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message id, `qm_` + 16 hex digits, chosen by the proposer.
pub fn message_id(random: u64) -> String {
    format!("qm_{random:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_id_round_trips_its_shard() {
        for shard in [1, 2, 7, 255] {
            let id = QueueId::new(shard, 0xdead_beef_cafe);
            let parsed = QueueId::parse(id.as_str()).expect("parses");
            assert_eq!(parsed.shard(), shard);
            assert_eq!(id.as_str().len(), 18);
        }
    }

    #[test]
    fn malformed_queue_ids_are_refused() {
        for bad in [
            "",
            "q_",
            "q_xyz",
            "x_0123456789abcdef",
            "q_0123456789ABCDEF",
            "q_0123",
        ] {
            assert!(QueueId::parse(bad).is_none(), "{bad}");
        }
    }
}
