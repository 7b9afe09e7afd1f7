//! Leader leases: linearizable reads without a round of heartbeats per read.
//!
//! openraft 0.9 makes a node that accepts an AppendEntries refuse every vote for its leader
//! lease (`election_timeout_max`) from that moment, and a node that restarts reloads its vote
//! stamped with its start time, so the refusal outlives a crash. Hence once a quorum of every
//! voter configuration has accepted requests this leader *sent* at or after `t`, no other
//! leader can be elected before `t + election_timeout_max`, and until then the leader's
//! committed index is the newest any read can need. The network records those send times
//! ([`AckClock::acked`]); [`read_index`] turns them into a read index while a shorter lease
//! holds. Counting from the send (not the reply) keeps the leader's lease ending before any
//! follower's refusal does; the lease ([`lease_for`]) is shorter again by
//! `election_timeout_max - election_timeout_min`, far more than clocks of different machines
//! drift apart over one lease.
//!
//! The lease assumes every member runs the same election timeouts (no member's
//! `election_timeout_max` below another's `election_timeout_min`) and monotonic clocks that
//! do not stop while the node's host is suspended; docs/operations.md says so to operators.
//!
//! Generic over the type configuration so the simulation runs this code under its
//! partitions and crashes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::storage::RaftLogStorage;
use openraft::{
    AsyncRuntime, CommittedLeaderId, Instant, LogId, Raft, RaftTypeConfig, ServerState,
    StorageError, Vote,
};

/// The clock of `C`'s runtime (openraft keeps its own alias private).
type InstantOf<C> = <<C as RaftTypeConfig>::AsyncRuntime as AsyncRuntime>::Instant;

/// The lease a leader may count on from a quorum's acknowledged send: `election_timeout_min`,
/// and never more than nine tenths of `election_timeout_max` (the followers' refusal), so a
/// configuration with the two nearly equal still leaves room for clocks that drift. Every
/// member must run the same `election_timeout_max` or a larger one: a follower configured
/// shorter than this leader's lease would vote too early.
pub fn lease_for(config: &openraft::Config) -> Duration {
    let max = Duration::from_millis(config.election_timeout_max);
    Duration::from_millis(config.election_timeout_min).min(max * 9 / 10)
}

/// The vote under which this node may resume leading when it starts (its stored vote is its
/// own, committed) and its log's last index then, read from the log store before Raft starts.
/// openraft restores such a node as leader at once, with a committed index taken from the
/// applied state, which is written without a sync and may lag what a quorum acknowledged
/// before the crash; so a read under that vote must not be served below that index, whichever
/// way it was vouched for.
pub struct Resumed<C: RaftTypeConfig> {
    vote: Vote<C::NodeId>,
    last_index: u64,
}

impl<C: RaftTypeConfig> Resumed<C> {
    /// Reads the stored vote and log of node `me`, which is about to start.
    pub async fn read<S: RaftLogStorage<C>>(
        log: &mut S,
        me: &C::NodeId,
    ) -> Result<Option<Self>, StorageError<C::NodeId>> {
        let vote = log.read_vote().await?;
        let last = log.get_log_state().await?.last_log_id;
        Ok(Self::of(vote, last, me))
    }

    /// What `read` found: something only when `vote` is `me`'s own, committed, over a log.
    fn of(
        vote: Option<Vote<C::NodeId>>,
        last: Option<LogId<C::NodeId>>,
        me: &C::NodeId,
    ) -> Option<Self> {
        let vote =
            vote.filter(|v| v.is_committed() && v.leader_id().voted_for().as_ref() == Some(me))?;
        Some(Resumed {
            vote,
            last_index: last?.index,
        })
    }

    /// The index a read under `vote` must also wait for: the log's end at the start, while
    /// the node still leads under the vote it resumed.
    pub fn floor(&self, vote: &Vote<C::NodeId>) -> Option<u64> {
        (self.vote == *vote).then_some(self.last_index)
    }
}

/// When each peer last accepted a request this node sent as leader under one vote.
pub struct AckClock<C: RaftTypeConfig> {
    acked: Mutex<Acked<C>>,
}

/// The vote the send times belong to, and the newest accepted send per peer.
struct Acked<C: RaftTypeConfig> {
    vote: Option<Vote<C::NodeId>>,
    sent: BTreeMap<C::NodeId, InstantOf<C>>,
}

impl<C: RaftTypeConfig> Default for AckClock<C> {
    fn default() -> Self {
        AckClock {
            acked: Mutex::new(Acked {
                vote: None,
                sent: BTreeMap::new(),
            }),
        }
    }
}

impl<C: RaftTypeConfig> AckClock<C> {
    /// Records that `peer` accepted an AppendEntries sent at `sent` under `vote`. A newer
    /// vote starts the record over; a reply to an older vote's request is ignored.
    pub fn acked(&self, vote: &Vote<C::NodeId>, peer: C::NodeId, sent: InstantOf<C>) {
        let Ok(mut acked) = self.acked.lock() else {
            return;
        };
        if acked.vote.as_ref() != Some(vote) {
            if acked.vote.as_ref().is_some_and(|current| vote < current) {
                return;
            }
            acked.vote = Some(vote.clone());
            acked.sent.clear();
        }
        let newest = acked.sent.entry(peer).or_insert(sent);
        *newest = (*newest).max(sent);
    }

