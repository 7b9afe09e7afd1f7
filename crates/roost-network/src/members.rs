//! The `Members` service: what a node knows about who is who, asked by a node before it takes
//! part in any group (to tell a first start from a wiped disk) and by operators' calls (which
//! members answer, and how far behind each is).
//!
//! Unlike the `Peer` service it admits callers without a cluster id: a node with an empty data
//! dir has none yet. It only reads, and mutual TLS still decides who may connect.

use std::sync::Arc;

use roost_state::{GroupId, Roster};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::pb;

/// What the node provides to answer.
pub trait MembersHandler: Send + Sync + 'static {
    /// The roster this node's metadata group applied.
    fn roster(&self) -> Roster;
    /// Groups this node holds any log or snapshot of.
    fn initialized(&self) -> Vec<GroupId>;
    /// This node's status document, as JSON.
    fn status_json(&self) -> Vec<u8>;
}

/// The `Members` gRPC service of a node.
pub struct MembersService<H> {
    handler: Arc<H>,
}

/// Admits callers of a protocol version this build speaks.
#[derive(Clone)]
pub struct AdmitProtocol;

impl tonic::service::Interceptor for AdmitProtocol {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        crate::protocol::admit(&req)?;
        Ok(req)
    }
}

impl<H: MembersHandler> MembersService<H> {
    /// The tonic service answering for `handler`.
    pub fn server(
        handler: Arc<H>,
    ) -> InterceptedService<pb::members_server::MembersServer<Self>, AdmitProtocol> {
        let server = pb::members_server::MembersServer::new(MembersService { handler });
        InterceptedService::new(server, AdmitProtocol)
    }
}

#[tonic::async_trait]
impl<H: MembersHandler> pb::members_server::Members for MembersService<H> {
    async fn identify(
        &self,
        _req: Request<pb::IdentifyRequest>,
    ) -> Result<Response<pb::IdentifyReply>, Status> {
        let roster = self.handler.roster();
        let roster = if roster.is_empty() {
            Vec::new()
        } else {
            convert::encode(&roster).map_err(|e| Status::internal(e.0))?
        };
        Ok(Response::new(pb::IdentifyReply {
            roster,
            initialized: self.handler.initialized(),
        }))
    }

    async fn status(&self, _req: Request<pb::Empty>) -> Result<Response<pb::StatusReply>, Status> {
        Ok(Response::new(pb::StatusReply {
            status: self.handler.status_json(),
        }))
    }
}

/// What a node said in answer to `Identify`.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// The roster it applied (empty: none recorded).
    pub roster: Roster,
    /// Groups it holds a log of.
    pub initialized: Vec<GroupId>,
}

impl Identity {
    pub(crate) fn from_pb(reply: pb::IdentifyReply) -> Result<Identity, convert::Malformed> {
        let roster = if reply.roster.is_empty() {
            Roster::default()
        } else {
            convert::decode("roster", &reply.roster)?
        };
        Ok(Identity {
            roster,
            initialized: reply.initialized,
        })
    }
}
