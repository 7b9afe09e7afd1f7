//! The receiving side: routes each peer RPC to its group's Raft or to the node.

use std::future::Future;
use std::sync::Arc;

use openraft::error::{InstallSnapshotError, RaftError};
use roost_state::{Command, GroupId, Query, QueryResult, Response};
use roost_types::Raft;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request as GrpcRequest, Response as GrpcResponse, Status};

use crate::client::MAX_MESSAGE_BYTES;
use crate::convert::{self, Malformed};
use crate::security::{Admit, ClusterId};
use crate::{pb, ForwardError};

/// What the node provides to serve peers.
pub trait PeerHandler: Send + Sync + 'static {
    /// The local Raft instance of `group`, if this node runs it.
    fn raft(&self, group: GroupId) -> Option<Raft>;
    /// Stamps and proposes a command a follower forwarded; this node should lead the group.
    fn forward_command(
        &self,
        group: GroupId,
        command: Command,
    ) -> impl Future<Output = Result<Response, ForwardError>> + Send;
    /// Answers a read a follower forwarded; this node should lead the group.
    fn forward_query(
        &self,
        group: GroupId,
        query: Query,
    ) -> impl Future<Output = Result<QueryResult, ForwardError>> + Send;
    /// Pauses this node's outbox drivers for `for_ms` (0: resumes them) once the steps under
    /// way finished; returns the number this process picked at start.
    fn pause_outboxes(&self, for_ms: u64) -> impl Future<Output = u64> + Send;
}

/// The peer gRPC service of a node.
pub struct PeerService<H> {
    /// The node.
    handler: Arc<H>,
}

impl<H: PeerHandler> PeerService<H> {
    /// A tonic service serving `handler`'s groups to members of `cluster` only.
    pub fn server(
        handler: Arc<H>,
        cluster: ClusterId,
    ) -> InterceptedService<pb::peer_server::PeerServer<Self>, Admit> {
        let server = pb::peer_server::PeerServer::new(PeerService { handler })
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        InterceptedService::new(server, Admit(cluster))
    }

    fn raft(&self, group: GroupId) -> Result<roost_types::Raft, Status> {
        self.handler
            .raft(group)
            .ok_or_else(|| Status::not_found(format!("no raft group {group} on this node")))
    }
}

fn bad(e: Malformed) -> Status {
    Status::invalid_argument(e.0)
}

fn fatal<E: std::fmt::Display>(e: E) -> Status {
    // The local Raft stopped (shutdown or storage failure): the sender backs off and retries.
    Status::unavailable(e.to_string())
}

#[tonic::async_trait]
impl<H: PeerHandler> pb::peer_server::Peer for PeerService<H> {
    async fn append_entries(
        &self,
        req: GrpcRequest<pb::AppendEntriesRequest>,
    ) -> Result<GrpcResponse<pb::AppendEntriesReply>, Status> {
        let req = req.into_inner();
        let raft = self.raft(req.group)?;
        let rpc = convert::append_from_pb(&req).map_err(bad)?;
        let reply = raft.append_entries(rpc).await.map_err(fatal)?;
        Ok(GrpcResponse::new(convert::append_reply_to_pb(&reply)))
    }

    async fn vote(
        &self,
        req: GrpcRequest<pb::VoteRequest>,
    ) -> Result<GrpcResponse<pb::VoteReply>, Status> {
        let req = req.into_inner();
        let raft = self.raft(req.group)?;
        let rpc = convert::vote_req_from_pb(&req).map_err(bad)?;
        let reply = raft.vote(rpc).await.map_err(fatal)?;
        Ok(GrpcResponse::new(convert::vote_reply_to_pb(&reply)))
    }

    async fn install_snapshot(
        &self,
        req: GrpcRequest<pb::InstallSnapshotRequest>,
    ) -> Result<GrpcResponse<pb::InstallSnapshotReply>, Status> {
        let req = req.into_inner();
        let raft = self.raft(req.group)?;
        let rpc = convert::snapshot_from_pb(req).map_err(bad)?;
        match raft.install_snapshot(rpc).await {
            Ok(reply) => Ok(GrpcResponse::new(pb::InstallSnapshotReply {
                vote: Some(convert::vote_to_pb(&reply.vote)),
                mismatch: None,
            })),
            Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(m))) => {
                Ok(GrpcResponse::new(pb::InstallSnapshotReply {
                    vote: None,
                    mismatch: Some(convert::encode(&m).map_err(bad)?),
                }))
            }
            Err(e) => Err(fatal(e)),
        }
    }

    async fn forward(
        &self,
        req: GrpcRequest<pb::ForwardRequest>,
    ) -> Result<GrpcResponse<pb::ForwardReply>, Status> {
        use pb::forward_reply::Result as R;
        let req = req.into_inner();
        let result = match req.kind {
            Some(pb::forward_request::Kind::Command(b)) => {
                let command: Command = convert::decode("command", &b).map_err(bad)?;
                self.handler
                    .forward_command(req.group, command)
                    .await
                    .and_then(|r| convert::encode(&r).map_err(|e| ForwardError::Malformed(e.0)))
                    .map(R::Response)
            }
            Some(pb::forward_request::Kind::Query(b)) => {
                let query: Query = convert::decode("query", &b).map_err(bad)?;
                self.handler
                    .forward_query(req.group, query)
                    .await
                    .and_then(|r| convert::encode(&r).map_err(|e| ForwardError::Malformed(e.0)))
                    .map(R::QueryResult)
            }
            None => return Err(Status::invalid_argument("forward request without a kind")),
        };
        Ok(GrpcResponse::new(forward_reply(result)))
    }

    async fn forward_batch(
        &self,
        req: GrpcRequest<pb::ForwardBatchRequest>,
    ) -> Result<GrpcResponse<pb::ForwardBatchReply>, Status> {
        let req = req.into_inner();
        let commands = req
            .commands
            .iter()
            .map(|b| convert::decode::<Command>("command", b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        // Started in order, so the proposer queues them in the order they were forwarded.
        let replies = futures::future::join_all(commands.into_iter().map(|command| async move {
            let result = self
                .handler
                .forward_command(req.group, command)
                .await
                .and_then(|r| convert::encode(&r).map_err(|e| ForwardError::Malformed(e.0)))
                .map(pb::forward_reply::Result::Response);
            forward_reply(result)
        }))
        .await;
        Ok(GrpcResponse::new(pb::ForwardBatchReply { replies }))
    }

    async fn pause_outboxes(
        &self,
        req: GrpcRequest<pb::PauseOutboxesRequest>,
    ) -> Result<GrpcResponse<pb::PauseOutboxesReply>, Status> {
        let boot = self.handler.pause_outboxes(req.into_inner().for_ms).await;
        Ok(GrpcResponse::new(pb::PauseOutboxesReply { boot }))
    }
}

/// The reply to one forwarded request: its result, or why the leader could not serve it.
fn forward_reply(result: Result<pb::forward_reply::Result, ForwardError>) -> pb::ForwardReply {
    use pb::forward_reply::Result as R;
    let result = match result {
        Ok(r) => r,
        Err(ForwardError::NotLeader { leader }) => R::NotLeader(pb::NotLeader { leader }),
        Err(e) => R::Unavailable(e.to_string()),
    };
    pb::ForwardReply {
        result: Some(result),
    }
}