    /// The latest `t` such that, in every configuration of `configs`, a majority accepted
    /// requests sent under `vote` at or after `t`; the leader itself counts as accepting
    /// `now`. `None` while some configuration has no such majority.
    fn quorum_acked(
        &self,
        vote: &Vote<C::NodeId>,
        leader: &C::NodeId,
        configs: &[BTreeSet<C::NodeId>],
        now: InstantOf<C>,
    ) -> Option<InstantOf<C>> {
        let acked = self.acked.lock().ok()?;
        if acked.vote.as_ref() != Some(vote) || configs.is_empty() {
            return None;
        }
        let mut oldest = now;
        for voters in configs {
            let mut times: Vec<InstantOf<C>> = voters
                .iter()
                .filter_map(|id| match id == leader {
                    true => Some(now),
                    false => acked.sent.get(id).copied(),
                })
                .collect();
            let majority = voters.len() / 2 + 1;
            if times.len() < majority {
                return None;
            }
            times.sort_unstable_by(|a, b| b.cmp(a));
            oldest = oldest.min(times[majority - 1]);
        }
        Some(oldest)
    }
}

/// What vouches for one group's reads on this node.
pub struct Lease<C: RaftTypeConfig> {
    /// The peers' acknowledgements, as the group's network records them.
    pub acks: Arc<AckClock<C>>,
    /// How long an acknowledgement vouches for ([`lease_for`]).
    pub length: Duration,
    /// The leadership the node may have resumed at its start.
    pub resumed: Option<Resumed<C>>,
}

/// Why a read could not be made linearizable here.
#[derive(Clone, Debug)]
pub enum ReadError {
    /// This node does not lead the group.
    NotLeader,
    /// Raft stopped or the quorum could not be reached.
    Failed(String),
}

/// Returns once this node's applied state reflects every write committed before the call:
/// by the lease while it holds, otherwise after a round of heartbeats confirmed leadership
/// (`ensure_linearizable`). Says whether the lease vouched. The caller bounds the wait (a
/// leader cut off from its quorum waits for heartbeats that never come back).
pub async fn linearizable<C: RaftTypeConfig>(
    raft: &Raft<C>,
    lease: &Lease<C>,
) -> Result<bool, ReadError> {
    let by_lease = match read_index(raft, lease).await {
        Some(index) => {
            applied(raft, index).await?;
            true
        }
        None => match raft.ensure_linearizable().await {
            Ok(_) => false,
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {
                return Err(ReadError::NotLeader)
            }
            Err(e) => return Err(ReadError::Failed(e.to_string())),
        },
    };
    if let Some(resumed) = &lease.resumed {
        // Votes only move forward: if the metrics still show the resumed vote, so did the
        // state either check read.
        let vote = raft.metrics().borrow().vote.clone();
        if let Some(floor) = resumed.floor(&vote) {
            applied(raft, floor).await?;
        }
    }
    Ok(by_lease)
}

/// Waits until the state machine has applied `index`.
async fn applied<C: RaftTypeConfig>(raft: &Raft<C>, index: u64) -> Result<(), ReadError> {
    raft.wait(None)
        .applied_index_at_least(Some(index), "linearizable read")
        .await
        .map(|_| ())
        .map_err(|e| ReadError::Failed(e.to_string()))
}

