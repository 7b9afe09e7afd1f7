//! The sending side: one lazily connected channel per peer, shared by every group.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use roost_state::{Command, GroupId, Query, QueryResult, Response};
use roost_types::lease::AckClock;
use roost_types::{Node, NodeId, TypeConfig};
use tonic::transport::{Channel, Endpoint};

use crate::convert::{self, Malformed};
use crate::forwarder::{outcome, Forwarder};
use crate::pb::peer_client::PeerClient;
use crate::security::{ClusterId, PeerTls, Stamp};
use crate::{pb, ForwardError};

use crate::members::Identity;
use crate::Client;

type MembersClient = pb::members_client::MembersClient<
    tonic::service::interceptor::InterceptedService<Channel, Stamp>,
>;

/// How long a `Members` call may take: a member that does not answer by then counts as down.
const MEMBERS_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a pause of a member's outboxes may wait for the drivers' steps under way (each a
/// few writes, each bounded by the request timeout).
const PAUSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest peer message accepted, both ways. One entry of the largest allowed client body
/// must fit with room to spare.
pub(crate) const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

/// An AppendEntries batch larger than this is split: openraft sends each RPC with the
/// heartbeat interval as its timeout, so batches must stay quick to transfer and apply.
pub(crate) const TARGET_APPEND_BYTES: usize = 4 * 1024 * 1024;

/// Channels to peers, keyed by node id. Clones share the channels.
#[derive(Clone)]
pub struct PeerClients {
    /// Mutual TLS to every peer, when configured.
    tls: Option<PeerTls>,
    /// The cluster id every request carries.
    cluster: ClusterId,
    /// One channel per peer; tonic multiplexes every group's RPCs over it.
    channels: Arc<Mutex<HashMap<NodeId, (String, Channel)>>>,
    /// One batching task per (leader, group) that commands are forwarded to.
    forwarders: Arc<Mutex<HashMap<(NodeId, GroupId), Forwarder>>>,
}

type RaftRpcError<E = openraft::error::Infallible> = RPCError<NodeId, Node, RaftError<NodeId, E>>;

fn rpc_status<E: std::error::Error>(status: tonic::Status) -> RPCError<NodeId, Node, E> {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::DeadlineExceeded => {
            RPCError::Unreachable(Unreachable::new(&status))
        }
        _ => RPCError::Network(NetworkError::new(&status)),
    }
}

fn malformed<E: std::error::Error>(e: Malformed) -> RPCError<NodeId, Node, E> {
    RPCError::Network(NetworkError::new(&e))
}

impl PeerClients {
    /// No channels yet; they are made on first use, over TLS when `tls` is given.
    pub fn new(tls: Option<PeerTls>, cluster: ClusterId) -> Self {
        PeerClients {
            tls,
            cluster,
            channels: Arc::default(),
            forwarders: Arc::default(),
        }
    }

