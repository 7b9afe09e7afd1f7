//! One simulated node: a Raft group on the in-memory stores, serving Raft RPCs and clients'
//! reads and writes on [`net::PORT`] until its host is crashed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use roost_state::{Batch, Command, GroupId, Query, QueryResult, Response};
use roost_types::lease::{self, Lease, ReadError, Resumed};
use turmoil::net::TcpListener;

use crate::net::{self, ClientError, Network, Reply, Rpc};
use crate::store::{Disk, LogStore, Machine};
use crate::{NodeId, Raft, SimConfig};

/// The group every node runs: one queue shard.
pub const GROUP: GroupId = 1;

/// Raft timing for the simulation: short, so a run sees many elections.
fn raft_config() -> Result<Arc<openraft::Config>, openraft::ConfigError> {
    let config = openraft::Config {
        cluster_name: "sim".into(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(200),
        max_in_snapshot_log_to_keep: 50,
        purge_batch_size: 50,
        ..Default::default()
    };
    Ok(Arc::new(config.validate()?))
}

/// The node's wall clock in ms since the epoch: the simulation's.
fn now_ms() -> u64 {
    turmoil::since_epoch().map_or(0, |d| d.as_millis() as u64)
}

/// Runs node `id` of `members` on `disk` until the host is crashed: node 1 initializes the
/// cluster on its first start. (The boxed error is the shape turmoil wants of a host.)
pub async fn run(
    id: NodeId,
    members: Vec<NodeId>,
    disk: Disk,
) -> Result<(), Box<dyn std::error::Error>> {
    let machine = Machine::open(disk.clone(), GROUP)?;
    let first = disk.first_start();
    let config = raft_config()?;
    let network = Network::default();
    let mut log = LogStore::new(disk);
    let lease = Arc::new(Lease {
        acks: Arc::clone(&network.acks),
        length: lease::lease_for(&config),
        resumed: Resumed::read(&mut log, &id).await?,
    });
    let raft = Raft::new(id, config, network, log, machine.clone()).await?;
    if id == 1 && first {
        let nodes: BTreeMap<NodeId, openraft::BasicNode> = members
            .iter()
            .map(|m| (*m, openraft::BasicNode::new(net::host(*m))))
            .collect();
        raft.initialize(nodes).await?;
    }
    let listener = TcpListener::bind(("0.0.0.0", net::PORT)).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        let (raft, machine, lease) = (raft.clone(), machine.clone(), lease.clone());
        tokio::spawn(async move {
            let Ok(rpc) = net::read_frame::<Rpc>(&mut stream).await else {
                return;
            };
            let reply = answer(&raft, &machine, &lease, rpc).await;
            // The caller may be gone (timed out, partitioned): nothing to do then.
            let _ = net::write_frame(&mut stream, &reply).await;
        });
    }
}

/// Handles one request.
async fn answer(raft: &Raft, machine: &Machine, lease: &Lease<SimConfig>, rpc: Rpc) -> Reply {
    match rpc {
        Rpc::Append(r) => Reply::Append(raft.append_entries(r).await),
        Rpc::Vote(r) => Reply::Vote(raft.vote(r).await),
        Rpc::Snapshot(r) => Reply::Snapshot(raft.install_snapshot(r).await),
        Rpc::Write(command) => Reply::Written(write(raft, command).await),
        Rpc::Read(query) => Reply::Read(read(raft, machine, lease, &query).await),
    }
}

/// Proposes `command`, stamped with this node's clock, if this node leads.
async fn write(raft: &Raft, command: Command) -> Result<Response, ClientError> {
    // As Roost's proposer: only a node that does not lead proves the write was never
    // proposed; `ForwardToLeader` after proposing may come for an entry that still commits.
    if !raft.metrics().borrow().state.is_leader() {
        return Err(ClientError::NotLeader);
    }
    let batch = Batch {
        stamped_ms: now_ms(),
        commands: vec![command],
    };
    match raft.client_write(batch).await {
        Ok(r) => r
            .data
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Unknown("no response".into())),
        Err(e) => Err(ClientError::Unknown(e.to_string())),
    }
}

/// Answers `query` once it is linearizable: by the leader's lease when it holds (as Roost's
/// read barrier does), else after confirming leadership with a quorum.
async fn read(
    raft: &Raft,
    machine: &Machine,
    lease: &Lease<SimConfig>,
    query: &Query,
) -> Result<QueryResult, ClientError> {
    let confirmed = tokio::time::timeout(Duration::from_secs(2), lease::linearizable(raft, lease));
    match confirmed.await {
        Ok(Ok(_)) => machine
            .query(query)
            .map_err(|e| ClientError::Unknown(e.to_string())),
        Ok(Err(ReadError::NotLeader)) => Err(ClientError::NotLeader),
        Ok(Err(ReadError::Failed(e))) => Err(ClientError::Unknown(e)),
        Err(_) => Err(ClientError::Unknown(
            "leadership not confirmed in time".into(),
        )),
    }
}
