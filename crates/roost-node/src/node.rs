//! Starting a node, and routing writes and reads to group leaders.

use roost_state::command as cmd;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use openraft::BasicNode;
use rand::Rng;
use roost_network::{ForwardError, PeerClients, PeerHandler, PeerService};
use roost_state::{Command, GroupId, Query, QueryResult, Response, Roster, Topic, META_GROUP};
use roost_storage::Storage;
use roost_types::lease::{Lease, ReadError, Resumed};
use roost_types::{NodeId, Raft};
use tokio_util::sync::CancellationToken;

use crate::backup::Outboxes;
use crate::changes::{Changes, Subscription};
use crate::drain::Gate;
use crate::group::Group;
use crate::metrics::Metrics;
use crate::proposer::{Proposed, Proposer};
use crate::read_barrier::ReadBarrier;
use crate::refusals::Refusals;
use crate::waiters::{WaitSlot, Waiters};
use crate::{Member, NodeConfig, NodeError};

/// Streams a peer may reset before this node's peer server accepted them. HTTP/2 servers cap
/// this low (hyper: 20) against "rapid reset" floods and answer with GOAWAY
/// (`too_many_resets`), closing the connection. Between members, resets are routine: openraft
/// abandons an AppendEntries that outlives its heartbeat-sized timeout, and under a heavy
/// backlog many do. With the low cap, a loaded node tore down the connection every group
/// shares, which caused elections and writes ending as `outcome_unknown` (seen while filling
/// 10 million messages). Peers are cluster members, so the cap only needs to be finite.
const PEER_PENDING_RESETS: usize = 100_000;

/// How often each node drives the groups it leads towards the roster (see `membership`).
const MEMBERSHIP_EVERY: Duration = Duration::from_millis(500);

/// A running node. Shared (`Arc`) by the HTTP edge and the peer service.
pub struct Node {
    /// Configuration the node started with.
    config: NodeConfig,
    /// Group `g` at index `g`: the metadata group, then the shards.
    groups: Vec<Group>,
    /// Channels to peers, for forwarding.
    clients: PeerClients,
    /// The node's database, for status.
    storage: Storage,
    /// Set when the metadata group recorded another shard count than this node's config.
    layout_error: OnceLock<String>,
    /// Wakes the waiters of what each applied batch changed.
    changes: Arc<Changes>,
    /// Waiting requests per client address.
    waiters: Arc<Waiters>,
    /// Refused credentials, for rate-limited warnings from both edges.
    refusals: Refusals,
    /// Held while a form-mirroring drain runs (see `mirror::drain`).
    pub(crate) mirroring: tokio::sync::Mutex<()>,
    /// Whether peers' Raft RPCs reach the groups: not before the members let a data dir that
    /// never took part serve under this id (see `identity`).
    admitted: AtomicBool,
    /// The number this data dir picked once (see `identity`).
    incarnation: u64,
    /// Set when the members refused this data dir (see `take_part`).
    refused: OnceLock<String>,
    /// Local proposals and reads, closed when the node drains (see `drain`).
    gate: Gate,
    /// The cross-group outbox drivers' turns, paused by backups (see `backup`).
    outboxes: Outboxes,
    /// A number this process picked at start, so a backup notices a member that restarted.
    boot: u64,
    /// Where each member listens: the configuration's list, then the roster's.
    book: RwLock<BTreeMap<NodeId, Member>>,
    /// Counted events, served with the values read at scrape time (see `metrics`).
    metrics: Arc<Metrics>,
}

/// Why a node is not ready to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotReady {
    /// Some group has no known leader yet.
    NoLeader,
    /// The configured shard count differs from the one the cluster was bootstrapped with.
    LayoutMismatch(String),
}

/// What kind of operation is being routed, which decides what may be retried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A read: never changes anything, always safe to retry.
    Read,
    /// A write, retried after an unknown outcome only when repeating it is harmless.
    Write { retry_safe: bool },
}

impl Op {
    fn retry_safe(self) -> bool {
        match self {
            Op::Read => true,
            Op::Write { retry_safe } => retry_safe,
        }
    }
}

/// How a routed attempt ended.
enum Attempt<T> {
    Done(T),
    /// Definitely not applied: try again (after the leader is known).
    Retry(String),
    /// Possibly applied: retry only if the operation is safe to repeat.
    Unknown(String),
}

