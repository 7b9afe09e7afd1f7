//! Whether this data dir may serve under this node id, and which groups are this node's to
//! bootstrap.
//!
//! openraft forbids reusing a node id: a node whose disk was wiped has forgotten its votes and
//! the entries it acknowledged, and voting again under the same id can elect a leader without
//! them. So a data dir that never took part in a group asks the other members first, before
//! any Raft RPC reaches it (see `Node::admitted`): a member whose roster knows this id with
//! another data dir's *incarnation* (a random number each data dir picks once, kept in the file
//! `incarnation`), or lists it as removed, refuses the start. Bootstrapping is decided from the
//! same answers: a designated group is initialized only when no member that answered holds it.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::Rng;
use roost_network::{Identity, PeerClients};
use roost_state::GroupId;
use roost_types::NodeId;
use tokio_util::sync::CancellationToken;

use crate::{Member, NodeError};

const FILE: &str = "incarnation";

/// The incarnation this data dir picked, if it picked one yet.
pub(crate) fn load(data_dir: &Path) -> Result<Option<u64>, NodeError> {
    match fs::read_to_string(data_dir.join(FILE)) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            NodeError::Config(format!("{}: not a number", data_dir.join(FILE).display()))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A new incarnation.
pub(crate) fn pick() -> u64 {
    rand::rng().random()
}

/// Keeps `incarnation` in the data dir, once the members let it start.
pub(crate) fn keep(data_dir: &Path, incarnation: u64) -> Result<(), NodeError> {
    roost_storage::durable::write(&data_dir.join(FILE), incarnation.to_string().as_bytes())?;
    Ok(())
}

/// Asks the other members what they know (all at once, each round) until a majority of all
/// members (this one counted) answered. A member that does not answer may be down; a majority is enough because any
/// roster change was committed on one.
pub(crate) async fn ask(
    id: NodeId,
    members: &[(NodeId, Member)],
    clients: &PeerClients,
    shutdown: &CancellationToken,
) -> Result<Vec<Identity>, NodeError> {
    let needed = members.len() / 2 + 1;
    let mut answered: Vec<(NodeId, Identity)> = Vec::new();
    let mut logged = Instant::now();
    loop {
        // All at once: a member that is down costs a round one timeout, not one each.
        let mut asks = tokio::task::JoinSet::new();
        for (peer, member) in members {
            if *peer == id || answered.iter().any(|(p, _)| p == peer) {
                continue;
            }
            let (clients, peer, addr) = (clients.clone(), *peer, member.peer_addr.clone());
            asks.spawn(async move { (peer, clients.identify(peer, &addr, id).await) });
        }
        while let Some(joined) = asks.join_next().await {
            match joined {
                Ok((peer, Ok(identity))) => answered.push((peer, identity)),
                Ok((peer, Err(e))) => {
                    tracing::debug!(peer, error = %e, "member did not answer yet")
                }
                Err(e) => tracing::debug!(error = %e, "asking a member failed"),
            }
        }
        if answered.len() + 1 >= needed {
            return Ok(answered.into_iter().map(|(_, i)| i).collect());
        }
        if logged.elapsed() > Duration::from_secs(5) {
            logged = Instant::now();
            tracing::info!(
                answered = answered.len() + 1,
                needed,
                "waiting for a majority of the members to answer before taking part"
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            _ = shutdown.cancelled() => return Err(NodeError::Unavailable("shutting down".into())),
        }
    }
}

/// Whether a data dir that never took part may serve as `id`, from what members said.
pub(crate) fn judge(id: NodeId, joining: bool, answers: &[Identity]) -> Result<(), String> {
    for roster in answers.iter().map(|a| &a.roster) {
        if roster.removed.contains(&id) {
            return Err(format!(
                "node id {id} was removed from this cluster and can never be used again; \
                 start this node with a new id and --join, then add it"
            ));
        }
        if roster
            .members
            .get(&id)
            .is_some_and(|m| m.incarnation.is_some())
        {
            return Err(format!(
                "node id {id} was used by another data dir (this one is empty): this id was \
                 used; add a new node and remove the old id"
            ));
        }
        if !joining && !roster.is_empty() && !roster.members.contains_key(&id) {
            return Err(format!(
                "node {id} is not a member of this cluster: start it with --join <member's HTTP \
                 address> and add it with POST /admin/cluster/nodes"
            ));
        }
    }
    Ok(())
}

/// The groups some member that answered holds a log of.
pub(crate) fn held_elsewhere(answers: &[Identity]) -> BTreeSet<GroupId> {
    answers
        .iter()
        .flat_map(|a| a.initialized.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_state::Roster;

    fn answer(members: &[(u64, Option<u64>)], removed: &[u64]) -> Identity {
        let member = |incarnation| roost_state::Member {
            peer_addr: String::new(),
            http_addr: String::new(),
            incarnation,
        };
        Identity {
            roster: Roster {
                members: members.iter().map(|(id, i)| (*id, member(*i))).collect(),
                removed: removed.iter().copied().collect(),
            },
            initialized: vec![0, 2],
        }
    }

    #[test]
    fn a_new_cluster_starts() {
        let blank = Identity::default();
        assert_eq!(judge(2, false, &[blank.clone(), blank]), Ok(()));
    }

    #[test]
    fn a_member_that_never_started_starts() {
        assert_eq!(
            judge(2, false, &[answer(&[(1, Some(5)), (2, None)], &[])]),
            Ok(())
        );
        assert_eq!(
            judge(4, true, &[answer(&[(1, Some(5)), (4, None)], &[])]),
            Ok(())
        );
    }

    #[test]
    fn an_empty_disk_under_a_used_id_is_refused() {
        let refused = judge(2, false, &[answer(&[(1, None), (2, Some(9))], &[])]);
        assert!(refused
            .expect_err("used")
            .contains("this id was used; add a new node and remove the old id"));
        let removed = judge(3, true, &[answer(&[(1, None)], &[3])]);
        assert!(removed
            .expect_err("removed")
            .contains("can never be used again"));
    }

    #[test]
    fn a_stranger_must_join() {
        assert!(judge(7, false, &[answer(&[(1, None)], &[])]).is_err());
        assert_eq!(judge(7, true, &[answer(&[(1, None)], &[])]), Ok(()));
    }

    #[test]
    fn groups_held_anywhere_are_not_bootstrapped_again() {
        let held = held_elsewhere(&[answer(&[], &[]), Identity::default()]);
        assert_eq!(held, BTreeSet::from([0, 2]));
    }
}
