//! The cluster's members, for the operator: add and remove nodes, see each group's voters,
//! learners and lag, and ask whether stopping a node now would cost a group its quorum.
//! Changes go to the roster in the metadata group; each group's leader then drives the
//! group's Raft membership to it (`roost_node`'s reconciler).

use std::collections::{BTreeMap, BTreeSet};

use roost_node::{at_risk, lag, live, voters, Leaving, Survey};
use roost_state::command as cmd;
use roost_state::{Command, GroupId, Query, QueryResult, Response, Roster, META_GROUP};

use crate::{Api, Error, ErrorCode};

/// A node's id.
type NodeId = u64;

/// A node to add.
#[derive(Clone, Debug)]
pub struct NewNode {
    /// Its node id, never used in this cluster before.
    pub id: u64,
    /// Where its peer listener is reached (`host:port`).
    pub peer_addr: String,
    /// Where its HTTP listener is reached (`host:port`).
    pub http_addr: String,
}

/// The cluster as the operator sees it.
#[derive(Clone, Debug)]
pub struct ClusterNodes {
    /// The members and the ids removed for good.
    pub roster: Roster,
    /// The members that answered just now.
    pub live: BTreeSet<NodeId>,
    /// Every group, metadata first.
    pub groups: Vec<GroupMembers>,
}

/// One group's Raft membership.
#[derive(Clone, Debug)]
pub struct GroupMembers {
    /// The group (0: metadata).
    pub group: GroupId,
    /// The leader, as the member that leads it reports.
    pub leader: Option<NodeId>,
    /// Members that vote.
    pub voters: Vec<NodeId>,
    /// Members that receive the log without voting (yet).
    pub learners: Vec<NodeId>,
    /// Entries each member's log is behind the leader's; `None` where it or the leader did
    /// not answer.
    pub lag: BTreeMap<NodeId, Option<u64>>,
}

/// Whether stopping a node now would cost a group its quorum.
#[derive(Clone, Debug)]
pub struct QuorumCheck {
    /// The node asked about.
    pub node: NodeId,
    /// The groups that would be left without a quorum of live voters.
    pub groups: Vec<GroupId>,
}

impl Api {
    /// The members, each group's voters and learners, and how far each member lags.
    pub async fn cluster_nodes(&self, operator_key: Option<&str>) -> Result<ClusterNodes, Error> {
        self.operator(operator_key)?;
        let roster = self.roster().await?;
        let survey = self.node().survey().await;
        let lags = lag(&survey);
        // This node's own report is in the survey (it always answers itself).
        let me = survey
            .get(&self.node().id())
            .cloned()
            .flatten()
            .ok_or_else(|| Error::internal("this node is missing from its own survey"))?;
        let groups = me
            .groups
            .iter()
            .map(|g| {
                // The leader's report of its group is the current one.
                let led = g
                    .leader
                    .and_then(|l| survey.get(&l).cloned().flatten())
                    .and_then(|s| s.groups.into_iter().find(|x| x.group == g.group));
                let view = led.as_ref().unwrap_or(g);
                GroupMembers {
                    group: g.group,
                    leader: view.leader,
                    voters: view.voters.clone(),
                    learners: view.learners.clone(),
                    lag: lags.get(&g.group).cloned().unwrap_or_default(),
                }
            })
            .collect();
        Ok(ClusterNodes {
            roster,
            live: live(&survey),
            groups,
        })
    }

    /// Adds a node to the roster; every group takes it in as a learner, then as a voter once
    /// it caught up.
    pub async fn add_node(
        &self,
        operator_key: Option<&str>,
        node: NewNode,
    ) -> Result<Roster, Error> {
        self.operator(operator_key)?;
        if node.id == 0 {
            return Err(Error::new(
                ErrorCode::InvalidField,
                "id must be a positive node id",
                "Send {\"id\": N, \"peer_addr\": \"host:port\", \"http_addr\": \"host:port\"} with a node id never used in this cluster.",
            ));
        }
        check_address("peer_addr", &node.peer_addr)?;
        check_address("http_addr", &node.http_addr)?;
        self.seeded_roster().await?;
        self.roster_write(Command::AddMember(cmd::AddMember {
            id: node.id,
            peer_addr: node.peer_addr,
            http_addr: node.http_addr,
        }))
        .await
    }

