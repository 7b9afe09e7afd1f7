//! Drives every group's Raft membership to the roster the metadata group holds.
//!
//! The roster is the one desired list (operators change it through `roost-api`); each group's
//! membership changes only on that group's leader, so every node runs this loop for the groups
//! it leads. One step per group per round, each a committed change: a member missing from the
//! group joins as a learner; a learner that caught up becomes a voter (joint consensus); a
//! voter or learner no longer in the roster is removed. A leader that removes itself steps
//! down once the change commits, and the next leader finishes the work.
//!
//! The same loop keeps this node's address book (where each member listens) current, seeds
//! the roster of a cluster that has none from the configuration, and records this data dir's
//! incarnation under its id (see `identity`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers};
use roost_state::command as cmd;
use roost_state::{Command, GroupId, Response, Roster, META_GROUP};
use roost_types::{NodeId, Raft};
use tokio_util::sync::CancellationToken;

use crate::Node;

/// A learner this close to the leader's log is caught up enough to vote: promoting it does
/// not leave the group waiting on a member still replaying its backlog.
const CAUGHT_UP_ENTRIES: u64 = 1_000;

/// Runs a round every `every` until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        round(&node).await;
    }
}

async fn round(node: &Arc<Node>) {
    let roster = node.local_roster();
    node.learn_addresses(&roster);
    if roster.is_empty() {
        if node.leads(META_GROUP) {
            seed(node).await;
        }
        return;
    }
    record_start(node, &roster).await;
    for g in (0..=node.shards()).filter(|g| node.leads(*g)) {
        if let Some(raft) = node.raft_of(g) {
            step(g, raft, &roster, node.config().request_timeout).await;
        }
    }
}

/// Records the configured members as the roster of a cluster that has none (a new cluster, or
/// one from before rosters).
async fn seed(node: &Node) {
    let members = node
        .config()
        .members
        .iter()
        .map(|(id, m)| (*id, (m.peer_addr.clone(), m.http_addr.clone())))
        .collect();
    let seeded = node
        .write(
            META_GROUP,
            Command::SeedMembers(cmd::SeedMembers { members }),
        )
        .await;
    if let Err(e) = seeded {
        tracing::debug!(error = %e, "roster not seeded yet");
    }
}

/// Records this data dir's incarnation under this node's id, once.
async fn record_start(node: &Node, roster: &Roster) {
    let id = node.id();
    let Some(member) = roster.members.get(&id) else {
        if roster.removed.contains(&id) {
            tracing::warn!("this node was removed from the cluster; stop it");
        }
        return;
    };
    if member.incarnation == Some(node.incarnation()) {
        return;
    }
    let started = Command::MemberStarted(cmd::MemberStarted {
        id,
        incarnation: node.incarnation(),
    });
    match node.write(META_GROUP, started).await {
        Ok(Response::Roster(_)) => tracing::info!("recorded this data dir as node {id}'s"),
        Ok(other) => tracing::error!(?other, "the cluster knows another data dir as node {id}'s: this id was used; add a new node and remove the old id"),
        Err(e) => tracing::debug!(error = %e, "start not recorded yet"),
    }
}

/// What one group's leader should change next, from its membership and replication.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Nothing: the group matches the roster, or a change is under way.
    Settled,
    /// Make caught-up learners voters.
    Promote(BTreeSet<NodeId>),
    /// Remove voters the roster no longer holds.
    RemoveVoters(BTreeSet<NodeId>),
    /// Remove learners the roster no longer holds.
    RemoveLearners(BTreeSet<NodeId>),
    /// Add members the group lacks, as learners.
    AddLearners(BTreeMap<NodeId, String>),
}

/// The next step for a group whose membership is `voters` and `learners` (not in a joint
/// configuration), whose leader's log ends at `last_index` and has replicated up to
/// `matched` on each member.
fn next_step(
    roster: &Roster,
    voters: &BTreeSet<NodeId>,
    learners: &BTreeSet<NodeId>,
    last_index: u64,
    matched: &BTreeMap<NodeId, u64>,
) -> Step {
    let desired: BTreeSet<NodeId> = roster.members.keys().copied().collect();
    let ready: BTreeSet<NodeId> = learners
        .intersection(&desired)
        .filter(|l| {
            let at = matched.get(l).copied().unwrap_or(0);
            last_index.saturating_sub(at) <= CAUGHT_UP_ENTRIES && at > 0
        })
        .copied()
        .collect();
    if !ready.is_empty() {
        return Step::Promote(ready);
    }
    let gone: BTreeSet<NodeId> = voters.difference(&desired).copied().collect();
    // A group keeps at least one voter, whatever the roster says.
    if !gone.is_empty() && gone.len() < voters.len() {
        return Step::RemoveVoters(gone);
    }
    let stale: BTreeSet<NodeId> = learners.difference(&desired).copied().collect();
    if !stale.is_empty() {
        return Step::RemoveLearners(stale);
    }
    let missing: BTreeMap<NodeId, String> = roster
        .members
        .iter()
        .filter(|(id, _)| !voters.contains(id) && !learners.contains(id))
        .map(|(id, m)| (*id, m.peer_addr.clone()))
        .collect();
    if !missing.is_empty() {
        return Step::AddLearners(missing);
    }
    Step::Settled
}