/// The log index a linearizable read may be served at once the state machine has applied it,
/// or `None` when the lease cannot vouch for this node (not the leader, its term's first
/// entry not yet committed, a quorum's acknowledgement older than the lease).
async fn read_index<C: RaftTypeConfig>(raft: &Raft<C>, lease: &Lease<C>) -> Option<u64> {
    let clock = Arc::clone(&lease.acks);
    // Read in the Raft core's own task, so leadership, the committed index and the
    // configurations are one consistent moment of its state.
    let seen = raft
        .with_raft_state(move |st| {
            let vote = st.vote_ref();
            let leader = vote.leader_id().voted_for()?;
            if st.server_state != ServerState::Leader || !vote.is_committed() {
                return None;
            }
            // Committed in this leader's term means its first entry, and so everything
            // earlier leaders committed, is committed.
            let committed = st.committed.as_ref()?;
            if committed.leader_id != CommittedLeaderId::from(vote.clone()) {
                return None;
            }
            let configs = st
                .membership_state
                .effective()
                .membership()
                .get_joint_config();
            let since = clock.quorum_acked(vote, &leader, configs, InstantOf::<C>::now())?;
            Some((committed.index, since))
        })
        .await
        .ok()??;
    let (index, since) = seen;
    // Checked after the state was read: no other leader could have been elected by then.
    (InstantOf::<C>::now() < since + lease.length).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TypeConfig;

    fn vote(term: u64, leader: u64) -> Vote<u64> {
        Vote::new_committed(term, leader)
    }

    fn voters(ids: &[u64]) -> Vec<BTreeSet<u64>> {
        vec![ids.iter().copied().collect()]
    }

    #[test]
    fn a_quorum_of_three_is_the_leader_and_its_fresher_follower() {
        let clock = AckClock::<TypeConfig>::default();
        let now = InstantOf::<TypeConfig>::now();
        let (old, new) = (
            now - Duration::from_millis(300),
            now - Duration::from_millis(100),
        );
        let v = vote(2, 1);
        clock.acked(&v, 2, old);
        clock.acked(&v, 3, new);
        assert_eq!(
            clock.quorum_acked(&v, &1, &voters(&[1, 2, 3]), now),
            Some(new)
        );
        // A leader alone is no quorum.
        let lonely = AckClock::<TypeConfig>::default();
        assert_eq!(lonely.quorum_acked(&v, &1, &voters(&[1, 2, 3]), now), None);
        // Of five, the leader and two followers: the older of the two counts.
        assert_eq!(
            clock.quorum_acked(&v, &1, &voters(&[1, 2, 3, 4, 5]), now),
            Some(old)
        );
    }

    #[test]
    fn an_older_send_never_moves_a_peer_back() {
        let clock = AckClock::<TypeConfig>::default();
        let now = InstantOf::<TypeConfig>::now();
        let v = vote(2, 1);
        clock.acked(&v, 2, now - Duration::from_millis(10));
        clock.acked(&v, 2, now - Duration::from_millis(500));
        let at = clock.quorum_acked(&v, &1, &voters(&[1, 2, 3]), now);
        assert_eq!(at, Some(now - Duration::from_millis(10)));
    }

    #[test]
    fn a_joint_configuration_needs_a_majority_of_each_half() {
        let clock = AckClock::<TypeConfig>::default();
        let now = InstantOf::<TypeConfig>::now();
        let v = vote(3, 1);
        clock.acked(&v, 2, now);
        let joint: Vec<BTreeSet<u64>> = vec![[1, 2, 3].into(), [1, 4, 5].into()];
        assert_eq!(clock.quorum_acked(&v, &1, &joint, now), None);
        clock.acked(&v, 5, now - Duration::from_millis(40));
        assert_eq!(
            clock.quorum_acked(&v, &1, &joint, now),
            Some(now - Duration::from_millis(40))
        );
    }

    #[test]
    fn acks_count_only_under_the_vote_they_were_sent_with() {
        let clock = AckClock::<TypeConfig>::default();
        let now = InstantOf::<TypeConfig>::now();
        let (first, second) = (vote(2, 1), vote(4, 1));
        clock.acked(&first, 2, now);
        assert_eq!(
            clock.quorum_acked(&second, &1, &voters(&[1, 2, 3]), now),
            None
        );
        clock.acked(&second, 3, now);
        // The new term's record starts over: node 2's ack was for the old one...
        assert_eq!(
            clock.quorum_acked(&first, &1, &voters(&[1, 2, 3]), now),
            None
        );
        // ...and a late reply to an old-term request does not wipe the new record.
        clock.acked(&first, 2, now);
        assert_eq!(
            clock.quorum_acked(&second, &1, &voters(&[1, 2, 3]), now),
            Some(now)
        );
        // An uncommitted vote for the same leader and term is not the leader's vote.
        let candidate = Vote::new(4, 1);
        assert_eq!(
            clock.quorum_acked(&candidate, &1, &voters(&[1, 2, 3]), now),
            None
        );
    }

    #[test]
    fn only_a_node_own_committed_vote_over_a_log_resumes_leading() {
        let last = Some(LogId::new(CommittedLeaderId::new(3, 1), 42));
        let of = |vote, last| Resumed::<TypeConfig>::of(vote, last, &1).map(|r| r.last_index);
        assert_eq!(of(Some(vote(3, 1)), last), Some(42));
        assert_eq!(of(Some(Vote::new(3, 1)), last), None, "a candidate's vote");
        assert_eq!(of(Some(vote(3, 2)), last), None, "another node leads");
        assert_eq!(of(None, last), None);
        assert_eq!(of(Some(vote(3, 1)), None), None, "nothing to wait for");
    }

    #[test]
    fn the_floor_binds_only_reads_under_the_resumed_vote() {
        let resumed = Resumed::<TypeConfig>::of(
            Some(vote(3, 1)),
            Some(LogId::new(CommittedLeaderId::new(3, 1), 42)),
            &1,
        );
        let resumed = resumed.expect("resumes");
        assert_eq!(resumed.floor(&vote(3, 1)), Some(42));
        assert_eq!(resumed.floor(&vote(5, 1)), None, "a later election");
    }

    #[test]
    fn the_lease_stays_below_the_followers_refusal() {
        let config = |min, max| openraft::Config {
            election_timeout_min: min,
            election_timeout_max: max,
            ..Default::default()
        };
        assert_eq!(lease_for(&config(600, 1200)), Duration::from_millis(600));
        assert_eq!(lease_for(&config(600, 610)), Duration::from_millis(549));
    }
}