    /// The channel to `node` at `addr`, reused while the address is unchanged.
    fn channel(&self, node: NodeId, addr: &str) -> Result<Channel, tonic::Status> {
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| tonic::Status::internal("peer channel map poisoned"))?;
        if let Some((a, ch)) = channels.get(&node) {
            if a == addr {
                return Ok(ch.clone());
            }
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(1))
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5))
            .initial_connection_window_size(16 * 1024 * 1024)
            .initial_stream_window_size(4 * 1024 * 1024);
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.client_config())
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        }
        let ch = endpoint.connect_lazy();
        channels.insert(node, (addr.to_owned(), ch.clone()));
        Ok(ch)
    }

    /// The client for `node` at `addr`.
    fn client(&self, node: NodeId, addr: &str) -> Result<Client, tonic::Status> {
        Ok(
            PeerClient::with_interceptor(self.channel(node, addr)?, Stamp(self.cluster.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
    }

    /// Pauses `node`'s outbox drivers for `for_ms` (0: resumes them); the number its process
    /// picked at start. Waits for the drivers' steps under way, so it allows them the time a
    /// forwarded write may take.
    pub async fn pause_outboxes(
        &self,
        node: NodeId,
        addr: &str,
        for_ms: u64,
    ) -> Result<u64, tonic::Status> {
        let mut req = tonic::Request::new(pb::PauseOutboxesRequest { for_ms });
        req.set_timeout(PAUSE_TIMEOUT);
        let reply = self.client(node, addr)?.pause_outboxes(req).await?;
        Ok(reply.into_inner().boot)
    }

    /// The `Members` client for `node` at `addr`; its calls give up after `MEMBERS_TIMEOUT`.
    fn members(&self, node: NodeId, addr: &str) -> Result<MembersClient, tonic::Status> {
        let stamp = Stamp(self.cluster.clone());
        Ok(pb::members_client::MembersClient::with_interceptor(
            self.channel(node, addr)?,
            stamp,
        ))
    }

    /// What `node` knows that decides whether `asker` may start (see [`crate::members`]).
    pub async fn identify(
        &self,
        node: NodeId,
        addr: &str,
        asker: NodeId,
    ) -> Result<Identity, tonic::Status> {
        let mut req = tonic::Request::new(pb::IdentifyRequest { node_id: asker });
        req.set_timeout(MEMBERS_TIMEOUT);
        let reply = self.members(node, addr)?.identify(req).await?.into_inner();
        Identity::from_pb(reply).map_err(|e| tonic::Status::invalid_argument(e.0))
    }

    /// `node`'s status document (JSON).
    pub async fn status(&self, node: NodeId, addr: &str) -> Result<Vec<u8>, tonic::Status> {
        let mut req = tonic::Request::new(pb::Empty {});
        req.set_timeout(MEMBERS_TIMEOUT);
        let reply = self.members(node, addr)?.status(req).await?.into_inner();
        Ok(reply.status)
    }

    /// The network factory of one group.
    pub fn group(&self, group: GroupId) -> GroupNetwork {
        GroupNetwork {
            group,
            clients: self.clone(),
            acks: Arc::default(),
        }
    }

    async fn forward(
        &self,
        node: NodeId,
        addr: &str,
        req: pb::ForwardRequest,
    ) -> Result<pb::forward_reply::Result, ForwardError> {
        let unreachable = |message: String| ForwardError::Unreachable { node, message };
        let mut client = self
            .client(node, addr)
            .map_err(|s| unreachable(s.to_string()))?;
        let reply = client
            .forward(req)
            .await
            .map_err(|s| ForwardError::transport(node, &s))?
            .into_inner();
        outcome(reply.result)
    }

    /// Asks `node` (the group's leader) to stamp and propose `command`, in a batch with the
    /// other commands forwarded to it for `group` meanwhile (see [`crate::forwarder`]).
    pub async fn forward_command(
        &self,
        node: NodeId,
        addr: &str,
        group: GroupId,
        command: &Command,
    ) -> Result<Response, ForwardError> {
        let bytes = convert::encode(command).map_err(|e| ForwardError::Malformed(e.0))?;
        let forwarded = {
            let mut forwarders = self
                .forwarders
                .lock()
                .map_err(|_| ForwardError::Unavailable("forwarder map poisoned".into()))?;
            let forwarder = match forwarders.get(&(node, group)) {
                Some(f) if f.addr == addr => f,
                _ => {
                    let client =
                        self.client(node, addr)
                            .map_err(|s| ForwardError::Unreachable {
                                node,
                                message: s.to_string(),
                            })?;
                    let f = Forwarder::start(node, addr.to_owned(), group, client);
                    forwarders.insert((node, group), f);
                    &forwarders[&(node, group)]
                }
            };
            forwarder.forward(node, bytes)
        };
        match forwarded.await? {
            pb::forward_reply::Result::Response(b) => {
                convert::decode("response", &b).map_err(|e| ForwardError::Malformed(e.0))
            }
            _ => Err(ForwardError::Malformed(
                "unexpected reply to a command".into(),
            )),
        }
    }

    /// Asks `node` (the group's leader) to answer `query` linearizably.
    pub async fn forward_query(
        &self,
        node: NodeId,
        addr: &str,
        group: GroupId,
        query: &Query,
    ) -> Result<QueryResult, ForwardError> {
        let bytes = convert::encode(query).map_err(|e| ForwardError::Malformed(e.0))?;
        let req = pb::ForwardRequest {
            group,
            kind: Some(pb::forward_request::Kind::Query(bytes)),
        };
        match self.forward(node, addr, req).await? {
            pb::forward_reply::Result::QueryResult(b) => {
                convert::decode("query result", &b).map_err(|e| ForwardError::Malformed(e.0))
            }
            _ => Err(ForwardError::Malformed(
                "unexpected reply to a query".into(),
            )),
        }
    }
}

/// The openraft network factory of one group.
#[derive(Clone)]
pub struct GroupNetwork {
    /// The group whose RPCs this factory's connections carry.
    group: GroupId,
    /// The node's shared peer channels.
    clients: PeerClients,
    /// When peers accepted this group's AppendEntries, for the read lease.
    acks: Arc<AckClock<TypeConfig>>,
}

impl GroupNetwork {
    /// The acknowledgements this group's connections record, for `lease::linearizable`.
    pub fn acks(&self) -> Arc<AckClock<TypeConfig>> {
        Arc::clone(&self.acks)
    }
}

impl RaftNetworkFactory<TypeConfig> for GroupNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerConnection {
        PeerConnection {
            group: self.group,
            target,
            addr: node.addr.clone(),
            clients: self.clients.clone(),
            acks: Arc::clone(&self.acks),
        }
    }
}

/// One group's view of one peer.
pub struct PeerConnection {
    /// The group.
    group: GroupId,
    /// The peer's node id.
    target: NodeId,
    /// The peer's gRPC address.
    addr: String,
    /// The shared channels.
    clients: PeerClients,
    /// The group's record of accepted AppendEntries.
    acks: Arc<AckClock<TypeConfig>>,
}

impl PeerConnection {
    /// Sends one RPC. Openraft bounds every RPC with its own timeout (and reports it as a
    /// timeout, without backing off), so none is added here.
    async fn call<T, F, Fut, E>(&self, f: F) -> Result<T, RPCError<NodeId, Node, E>>
    where
        E: std::error::Error,
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let client = self
            .clients
            .client(self.target, &self.addr)
            .map_err(rpc_status)?;
        f(client)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| {
                self.clients
                    .cluster
                    .refused_by(self.target, &self.addr, &status);
                rpc_status(status)
            })
    }
}

