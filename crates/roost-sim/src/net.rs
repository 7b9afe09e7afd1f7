//! The simulated wire: one request and one reply per connection over turmoil's TCP, framed as
//! a length and a JSON document. Raft's RPCs travel this way between nodes, and clients' reads
//! and writes to nodes, so partitions and crashes cut both.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use roost_state::{Command, Query, QueryResult, Response};
use roost_types::lease::AckClock;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::TcpStream;

use crate::{NodeId, SimConfig};

/// The port every node listens on.
pub const PORT: u16 = 7180;
/// Largest frame accepted (a snapshot of a simulation run fits easily).
const MAX_FRAME: usize = 64 << 20;

/// The host name of node `id`.
pub fn host(id: NodeId) -> String {
    format!("n{id}")
}

/// A request to a node.
#[derive(Debug, Serialize, Deserialize)]
pub enum Rpc {
    /// Raft: replicate entries.
    Append(AppendEntriesRequest<SimConfig>),
    /// Raft: ask for a vote.
    Vote(VoteRequest<NodeId>),
    /// Raft: a snapshot chunk.
    Snapshot(InstallSnapshotRequest<SimConfig>),
    /// A client's command, applied through the leader.
    Write(Command),
    /// A client's linearizable read on the leader.
    Read(Query),
}

/// Why a client request failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ClientError {
    /// This node does not lead: nothing was proposed.
    #[error("not the leader")]
    NotLeader,
    /// The outcome is unknown (the proposal may still commit).
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// A node's answer.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// To [`Rpc::Append`].
    Append(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// To [`Rpc::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// To [`Rpc::Snapshot`].
    Snapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    /// To [`Rpc::Write`].
    Written(Result<Response, ClientError>),
    /// To [`Rpc::Read`].
    Read(Result<QueryResult, ClientError>),
}

/// A connection or framing failure: the other side is unreachable for now.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Connecting, reading or writing failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The frame was not a document of the expected type.
    #[error("bad frame: {0}")]
    Frame(#[from] serde_json::Error),
    /// The frame's length is beyond [`MAX_FRAME`].
    #[error("frame of {0} bytes is too large")]
    TooLarge(usize),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The answer does not match the request.
    #[error("mismatched reply")]
    Mismatched,
}

/// Writes one frame.
pub async fn write_frame<T: Serialize>(s: &mut TcpStream, msg: &T) -> Result<(), WireError> {
    let body = serde_json::to_vec(msg)?;
    let len = u32::try_from(body.len()).map_err(|_| WireError::TooLarge(body.len()))?;
    s.write_all(&len.to_be_bytes()).await?;
    s.write_all(&body).await?;
    s.flush().await?;
    Ok(())
}

/// Reads one frame.
pub async fn read_frame<T: DeserializeOwned>(s: &mut TcpStream) -> Result<T, WireError> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

/// Sends `rpc` to `to` and waits up to `ttl` for the reply.
pub async fn call(to: &str, rpc: &Rpc, ttl: Duration) -> Result<Reply, WireError> {
    let exchange = async {
        let mut s = TcpStream::connect((to, PORT)).await?;
        write_frame(&mut s, rpc).await?;
        read_frame(&mut s).await
    };
    tokio::time::timeout(ttl, exchange)
        .await
        .map_err(|_| WireError::Timeout)?
}

/// Makes a [`Peer`] per target.
#[derive(Clone, Default)]
pub struct Network {
    /// When peers accepted this node's AppendEntries, for the read lease.
    pub acks: Arc<AckClock<SimConfig>>,
}

impl RaftNetworkFactory<SimConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, _node: &openraft::BasicNode) -> Peer {
        Peer {
            target,
            acks: Arc::clone(&self.acks),
        }
    }
}

/// Raft's client of one peer.
pub struct Peer {
    /// The peer.
    target: NodeId,
    /// The node's record of accepted AppendEntries.
    acks: Arc<AckClock<SimConfig>>,
}

/// An RPC failure as openraft wants it: remote refusals as such, the rest unreachable (so it
/// backs off).
type PeerError<E = openraft::error::Infallible> =
    RPCError<NodeId, openraft::BasicNode, RaftError<NodeId, E>>;

impl Peer {
    async fn send(&self, rpc: Rpc, option: &RPCOption) -> Result<Reply, WireError> {
        call(&host(self.target), &rpc, option.hard_ttl()).await
    }

    fn remote<T, E: std::error::Error>(
        &self,
        r: Result<T, RaftError<NodeId, E>>,
    ) -> Result<T, PeerError<E>> {
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

fn unreachable<E: std::error::Error>(e: WireError) -> PeerError<E> {
    RPCError::Unreachable(Unreachable::new(&e))
}

impl RaftNetwork<SimConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<SimConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, PeerError> {
        let (vote, sent) = (rpc.vote, tokio::time::Instant::now());
        match self.send(Rpc::Append(rpc), &option).await {
            Ok(Reply::Append(r)) => {
                if let Ok(
                    AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_),
                ) = &r
                {
                    self.acks.acked(&vote, self.target, sent);
                }
                self.remote(r)
            }
            Ok(_) => Err(unreachable(WireError::Mismatched)),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<SimConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, PeerError<InstallSnapshotError>> {
        match self.send(Rpc::Snapshot(rpc), &option).await {
            Ok(Reply::Snapshot(r)) => self.remote(r),
            Ok(_) => Err(unreachable(WireError::Mismatched)),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, PeerError> {
        match self.send(Rpc::Vote(rpc), &option).await {
            Ok(Reply::Vote(r)) => self.remote(r),
            Ok(_) => Err(unreachable(WireError::Mismatched)),
            Err(e) => Err(unreachable(e)),
        }
    }
}
