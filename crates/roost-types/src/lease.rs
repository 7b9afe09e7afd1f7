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
//! Generic over the type configuration so the simulation runs this code under its
//! partitions and crashes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::{AsyncRuntime, CommittedLeaderId, Instant, Raft, RaftTypeConfig, ServerState, Vote};

/// The clock of `C`'s runtime (openraft keeps its own alias private).
type InstantOf<C> = <<C as RaftTypeConfig>::AsyncRuntime as AsyncRuntime>::Instant;

/// The lease a leader may count on: `election_timeout_min` from a quorum's acknowledged send.
pub fn lease_for(config: &openraft::Config) -> Duration {
    Duration::from_millis(config.election_timeout_min)
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

/// The log index a linearizable read may be served at once the state machine has applied it,
/// or `None` when the lease cannot vouch for this node (not the leader, its term's first
/// entry not yet committed, a quorum's acknowledgement older than `lease`): the caller then
/// confirms leadership with a round of heartbeats instead.
pub async fn read_index<C: RaftTypeConfig>(
    raft: &Raft<C>,
    clock: &Arc<AckClock<C>>,
    lease: Duration,
) -> Option<u64> {
    let clock = Arc::clone(clock);
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
    (InstantOf::<C>::now() < since + lease).then_some(index)
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
}
