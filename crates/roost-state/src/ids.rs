//! Identifiers that route requests: a queue or form id names its shard, so no lookup is
//! needed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Raft group on every node: group 0 is the metadata group, 1..=N are shards.
pub type GroupId = u32;

/// The metadata group (cluster membership, shard placement).
pub const META_GROUP: GroupId = 0;

/// Number of random hex digits after the shard prefix of an id.
const RANDOM_HEX: usize = 14;

/// `prefix` + two hex digits of shard + 14 random hex digits.
fn format_sharded(prefix: &str, shard: GroupId, random: u64) -> String {
    let shard = shard & 0xff;
    let random = random & ((1u64 << (RANDOM_HEX * 4)) - 1);
    format!("{prefix}{shard:02x}{random:0width$x}", width = RANDOM_HEX)
}

/// Whether `s` is `prefix` followed by the 16 lowercase hex digits of a sharded id.
fn is_sharded(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 2 + RANDOM_HEX
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The shard of a sharded id whose prefix is `prefix_len` bytes long.
fn shard_of(s: &str, prefix_len: usize) -> GroupId {
    // The shape was checked at construction; the two digits after the prefix are hex.
    s.get(prefix_len..prefix_len + 2)
        .and_then(|h| GroupId::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// A queue id, `q_` + two hex digits of shard + 14 random hex digits (`q_01a3…`).
///
/// The shard is part of the id so that any node can route a request with no lookup, and the
/// id stays the seed's 16-character shape.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueueId(String);

impl QueueId {
    /// Builds an id for `shard` from random bits chosen by the proposer.
    pub fn new(shard: GroupId, random: u64) -> Self {
        QueueId(format_sharded("q_", shard, random))
    }

    /// Parses an id as found in a URL; `None` when it is not of Roost's shape.
    pub fn parse(s: &str) -> Option<Self> {
        is_sharded("q_", s).then(|| QueueId(s.to_owned()))
    }

    /// The shard group that owns this queue.
    pub fn shard(&self) -> GroupId {
        shard_of(&self.0, 2)
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

/// A form id, `f_` + two hex digits of shard + 14 random hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FormId(String);

impl FormId {
    /// Builds an id for `shard` from random bits chosen by the proposer.
    pub fn new(shard: GroupId, random: u64) -> Self {
        FormId(format_sharded("f_", shard, random))
    }

    /// Parses an id as found in a URL; `None` when it is not of Roost's shape.
    pub fn parse(s: &str) -> Option<Self> {
        is_sharded("f_", s).then(|| FormId(s.to_owned()))
    }

    /// The shard group that owns this form.
    pub fn shard(&self) -> GroupId {
        shard_of(&self.0, 2)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FormId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shard holding a workspace's jobs (and work queues), so claims and lists stay in one
/// group: FNV-1a of the name, spread over `shards`.
pub fn workspace_shard(workspace: &str, shards: u32) -> GroupId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in workspace.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(shards.max(1))) as GroupId + 1
}

/// A work-queue id, `wq_` + shard + random.
pub fn work_queue_id(shard: GroupId, random: u64) -> String {
    format_sharded("wq_", shard, random)
}

/// A task id, `wt_` + shard + random.
pub fn task_id(shard: GroupId, random: u64) -> String {
    format_sharded("wt_", shard, random)
}

/// The shard of a work-queue or task id, if it has Roost's shape.
pub fn work_shard(id: &str) -> Option<GroupId> {
    ["wq_", "wt_"]
        .into_iter()
        .find(|p| is_sharded(p, id))
        .map(|_| shard_of(id, 3))
}

/// A job id, `job_` + two hex digits of shard + 14 random hex digits.
pub fn job_id(shard: GroupId, random: u64) -> String {
    format_sharded("job_", shard, random)
}

/// The shard of a job id, if it has Roost's shape.
pub fn job_shard(id: &str) -> Option<GroupId> {
    is_sharded("job_", id).then(|| shard_of(id, 4))
}

/// A form submission id, `sub_` + 16 hex digits, chosen by the proposer.
pub fn submission_id(random: u64) -> String {
    format!("sub_{random:016x}")
}

/// Whether `id` is a usable consumer id: 1–128 letters, digits, `_`, `-`, `.` or `:`.
pub fn is_valid_consumer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
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
    fn form_ids_round_trip_their_shard_and_are_not_queue_ids() {
        let id = FormId::new(3, 77);
        assert_eq!(FormId::parse(id.as_str()).map(|f| f.shard()), Some(3));
        assert!(QueueId::parse(id.as_str()).is_none());
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
