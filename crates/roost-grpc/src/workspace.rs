//! Workspace-scoped calls (jobs, work queues): the caller from its workspace token, and the
//! routing of every command and read to the one shard that holds the workspace.

use std::sync::Arc;

use roost_auth::{Claims, Verifier};
use roost_node::Node;
use roost_state::{ids, Command, GroupId, Query, QueryResult, Response};
use tonic::{Request, Status};

use crate::credentials::bearer;
use crate::status::{failed, invalid, refused};

/// What the jobs and work-queue services share.
#[derive(Clone)]
pub struct Workspaces {
    /// The node requests are routed through.
    pub(crate) node: Arc<Node>,
    /// Checks workspace tokens; `None` refuses every call (no key configured).
    tokens: Option<Verifier>,
    /// Largest JSON document (payload, result) accepted, as over HTTP.
    max_payload: usize,
}

impl Workspaces {
    /// Workspace calls through `node`, checked by `tokens`, with documents of at most
    /// `max_payload` bytes.
    pub fn new(node: Arc<Node>, tokens: Option<Verifier>, max_payload: usize) -> Self {
        Workspaces {
            node,
            tokens,
            max_payload,
        }
    }

    /// The caller's claims, from the `authorization: Bearer <jwt>` metadata.
    pub(crate) fn caller<T>(&self, req: &Request<T>) -> Result<Claims, Status> {
        let rejected = |why: &str| Status::unauthenticated(format!("invalid_token: {why}"));
        let tokens = self
            .tokens
            .as_ref()
            .ok_or_else(|| rejected("workspace tokens are not configured"))?;
        let token = bearer(req).ok_or_else(|| rejected("missing bearer token"))?;
        tokens.caller(token).map_err(|e| rejected(&e.0))
    }

    /// The shard holding `workspace`.
    pub(crate) fn shard(&self, workspace: &str) -> GroupId {
        ids::workspace_shard(workspace, self.node.shards())
    }

    /// Applies `command` in `workspace`'s shard; a refusal becomes its status.
    pub(crate) async fn write(
        &self,
        workspace: &str,
        command: Command,
    ) -> Result<Response, Status> {
        match self.node.write(self.shard(workspace), command).await {
            Ok(Response::Refused(e)) => Err(refused(&e)),
            Ok(other) => Ok(other),
            Err(e) => Err(failed(&e)),
        }
    }

    /// Answers `query` in `workspace`'s shard; a refusal becomes its status.
    pub(crate) async fn read(&self, workspace: &str, query: Query) -> Result<QueryResult, Status> {
        match self.node.read(self.shard(workspace), query).await {
            Ok(QueryResult::Refused(e)) => Err(refused(&e)),
            Ok(other) => Ok(other),
            Err(e) => Err(failed(&e)),
        }
    }
}

impl Workspaces {
    /// A JSON document sent as bytes: `empty` when none was sent, else it must parse and fit
    /// the size limit.
    pub(crate) fn json_doc(
        &self,
        field: &str,
        bytes: Vec<u8>,
        empty: &str,
    ) -> Result<String, Status> {
        if bytes.is_empty() {
            return Ok(empty.to_owned());
        }
        json_text(field, &bytes, self.max_payload).map(str::to_owned)
    }
}

/// `bytes` as a JSON document of at most `max` bytes (a message, a job's or task's JSON).
pub(crate) fn json_text<'a>(field: &str, bytes: &'a [u8], max: usize) -> Result<&'a str, Status> {
    if bytes.len() > max {
        return Err(invalid(
            "payload_too_large",
            &format!("{field} exceeds the size limit"),
        ));
    }
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| roost_state::input::is_json_document(s))
        .ok_or_else(|| {
            invalid(
                "invalid_json",
                &format!("{field} must be a JSON document, nested at most 128 deep"),
            )
        })
}

/// An optional idempotency key: empty means none.
pub(crate) fn idempotency(key: String) -> Result<Option<String>, Status> {
    if key.is_empty() {
        return Ok(None);
    }
    if !roost_state::input::is_valid_idempotency_key(&key) {
        return Err(invalid(
            "invalid_idempotency_key",
            "idempotency_key must be 1-255 visible ASCII characters",
        ));
    }
    Ok(Some(key))
}