async fn step(group: GroupId, raft: Raft, roster: &Roster, timeout: Duration) {
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    if membership.get_joint_config().len() > 1 {
        return;
    }
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let learners: BTreeSet<NodeId> = membership.learner_ids().collect();
    let matched: BTreeMap<NodeId, u64> = m
        .replication
        .iter()
        .flatten()
        .map(|(id, l)| (*id, l.map_or(0, |l| l.index)))
        .collect();
    let last = m.last_log_index.unwrap_or(0);
    let next = next_step(roster, &voters, &learners, last, &matched);
    if next == Step::Settled {
        return;
    }
    tracing::info!(group, ?next, "changing the group's membership");
    let change = async {
        match next {
            Step::Settled => Ok(()),
            Step::Promote(ids) => raft
                .change_membership(ChangeMembers::AddVoterIds(ids), false)
                .await
                .map(drop),
            Step::RemoveVoters(ids) => raft
                .change_membership(ChangeMembers::RemoveVoters(ids), false)
                .await
                .map(drop),
            Step::RemoveLearners(ids) => raft
                .change_membership(ChangeMembers::RemoveNodes(ids), false)
                .await
                .map(drop),
            Step::AddLearners(nodes) => {
                let nodes = nodes
                    .into_iter()
                    .map(|(id, addr)| (id, BasicNode::new(addr)))
                    .collect();
                raft.change_membership(ChangeMembers::AddNodes(nodes), false)
                    .await
                    .map(drop)
            }
        }
    };
    match tokio::time::timeout(timeout, change).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::info!(group, error = %e, "membership change not made; will retry"),
        Err(_) => tracing::info!(
            group,
            "membership change still committing; will check again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(ids: &[u64]) -> Roster {
        let member = |id: &u64| {
            let m = roost_state::Member {
                peer_addr: format!("p{id}"),
                http_addr: format!("h{id}"),
                incarnation: None,
            };
            (*id, m)
        };
        Roster {
            members: ids.iter().map(member).collect(),
            removed: BTreeSet::new(),
        }
    }

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_new_member_joins_as_a_learner_and_votes_once_caught_up() {
        let r = roster(&[1, 2, 3, 4]);
        let voters = set(&[1, 2, 3]);
        let add = next_step(&r, &voters, &set(&[]), 100, &BTreeMap::new());
        assert_eq!(add, Step::AddLearners([(4, "p4".to_owned())].into()));
        let behind = next_step(&r, &voters, &set(&[4]), 5_000, &[(4, 10)].into());
        assert_eq!(behind, Step::Settled, "still replaying its backlog");
        let caught_up = next_step(&r, &voters, &set(&[4]), 5_000, &[(4, 4_500)].into());
        assert_eq!(caught_up, Step::Promote(set(&[4])));
    }

    #[test]
    fn members_leaving_the_roster_leave_the_group() {
        let r = roster(&[1, 2, 4]);
        let step = next_step(&r, &set(&[1, 2, 3, 4]), &set(&[]), 9, &BTreeMap::new());
        assert_eq!(step, Step::RemoveVoters(set(&[3])));
        let step = next_step(&r, &set(&[1, 2, 4]), &set(&[5]), 9, &BTreeMap::new());
        assert_eq!(step, Step::RemoveLearners(set(&[5])));
        assert_eq!(
            next_step(&r, &set(&[1, 2, 4]), &set(&[]), 9, &BTreeMap::new()),
            Step::Settled
        );
    }

    #[test]
    fn a_group_never_loses_its_last_voter() {
        let step = next_step(&roster(&[7]), &set(&[1]), &set(&[]), 9, &BTreeMap::new());
        assert_eq!(step, Step::AddLearners([(7, "p7".to_owned())].into()));
    }
}