impl Node {
    /// Opens storage, starts every group and the peer listener, and sets off `take_part`.
    /// Returns before the groups have leaders: `ready` says when they do.
    pub async fn start(
        config: NodeConfig,
        shutdown: CancellationToken,
    ) -> Result<Arc<Node>, NodeError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir)?;
        let changes = Arc::new(Changes::default());
        let announce = Arc::clone(&changes);
        let storage = Storage::open(&config.data_dir)?
            .announce_to(Arc::new(move |topics| announce.announce(topics)));
        let raft_config = Arc::new(config.openraft()?);
        let cluster = crate::cluster_id::load(&config)?;
        let clients = PeerClients::new(config.peer_tls.clone(), cluster.clone());
        let metrics = Arc::new(Metrics::new(config.shards as usize + 1));
        let mut groups = Vec::new();
        for group in 0..=config.shards {
            let (mut log, sm) = storage.group(group)?;
            let reader = sm.reader();
            let snapshots = sm.snapshot_stats();
            let network = clients.group(group);
            let lease = Lease {
                acks: network.acks(),
                length: roost_types::lease::lease_for(&raft_config),
                resumed: Resumed::read(&mut log, &config.id)
                    .await
                    .map_err(|e| NodeError::Raft(e.to_string()))?,
            };
            let raft = Raft::new(config.id, raft_config.clone(), network, log, sm)
                .await
                .map_err(|e| NodeError::Raft(e.to_string()))?;
            let barrier =
                ReadBarrier::start(raft.clone(), config.request_timeout, lease, metrics.clone());
            let proposer = Proposer::start(raft.clone(), group, metrics.clone());
            tokio::spawn(crate::metrics::watch_leaders(
                group,
                raft.clone(),
                metrics.clone(),
                shutdown.clone(),
            ));
            groups.push(Group {
                raft,
                reader,
                barrier,
                proposer,
                snapshots,
            });
        }
        let known = crate::identity::load(&config.data_dir)?;
        let mut held = BTreeSet::new();
        for (g, group) in groups.iter().enumerate() {
            let initialized = group.raft.is_initialized().await;
            if initialized.map_err(|e| NodeError::Raft(e.to_string()))? {
                held.insert(g as GroupId);
            }
        }
        let cleared = known.is_some() || !held.is_empty();
        let node = Arc::new(Node {
            book: RwLock::new(config.members.clone()),
            incarnation: known.unwrap_or_else(crate::identity::pick),
            admitted: AtomicBool::new(cleared),
            refused: OnceLock::new(),
            gate: Gate::default(),
            outboxes: Outboxes::default(),
            boot: rand::rng().random(),
            config,
            groups,
            clients,
            storage,
            layout_error: OnceLock::new(),
            changes,
            waiters: Arc::default(),
            refusals: Refusals::default(),
            mirroring: tokio::sync::Mutex::new(()),
            metrics,
        });
        node.serve_peers(cluster, shutdown.clone()).await?;
        let every = node.config.tick_interval;
        tokio::spawn(crate::webhooks::run(node.clone(), every, shutdown.clone()));
        tokio::spawn(crate::ticker::run(node.clone(), every, shutdown.clone()));
        tokio::spawn(node.clone().take_part(known.is_some(), held, shutdown));
        Ok(node)
    }

    /// Clears a data dir that never took part with the other members (see `identity`),
    /// bootstraps the designated groups no member holds, then keeps the groups' membership
    /// in step with the roster. A refused start stops the node: `refused` says why.
    async fn take_part(
        self: Arc<Self>,
        known: bool,
        held: BTreeSet<GroupId>,
        shutdown: CancellationToken,
    ) {
        let cleared = self.admitted.load(Ordering::Acquire);
        let designated = self.designated(&held);
        let answers = if !cleared || !designated.is_empty() {
            let members: Vec<(NodeId, Member)> = self.config.members.clone().into_iter().collect();
            match crate::identity::ask(self.config.id, &members, &self.clients, &shutdown).await {
                Ok(answers) => answers,
                Err(_) => return,
            }
        } else {
            Vec::new()
        };
        let judged = if cleared {
            Ok(())
        } else {
            crate::identity::judge(self.config.id, self.config.joining, &answers)
        };
        let kept = match judged {
            Ok(()) if !known => crate::identity::keep(&self.config.data_dir, self.incarnation)
                .map_err(|e| format!("keeping this data dir's incarnation: {e}")),
            other => other,
        };
        if let Err(why) = kept {
            tracing::error!("{why}");
            let _ = self.refused.set(why);
            shutdown.cancel();
            return;
        }
        self.admitted.store(true, Ordering::Release);
        let held = crate::identity::held_elsewhere(&answers);
        self.bootstrap(designated.difference(&held)).await;
        tokio::spawn(self.clone().check_layout(shutdown.clone()));
        crate::membership::run(self, MEMBERSHIP_EVERY, shutdown).await;
    }

    /// Why the members refused to let this data dir serve under its node id, if they did
    /// (the node then stops).
    pub fn refused(&self) -> Option<&str> {
        self.refused.get().map(String::as_str)
    }

    async fn serve_peers(
        self: &Arc<Self>,
        cluster: roost_network::ClusterId,
        shutdown: CancellationToken,
    ) -> Result<(), NodeError> {
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &self.config.peer_tls {
            builder = builder
                .tls_config(tls.server_config())
                .map_err(|e| NodeError::Config(format!("peer_tls: {e}")))?;
        }
        let listener = tokio::net::TcpListener::bind(&self.config.peer_listen).await?;
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let service = PeerService::server(self.clone(), cluster);
        let members = roost_network::MembersService::server(self.clone());
        tokio::spawn(async move {
            let served = builder
                .http2_max_pending_accept_reset_streams(Some(PEER_PENDING_RESETS))
                .add_service(service)
                .add_service(members)
                .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "peer listener failed");
            }
        });
        Ok(())
    }

    /// The groups this node is the designated initializer of that hold no log here (`held`
    /// holds the others): group `g` is initialized by the `g mod n`-th configured member,
    /// which also makes it the group's first leader and so spreads shard leaders over the
    /// nodes. A joining node initializes nothing.
    fn designated(&self, held: &BTreeSet<GroupId>) -> BTreeSet<GroupId> {
        if self.config.joining {
            return BTreeSet::new();
        }
        let ids: Vec<NodeId> = self.config.members.keys().copied().collect();
        (0..=self.config.shards)
            .filter(|g| ids[*g as usize % ids.len()] == self.config.id && !held.contains(g))
            .collect()
    }

    /// Initializes `groups` with the configured members.
    async fn bootstrap(&self, groups: impl Iterator<Item = &GroupId>) {
        let members: BTreeMap<NodeId, BasicNode> = self
            .config
            .members
            .iter()
            .map(|(id, m)| (*id, BasicNode::new(&m.peer_addr)))
            .collect();
        for g in groups {
            let Some(group) = self.groups.get(*g as usize) else {
                continue;
            };
            tracing::info!(group = g, "initializing group");
            if let Err(e) = group.raft.initialize(members.clone()).await {
                // Another start already did it; the group's log says what is true.
                tracing::warn!(group = g, error = %e, "initialize refused");
            }
        }
    }

    /// Records this node's shard count in the metadata group (the first record wins) and flags
    /// a mismatch, which would route queues to the wrong groups.
    async fn check_layout(self: Arc<Self>, shutdown: CancellationToken) {
        let shards = self.config.shards;
        loop {
            let attempt = self.write(META_GROUP, Command::InitLayout(cmd::InitLayout { shards }));
            let result = tokio::select! {
                r = attempt => r,
                _ = shutdown.cancelled() => return,
            };
            match result {
                Ok(Response::Layout { shards: recorded }) if recorded == shards => return,
                Ok(Response::Layout { shards: recorded }) => {
                    let msg = format!(
                        "shards: configured {shards} but the cluster was bootstrapped with {recorded}"
                    );
                    tracing::error!("{msg}");
                    let _ = self.layout_error.set(msg);
                    return;
                }
                Ok(other) => {
                    tracing::error!(?other, "unexpected layout response");
                    return;
                }
                Err(e) => tracing::debug!(error = %e, "layout not recorded yet"),
            }
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Number of shard groups.
    pub fn shards(&self) -> u32 {
        self.config.shards
    }

    /// A shard for a new queue, spread uniformly.
    pub fn pick_shard(&self) -> GroupId {
        rand::rng().random_range(1..=self.config.shards)
    }

    /// Mirrors pending form submissions of `group` now (after a submission), in the background.
    pub fn mirror_soon(self: &Arc<Self>, group: GroupId) {
        let node = self.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::mirror::drain(&node, group).await {
                tracing::debug!(group, error = %e, "form mirroring will retry at the next tick");
            }
        });
    }

    /// Drains publishes held by quotas of upgraded accounts now, in the background.
    pub fn drain_held_soon(self: &Arc<Self>) {
        let node = self.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::quota_drain::drain(&node).await {
                tracing::debug!(error = %e, "held publishes will drain at the next tick");
            }
        });
    }

    /// Whether this node currently leads `group`.
    pub fn leads(&self, group: GroupId) -> bool {
        self.group(group)
            .map(|g| g.raft.metrics().borrow().current_leader == Some(self.config.id))
            .unwrap_or(false)
    }

    /// Subscribes to changes of `topic` applied on this node. Subscribe before reading, then
    /// wait on the subscription if the read found nothing, so no change falls in between.
    pub fn subscribe(&self, topic: Topic) -> Subscription {
        self.changes.subscribe(topic)
    }

    /// A place for a request of client `ip` about to wait; `None` when that address already
    /// has `max_waiters_per_client` waiting.
    pub fn wait_slot(&self, ip: std::net::IpAddr) -> Option<WaitSlot> {
        self.waiters.enter(ip, self.config.max_waiters_per_client)
    }

    /// The node's counted events; the edges record their requests here.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Where the edges report refused credentials.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    fn group(&self, group: GroupId) -> Result<&Group, NodeError> {
        self.groups
            .get(group as usize)
            .ok_or(NodeError::NoSuchGroup(group))
    }

    fn leader_addr(&self, leader: NodeId) -> Option<String> {
        let book = self.book.read().ok()?;
        book.get(&leader).map(|m| m.peer_addr.clone())
    }

    /// The roster as this node's metadata group applied it.
    pub(crate) fn local_roster(&self) -> Roster {
        self.groups
            .get(META_GROUP as usize)
            .map(|g| g.reader.roster())
            .unwrap_or_default()
    }

    /// Takes the roster's addresses into the address book (this node keeps its own).
    pub(crate) fn learn_addresses(&self, roster: &Roster) {
        if roster.members.is_empty() {
            return;
        }
        let mut learnt: BTreeMap<NodeId, Member> = roster
            .members
            .iter()
            .map(|(id, m)| {
                let member = Member {
                    peer_addr: m.peer_addr.clone(),
                    http_addr: m.http_addr.clone(),
                };
                (*id, member)
            })
            .collect();
        if let Some(me) = self.config.members.get(&self.config.id) {
            learnt.insert(self.config.id, me.clone());
        }
        if let Ok(mut book) = self.book.write() {
            if *book != learnt {
                tracing::info!(members = ?learnt.keys().collect::<Vec<_>>(), "members");
                *book = learnt;
            }
        }
    }

    /// Every member this node knows of, with its addresses.
    pub fn members(&self) -> BTreeMap<NodeId, Member> {
        self.book.read().map(|b| b.clone()).unwrap_or_default()
    }

    /// Channels to the other members.
    pub(crate) fn clients(&self) -> &PeerClients {
        &self.clients
    }

    /// Local proposals and reads (see `drain`).
    pub(crate) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The outbox drivers' turns (see `backup`).
    pub(crate) fn outboxes(&self) -> &Outboxes {
        &self.outboxes
    }

    /// Pauses this node's outbox drivers for `span` (zero resumes them) once the steps under
    /// way finished; this process's number.
    pub(crate) async fn pause_outboxes_here(&self, span: Duration) -> u64 {
        self.outboxes.pause(span).await;
        self.boot
    }

    /// The database, for backups.
    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The last index `group` applied here.
    pub(crate) fn applied_index(&self, group: GroupId) -> Option<u64> {
        self.groups.get(group as usize)?.reader.applied_index()
    }

    /// `group`'s clock as applied here.
    pub(crate) fn clock_ms(&self, group: GroupId) -> u64 {
        self.groups
            .get(group as usize)
            .map_or(0, |g| g.reader.clock_ms())
    }

    /// The number this data dir picked once (see `identity`).
    pub(crate) fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Every local group, the metadata group first.
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Requests waiting on this node for a change.
    pub(crate) fn waiting(&self) -> usize {
        self.changes.waiters()
    }

    /// The local Raft of `group`.
    pub(crate) fn raft_of(&self, group: GroupId) -> Option<Raft> {
        self.groups.get(group as usize).map(|g| g.raft.clone())
    }

    /// Applies `command` in `group` wherever its leader is.
    pub async fn write(&self, group: GroupId, command: Command) -> Result<Response, NodeError> {
        let g = self.group(group)?;
        let op = Op::Write {
            retry_safe: command.is_retry_safe(),
        };
        self.route(g, op, |leader| {
            let command = command.clone();
            async move {
                if leader == self.config.id {
                    crate::forwards::note_local();
                    return self.propose_local(g, command).await;
                }
                crate::forwards::note_forward(leader);
                let Some(addr) = self.leader_addr(leader) else {
                    return Attempt::Retry(format!("leader {leader} is not a configured member"));
                };
                match self
                    .clients
                    .forward_command(leader, &addr, group, &command)
                    .await
                {
                    Ok(r) => Attempt::Done(r),
                    Err(ForwardError::NotLeader { .. }) => Attempt::Retry("leader moved".into()),
                    Err(e @ ForwardError::NotSent { .. }) => Attempt::Retry(e.to_string()),
                    Err(e) => Attempt::Unknown(e.to_string()),
                }
            }
        })
        .await
    }

    /// Answers `query` from what this node has applied of `group`, without asking the leader:
    /// possibly behind it. Only for a hint a linearizable step checks afterwards (a claim
    /// proposed because a job looked due here takes nothing if it was not).
    pub fn read_applied(&self, group: GroupId, query: &Query) -> Result<QueryResult, NodeError> {
        let g = self.group(group)?;
        g.reader
            .query(query)
            .map_err(|e| NodeError::Unexpected(e.to_string()))
    }

    /// Answers `query` from `group`'s leader, linearizably.
    pub async fn read(&self, group: GroupId, query: Query) -> Result<QueryResult, NodeError> {
        let g = self.group(group)?;
        self.route(g, Op::Read, |leader| {
            let query = query.clone();
            async move {
                if leader == self.config.id {
                    crate::forwards::note_local();
                    return self.read_local(g, &query).await;
                }
                crate::forwards::note_forward(leader);
                let Some(addr) = self.leader_addr(leader) else {
                    return Attempt::Retry(format!("leader {leader} is not a configured member"));
                };
                match self
                    .clients
                    .forward_query(leader, &addr, group, &query)
                    .await
                {
                    Ok(r) => Attempt::Done(r),
                    Err(ForwardError::NotLeader { .. }) => Attempt::Retry("leader moved".into()),
                    Err(e @ ForwardError::NotSent { .. }) => Attempt::Retry(e.to_string()),
                    Err(e) => Attempt::Unknown(e.to_string()),
                }
            }
        })
        .await
    }

    /// Runs `attempt` against the group's current leader until it succeeds, the request
    /// timeout passes, or an attempt ends in an unknown outcome for an unsafe operation. Each
    /// attempt is bounded by what is left of the timeout, so a leader that lost its quorum
    /// cannot hold a request forever.
    async fn route<T, F, Fut>(&self, g: &Group, op: Op, attempt: F) -> Result<T, NodeError>
    where
        F: Fn(NodeId) -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        if let Some(e) = self.layout_error.get() {
            return Err(NodeError::Unavailable(e.clone()));
        }
        let deadline = Instant::now() + self.config.request_timeout;
        let mut last = String::from("no leader elected yet");
        // A write that may have been applied by some attempt must not end as "unavailable"
        // (which promises nothing happened), even if later attempts were refused.
        let mut uncertain = false;
        let mut pause = Duration::from_millis(10);
        loop {
            let leader = g.raft.metrics().borrow().current_leader;
            if let Some(leader) = leader {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, attempt(leader)).await {
                    Ok(Attempt::Done(v)) => return Ok(v),
                    Ok(Attempt::Retry(why)) => last = why,
                    Ok(Attempt::Unknown(why)) if op.retry_safe() => {
                        uncertain = op != Op::Read;
                        last = why;
                    }
                    Ok(Attempt::Unknown(why)) => return Err(NodeError::Indeterminate(why)),
                    Err(_) if op == Op::Read => last = "timed out waiting for the leader".into(),
                    Err(_) => {
                        return Err(NodeError::Indeterminate(
                            "timed out waiting for the write to commit".into(),
                        ))
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(if uncertain {
                    NodeError::Indeterminate(last)
                } else {
                    NodeError::Unavailable(last)
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    async fn propose_local(&self, g: &Group, command: Command) -> Attempt<Response> {
        let Some(_pass) = self.gate.enter() else {
            return Attempt::Retry("this node is stopping".into());
        };
        match g.proposer.propose(command).await {
            Proposed::Applied(r) => Attempt::Done(*r),
            Proposed::NotCommitted(why) => Attempt::Retry(why),
            Proposed::Unknown(why) => Attempt::Unknown(why),
        }
    }

    async fn read_local(&self, g: &Group, query: &Query) -> Attempt<QueryResult> {
        let Some(_pass) = self.gate.enter() else {
            return Attempt::Retry("this node is stopping".into());
        };
        match g.barrier.wait().await {
            Ok(()) => match g.reader.query(query) {
                Ok(r) => {
                    self.metrics.answered(&r);
                    Attempt::Done(r)
                }
                Err(e) => Attempt::Unknown(e.to_string()),
            },
            Err(ReadError::NotLeader) => Attempt::Retry("leader moved".into()),
            Err(ReadError::Failed(e)) => Attempt::Unknown(e),
        }
    }

    /// Ready once every group has a leader this node knows of and the layout matches.
    pub fn ready(&self) -> Result<(), NotReady> {
        if let Some(e) = self.layout_error.get() {
            return Err(NotReady::LayoutMismatch(e.clone()));
        }
        let all_led = self
            .groups
            .iter()
            .all(|g| g.raft.metrics().borrow().current_leader.is_some());
        if all_led {
            Ok(())
        } else {
            Err(NotReady::NoLeader)
        }
    }

    /// Stops every group's Raft. The peer listener stops with the shutdown token.
    pub async fn shutdown(&self) {
        for g in &self.groups {
            if let Err(e) = g.raft.shutdown().await {
                tracing::warn!(error = %e, "raft shutdown");
            }
        }
    }
}

impl PeerHandler for Node {
    fn raft(&self, group: GroupId) -> Option<Raft> {
        if !self.admitted.load(Ordering::Acquire) {
            return None;
        }
        self.raft_of(group)
    }

    async fn forward_command(
        &self,
        group: GroupId,
        command: Command,
    ) -> Result<Response, ForwardError> {
        let g = self
            .group(group)
            .map_err(|e| ForwardError::Unavailable(e.to_string()))?;
        let leader = g.raft.metrics().borrow().current_leader;
        if leader != Some(self.config.id) {
            return Err(ForwardError::NotLeader { leader });
        }
        let attempt =
            tokio::time::timeout(self.config.request_timeout, self.propose_local(g, command));
        match attempt.await {
            Ok(Attempt::Done(r)) => Ok(r),
            Ok(Attempt::Retry(_)) => Err(ForwardError::NotLeader {
                leader: g.raft.metrics().borrow().current_leader,
            }),
            Ok(Attempt::Unknown(e)) => Err(ForwardError::Unavailable(e)),
            Err(_) => Err(ForwardError::Unavailable(
                "timed out waiting for commit".into(),
            )),
        }
    }

    async fn forward_query(
        &self,
        group: GroupId,
        query: Query,
    ) -> Result<QueryResult, ForwardError> {
        let g = self
            .group(group)
            .map_err(|e| ForwardError::Unavailable(e.to_string()))?;
        match self.read_local(g, &query).await {
            Attempt::Done(r) => Ok(r),
            Attempt::Retry(_) => Err(ForwardError::NotLeader {
                leader: g.raft.metrics().borrow().current_leader,
            }),
            Attempt::Unknown(e) => Err(ForwardError::Unavailable(e)),
        }
    }

    async fn pause_outboxes(&self, for_ms: u64) -> u64 {
        self.pause_outboxes_here(Duration::from_millis(for_ms))
            .await
    }
}

impl roost_network::MembersHandler for Node {
    fn roster(&self) -> Roster {
        self.local_roster()
    }

    fn initialized(&self) -> Vec<GroupId> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                let m = g.raft.metrics().borrow().clone();
                m.membership_config
                    .membership()
                    .voter_ids()
                    .next()
                    .is_some()
            })
            .map(|(i, _)| i as GroupId)
            .collect()
    }

    fn status_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.status()).unwrap_or_default()
    }
}
