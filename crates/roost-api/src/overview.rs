//! What the status page shows: the cluster's health (public, like `/cluster`) from a survey
//! of every member, and the operator's overview of queues, jobs and work queues (operator
//! key) from a read of every shard.

use std::collections::{BTreeMap, BTreeSet};

use roost_node::{lag, live, Survey};
use roost_state::{GroupId, Query, QueryResult, QueueStats, WorkloadStats};
use tokio::task::JoinSet;

use crate::input::page_limit;
use crate::{Api, Error};

/// A node's id.
type NodeId = u64;

/// Queues listed in full by default, and at most.
const DEEPEST: (u32, u32) = (20, 100);

/// The cluster as its members report it right now.
#[derive(Clone, Debug)]
pub struct ClusterHealth {
    /// The node that asked.
    pub node_id: NodeId,
    /// Every member this node knows of.
    pub nodes: Vec<NodeHealth>,
    /// Every group, metadata first.
    pub groups: Vec<GroupHealth>,
}

/// One member.
#[derive(Clone, Debug)]
pub struct NodeHealth {
    /// Its id.
    pub id: NodeId,
    /// Where its HTTP listener is reached.
    pub http_addr: String,
    /// Whether it answered just now.
    pub live: bool,
}

/// One group.
#[derive(Clone, Debug)]
pub struct GroupHealth {
    /// The group (0: metadata).
    pub group: GroupId,
    /// The leader: the member that says it leads at the highest term, else the leader the
    /// newest report names (which may be down).
    pub leader: Option<NodeId>,
    /// The highest term any member reported.
    pub term: u64,
    /// The commit index, as the leader reports it.
    pub commit_index: Option<u64>,
    /// Entries each member's log is behind the leader's; `None` where unknown.
    pub lag: BTreeMap<NodeId, Option<u64>>,
}

/// Queues, jobs and work queues across every shard.
#[derive(Clone, Debug, Default)]
pub struct Workload {
    /// Totals over every queue, and the deepest across the shards, deepest first.
    pub queues: QueueStats,
    /// Jobs and tasks by status, and the number of work queues.
    pub work: WorkloadStats,
    /// Shards that could not be read (no leader within the request timeout), with why; the
    /// figures above leave them out.
    pub unavailable: Vec<(GroupId, String)>,
}

impl Api {
    /// Every member's liveness and every group's leader, term and lag. Needs no key: it says
    /// nothing about what the cluster holds, like `/cluster`.
    pub async fn cluster_health(&self) -> ClusterHealth {
        let survey = self.node().survey().await;
        let alive = live(&survey);
        let lags = lag(&survey);
        let nodes = self
            .node()
            .members()
            .into_iter()
            .map(|(id, m)| NodeHealth {
                id,
                http_addr: m.http_addr,
                live: alive.contains(&id),
            })
            .collect();
        let groups = (0..=self.node().shards())
            .map(|g| GroupHealth {
                lag: lags.get(&g).cloned().unwrap_or_default(),
                ..group_health(&survey, g)
            })
            .collect();
        ClusterHealth {
            node_id: self.node().id(),
            nodes,
            groups,
        }
    }

    /// Queue depths, consumers and dead letters, jobs and tasks by status, over every shard
    /// (operator key). `limit` queues are listed in full (default 20, at most 100).
    pub async fn workload(
        &self,
        operator_key: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Workload, Error> {
        self.operator(operator_key)?;
        let limit = page_limit(limit, DEEPEST)? as usize;
        let mut reads = JoinSet::new();
        for group in 1..=self.node().shards() {
            for query in [Query::QueueStats { limit }, Query::WorkloadStats] {
                let node = self.node().clone();
                reads.spawn(async move { (group, node.read(group, query).await) });
            }
        }
        let mut out = Workload::default();
        let mut failed = BTreeSet::new();
        while let Some(done) = reads.join_next().await {
            let (group, answer) = done.map_err(|e| Error::internal(e.to_string()))?;
            match answer {
                Ok(QueryResult::QueueStats(s)) => merge_queues(&mut out.queues, s),
                Ok(QueryResult::WorkloadStats(s)) => merge_work(&mut out.work, s),
                Ok(other) => return Err(Error::unexpected(&other)),
                Err(e) if failed.insert(group) => out.unavailable.push((group, e.to_string())),
                Err(_) => {}
            }
        }
        let q = &mut out.queues;
        q.deepest
            .sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.id.cmp(&b.id)));
        q.deepest.truncate(limit);
        out.unavailable.sort();
        Ok(out)
    }
}

/// Group `g` as the survey tells it, lag aside.
fn group_health(survey: &Survey, g: GroupId) -> GroupHealth {
    let reports: Vec<(NodeId, &roost_node::GroupStatus)> = survey
        .iter()
        .filter_map(|(id, s)| Some((*id, s.as_ref()?.groups.iter().find(|x| x.group == g)?)))
        .collect();
    let term = reports.iter().map(|(_, r)| r.term).max().unwrap_or(0);
    let claimed = reports
        .iter()
        .filter(|(id, r)| r.leader == Some(*id))
        .max_by_key(|(_, r)| r.term);
    let newest = reports.iter().max_by_key(|(_, r)| r.term);
    let (leader, commit_index) = match (claimed, newest) {
        (Some((id, r)), _) => (Some(*id), r.commit_index),
        (None, Some((_, r))) => (r.leader, None),
        (None, None) => (None, None),
    };
    GroupHealth {
        group: g,
        leader,
        term,
        commit_index,
        lag: BTreeMap::new(),
    }
}

fn merge_queues(total: &mut QueueStats, shard: QueueStats) {
    total.queues += shard.queues;
    total.messages += shard.messages;
    total.dlq += shard.dlq;
    total.deepest.extend(shard.deepest);
}

fn merge_work(total: &mut WorkloadStats, shard: WorkloadStats) {
    total.work_queues += shard.work_queues;
    for (status, n) in shard.jobs {
        *total.jobs.entry(status).or_default() += n;
    }
    for (status, n) in shard.tasks {
        *total.tasks.entry(status).or_default() += n;
    }
}
