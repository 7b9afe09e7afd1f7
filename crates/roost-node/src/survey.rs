//! What every member reports, and which groups a node leaving would take below quorum: the
//! operator's view of the cluster and the check before removing or stopping a node.
//!
//! A member counts as live when it answers the `Status` call within the peer client's timeout.
//! That is a judgement at one moment, which is why removing a node that the check refuses
//! needs `force`: the operator may know better (a node partitioned away for good).

use std::collections::{BTreeMap, BTreeSet};

use roost_state::GroupId;
use roost_types::NodeId;
use tokio::task::JoinSet;

use crate::{ClusterStatus, Node};

/// Each member's own report, `None` for a member that did not answer.
pub type Survey = BTreeMap<NodeId, Option<ClusterStatus>>;

impl Node {
    /// Asks every member for its status, all at once.
    pub async fn survey(&self) -> Survey {
        let mut asks = JoinSet::new();
        for (id, member) in self.members() {
            if id == self.id() {
                continue;
            }
            let clients = self.clients().clone();
            asks.spawn(async move {
                let reply = clients.status(id, &member.peer_addr).await;
                let status = reply.ok().and_then(|b| serde_json::from_slice(&b).ok());
                (id, status)
            });
        }
        let mut survey = Survey::new();
        survey.insert(self.id(), Some(self.status()));
        while let Some(answer) = asks.join_next().await {
            if let Ok((id, status)) = answer {
                survey.insert(id, status);
            }
        }
        survey
    }
}

/// The members that answered.
pub fn live(survey: &Survey) -> BTreeSet<NodeId> {
    survey
        .iter()
        .filter(|(_, s)| s.is_some())
        .map(|(id, _)| *id)
        .collect()
}

/// Each group's voters, as the member leading it (at the highest term) reports them, or as
/// this node (`me`) does when no member that answered leads it.
pub fn voters(survey: &Survey, me: NodeId) -> BTreeMap<GroupId, BTreeSet<NodeId>> {
    let mut best: BTreeMap<GroupId, (bool, u64, BTreeSet<NodeId>)> = BTreeMap::new();
    for (id, status) in survey {
        let Some(status) = status else { continue };
        for g in &status.groups {
            let leads = g.leader == Some(*id);
            if !leads && *id != me {
                continue;
            }
            let rank = (leads, g.term);
            let better = best.get(&g.group).is_none_or(|(l, t, _)| rank > (*l, *t));
            if better {
                best.insert(g.group, (leads, g.term, g.voters.iter().copied().collect()));
            }
        }
    }
    best.into_iter().map(|(g, (_, _, v))| (g, v)).collect()
}

/// How far each member's log is behind its group's leader's, in entries, per group; `None`
/// where the member or the group's leader did not answer.
pub fn lag(survey: &Survey) -> BTreeMap<GroupId, BTreeMap<NodeId, Option<u64>>> {
    let mut heads: BTreeMap<GroupId, u64> = BTreeMap::new();
    for (id, status) in survey {
        for g in status.iter().flat_map(|s| &s.groups) {
            if g.leader == Some(*id) {
                heads.insert(g.group, g.last_log_index.unwrap_or(0));
            }
        }
    }
    let mut lag: BTreeMap<GroupId, BTreeMap<NodeId, Option<u64>>> = BTreeMap::new();
    for (id, status) in survey {
        let Some(status) = status else { continue };
        for g in &status.groups {
            let behind = heads
                .get(&g.group)
                .map(|head| head.saturating_sub(g.last_log_index.unwrap_or(0)));
            lag.entry(g.group).or_default().insert(*id, behind);
        }
    }
    let silent: Vec<NodeId> = survey
        .iter()
        .filter(|(_, s)| s.is_none())
        .map(|(id, _)| *id)
        .collect();
    for per in lag.values_mut() {
        for id in &silent {
            per.entry(*id).or_insert(None);
        }
    }
    lag
}

/// How `leaving` goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaving {
    /// It stops; the groups keep it as a voter.
    Stops,
    /// It is removed from every group's voters (joint consensus: the old voters and the new
    /// ones must each keep a quorum while the change commits).
    Removed,
}