    /// Removes node `id` for good. Refused when some group would be left without a quorum of
    /// live voters, unless `force`.
    pub async fn remove_node(
        &self,
        operator_key: Option<&str>,
        id: NodeId,
        force: bool,
    ) -> Result<Roster, Error> {
        self.operator(operator_key)?;
        self.seeded_roster().await?;
        if !force {
            let groups = self.groups_at_risk(id, Leaving::Removed).await;
            if !groups.is_empty() {
                return Err(Error::new(
                    ErrorCode::QuorumAtRisk,
                    format!(
                        "removing node {id} now would leave groups {groups:?} without a quorum of live voters"
                    ),
                    "Bring the other members back first (GET /admin/cluster/nodes shows which answer), or repeat with ?force=true if they are gone for good.",
                ));
            }
        }
        self.roster_write(Command::RemoveMember(cmd::RemoveMember { id }))
            .await
    }

    /// Whether stopping node `id` now would leave a group without a quorum of live voters.
    pub async fn quorum_critical(
        &self,
        operator_key: Option<&str>,
        id: NodeId,
    ) -> Result<QuorumCheck, Error> {
        self.operator(operator_key)?;
        let roster = self.roster().await?;
        if !roster.members.contains_key(&id) {
            return Err(roost_state::CommandError::MemberNotFound.into());
        }
        Ok(QuorumCheck {
            node: id,
            groups: self.groups_at_risk(id, Leaving::Stops).await,
        })
    }

    async fn groups_at_risk(&self, id: NodeId, how: Leaving) -> Vec<GroupId> {
        let survey: Survey = self.node().survey().await;
        at_risk(&voters(&survey, self.node().id()), &live(&survey), id, how)
    }

    /// The roster, read through the metadata group's leader.
    async fn roster(&self) -> Result<Roster, Error> {
        match self.node().read(META_GROUP, Query::Roster).await? {
            QueryResult::Roster(r) => Ok(r),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// The roster once the metadata group's first leader recorded it (within a second or two
    /// of a new cluster's first election), so an early change is not refused for nothing.
    async fn seeded_roster(&self) -> Result<Roster, Error> {
        let deadline = tokio::time::Instant::now() + self.node().config().request_timeout;
        loop {
            let roster = self.roster().await?;
            if !roster.is_empty() {
                return Ok(roster);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorCode::Unavailable,
                    "the cluster has not recorded its members yet",
                    "A new cluster records them within seconds of electing its first leader; retry.",
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    async fn roster_write(&self, command: Command) -> Result<Roster, Error> {
        match self.node().write(META_GROUP, command).await? {
            Response::Roster(r) => Ok(r),
            Response::Refused(e) => Err(e.into()),
            other => Err(Error::unexpected(&other)),
        }
    }
}

/// A `host:port` address another member can reach.
fn check_address(field: &str, addr: &str) -> Result<(), Error> {
    let port = addr
        .rsplit_once(':')
        .map(|(host, port)| (host, port.parse::<u16>()));
    let ok = addr.len() <= 255
        && !addr.chars().any(char::is_whitespace)
        && matches!(port, Some((host, Ok(p))) if !host.is_empty() && p > 0);
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidField,
            format!("{field}: {addr:?} is not a host:port address"),
            "Send the addresses the new node listens on as other members reach them, e.g. \"10.0.0.4:9001\".",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_address;

    #[test]
    fn addresses_are_host_and_port() {
        for good in ["10.0.0.4:9001", "node-4.roost:9001", "[::1]:9001"] {
            assert!(check_address("peer_addr", good).is_ok(), "{good}");
        }
        for bad in ["", "10.0.0.4", ":9001", "host:0", "host:99999", "a b:1"] {
            assert!(check_address("peer_addr", bad).is_err(), "{bad}");
        }
    }
}