/// For a batch over [`TARGET_APPEND_BYTES`] of more than one entry, how many leading entries
/// fit (at least one); `None` when the batch may be sent as it is. The count must make a
/// request that is not oversized itself: openraft resends the first `n` entries, and a count
/// that still does not fit would be answered with itself forever (a learner catching up on a
/// backlog stalled so). So it counts what the request costs besides its entries, and each
/// entry as it is framed in the request.
fn oversized(req: &pb::AppendEntriesRequest) -> Option<u64> {
    let whole = prost::Message::encoded_len(req);
    if req.entries.len() <= 1 || whole <= TARGET_APPEND_BYTES {
        return None;
    }
    let framed: Vec<usize> = req.entries.iter().map(framed_len).collect();
    let mut total = whole - framed.iter().sum::<usize>();
    let fits = framed
        .iter()
        .take_while(|len| {
            total += **len;
            total <= TARGET_APPEND_BYTES
        })
        .count();
    Some(fits.max(1) as u64)
}

/// The bytes `entry` takes inside an `AppendEntriesRequest`: the field's key (one byte, field
/// 4), the length, the entry.
fn framed_len(entry: &pb::Entry) -> usize {
    let len = prost::Message::encoded_len(entry);
    1 + prost::length_delimiter_len(len) + len
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RaftRpcError> {
        let req = convert::append_to_pb(self.group, &rpc).map_err(malformed)?;
        if let Some(fits) = oversized(&req) {
            let hint = PayloadTooLarge::new_entries_hint(fits);
            return Err(RPCError::PayloadTooLarge(hint));
        }
        // Taken before sending: the peer's vote refusal starts no earlier than this.
        let sent = tokio::time::Instant::now();
        let reply = self
            .call(|mut c| async move { c.append_entries(req).await })
            .await?;
        let reply = convert::append_reply_from_pb(&reply).map_err(malformed)?;
        if matches!(
            reply,
            AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_)
        ) {
            self.acks.acked(&rpc.vote, self.target, sent);
        }
        Ok(reply)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RaftRpcError<InstallSnapshotError>> {
        let req = convert::snapshot_to_pb(self.group, &rpc).map_err(malformed)?;
        let reply = self
            .call(|mut c| async move { c.install_snapshot(req).await })
            .await?;
        if let Some(m) = reply.mismatch {
            let mismatch = convert::decode("snapshot mismatch", &m).map_err(malformed)?;
            let err = RaftError::APIError(InstallSnapshotError::SnapshotMismatch(mismatch));
            return Err(RPCError::RemoteError(RemoteError::new(self.target, err)));
        }
        Ok(InstallSnapshotResponse {
            vote: convert::vote_from_pb(reply.vote.as_ref()).map_err(malformed)?,
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RaftRpcError> {
        let req = convert::vote_req_to_pb(self.group, &rpc);
        let reply = self.call(|mut c| async move { c.vote(req).await }).await?;
        convert::vote_reply_from_pb(&reply).map_err(malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(sizes: &[usize]) -> pb::AppendEntriesRequest {
        let entries = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| pb::Entry {
                log_id: Some(pb::LogId {
                    term: 3,
                    node_id: 1,
                    index: 1_000_000 + i as u64,
                }),
                payload: vec![7; *n],
            })
            .collect();
        pb::AppendEntriesRequest {
            group: 4,
            vote: Some(pb::Vote {
                term: 3,
                node_id: 1,
                committed: true,
            }),
            prev_log_id: None,
            entries,
            leader_commit: None,
        }
    }

    #[test]
    fn the_entries_that_fit_make_a_request_that_fits() {
        // Entries of a few kilobytes, as a backlog of batched publishes makes them: their
        // framing adds up to more than one more entry.
        for size in [1_000, 22_700, 23_000, 100_000] {
            let mut req = request(&vec![size; 1 + 2 * TARGET_APPEND_BYTES / size]);
            let fits = oversized(&req).expect("oversized") as usize;
            assert!(fits < req.entries.len());
            req.entries.truncate(fits);
            assert_eq!(
                oversized(&req),
                None,
                "entries of {size} bytes: {fits} still too many"
            );
        }
        assert_eq!(
            oversized(&request(&[TARGET_APPEND_BYTES * 2])),
            None,
            "one entry goes as it is"
        );
    }
}