/// The groups that would have fewer live voters than a quorum if `leaving` went away as `how`.
pub fn at_risk(
    voters: &BTreeMap<GroupId, BTreeSet<NodeId>>,
    live: &BTreeSet<NodeId>,
    leaving: NodeId,
    how: Leaving,
) -> Vec<GroupId> {
    let short = |set: &BTreeSet<NodeId>, alive: &dyn Fn(&NodeId) -> bool| {
        !set.is_empty() && set.iter().filter(|v| alive(v)).count() < set.len() / 2 + 1
    };
    voters
        .iter()
        .filter(|(_, v)| v.contains(&leaving))
        .filter(|(_, v)| match how {
            Leaving::Stops => short(v, &|n| *n != leaving && live.contains(n)),
            Leaving::Removed => {
                let after: BTreeSet<NodeId> = v.iter().copied().filter(|n| *n != leaving).collect();
                short(v, &|n| live.contains(n)) || short(&after, &|n| live.contains(n))
            }
        })
        .map(|(g, _)| *g)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three(groups: u32) -> BTreeMap<GroupId, BTreeSet<NodeId>> {
        (0..groups)
            .map(|g| (g, BTreeSet::from([1, 2, 3])))
            .collect()
    }

    #[test]
    fn stopping_one_of_three_live_voters_keeps_quorum() {
        let live = BTreeSet::from([1, 2, 3]);
        assert!(at_risk(&three(3), &live, 2, Leaving::Stops).is_empty());
    }

    #[test]
    fn stopping_a_second_voter_loses_quorum() {
        let live = BTreeSet::from([1, 2]);
        assert_eq!(at_risk(&three(2), &live, 2, Leaving::Stops), vec![0, 1]);
        // The dead one stopping changes nothing.
        assert!(at_risk(&three(2), &live, 3, Leaving::Stops).is_empty());
    }

    #[test]
    fn removing_a_dead_voter_of_three_is_safe_but_not_a_live_one_beside_a_dead_one() {
        let live = BTreeSet::from([1, 2]);
        assert!(at_risk(&three(1), &live, 3, Leaving::Removed).is_empty());
        // {1, 3} after removing 2: 3 is dead, one of two is not a quorum.
        assert_eq!(at_risk(&three(1), &live, 2, Leaving::Removed), vec![0]);
    }

    #[test]
    fn groups_the_node_does_not_vote_in_are_never_at_risk() {
        let voters = BTreeMap::from([(0, BTreeSet::from([1, 2, 3])), (1, BTreeSet::from([4]))]);
        let live = BTreeSet::from([4]);
        assert_eq!(at_risk(&voters, &live, 4, Leaving::Stops), vec![1]);
        assert!(at_risk(&voters, &BTreeSet::from([1, 2, 3]), 3, Leaving::Stops).is_empty());
    }

    #[test]
    fn the_leaders_view_of_voters_wins() {
        let status = |node: NodeId, leader: NodeId, term: u64, voters: Vec<NodeId>| {
            let group = crate::GroupStatus {
                group: 0,
                kind: "meta".into(),
                leader: Some(leader),
                role: String::new(),
                term,
                last_log_index: None,
                commit_index: None,
                applied_index: None,
                snapshot_index: None,
                purged_index: None,
                voters,
                learners: Vec::new(),
                queues: 0,
            };
            Some(ClusterStatus {
                node_id: node,
                nodes: Vec::new(),
                shards: 0,
                groups: vec![group],
                disk_bytes: 0,
                waiters: 0,
            })
        };
        let survey = Survey::from([
            (1, status(1, 2, 5, vec![1, 2, 3])),
            (2, status(2, 2, 5, vec![1, 2, 3, 4])),
            (3, None),
        ]);
        assert_eq!(voters(&survey, 1)[&0], BTreeSet::from([1, 2, 3, 4]));
        let leaderless = Survey::from([(1, status(1, 2, 5, vec![1, 2, 3]))]);
        assert_eq!(voters(&leaderless, 1)[&0], BTreeSet::from([1, 2, 3]));
    }
}
