//! Roost's MCP edge: the queue, job and work-queue operations as MCP tools, so an agent does
//! the whole flow from its tool calls.
//!
//! Like the HTTP and gRPC edges it parses, calls and renders: [`tools`] is the table of tools
//! and their arguments, [`Backend`] answers a decoded call. On a node, [`local::Local`] calls
//! the application layer in process and [`http::service`] serves it at `/mcp` (Streamable
//! HTTP, stateless, so any node answers any call). `roost mcp` serves the same tools over
//! stdio with a backend that calls a node over HTTP.
//!
//! A failure is a tool result with `isError` and `{error, code, _help}` as its structured
//! content, the same three fields an HTTP error has; protocol errors are kept for what is not
//! a tool call at all (an unknown tool).

mod args;
pub mod http;
pub mod local;
pub mod remote;
mod server;
pub mod tools;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use server::Roost;
pub use tools::Call;

/// A tool's failure: what went wrong, its stable code, and what to do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What went wrong, for a person.
    pub error: String,
    /// The stable code (the HTTP API's codes).
    pub code: String,
    /// What to do next.
    #[serde(rename = "_help")]
    pub help: String,
}

impl From<roost_api::Error> for Failure {
    fn from(e: roost_api::Error) -> Self {
        Failure {
            error: e.message,
            code: e.code.as_str().to_owned(),
            help: e.help.into_owned(),
        }
    }
}

/// Who is calling: what the transport knows of the caller beyond the tool's arguments.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The workspace token (`Authorization: Bearer` of the MCP request), for jobs and work
    /// queues.
    pub token: Option<String>,
    /// The client's address, which waits and keyless creates are counted by.
    pub addr: Option<IpAddr>,
}

/// What a backend's answer is: the structured result, or the failure.
pub type Answer = Result<serde_json::Value, Failure>;

/// Answers decoded tool calls.
pub trait Backend: Send + Sync + 'static {
    /// Runs `call` for `caller`. The result has the fields of the HTTP API's JSON reply.
    fn call(&self, call: Call, caller: Caller)
        -> Pin<Box<dyn Future<Output = Answer> + Send + '_>>;

    /// Records one answered call of `tool` (`outcome`: `ok` or the failure's code) where the
    /// backend keeps metrics: the node's backend does; a backend without any ignores it.
    fn record(&self, _tool: &str, _outcome: &str, _took: Duration) {}
}

/// Why serving over stdio ended badly.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// The client never completed the MCP handshake.
    #[error("the MCP handshake failed: {0}")]
    Handshake(Box<rmcp::service::ServerInitializeError>),
    /// The server's task ended abnormally.
    #[error("the MCP server stopped: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

/// Serves the tools over this process's stdin and stdout until the client closes them.
pub async fn serve_stdio(backend: Arc<dyn Backend>) -> Result<(), StdioError> {
    let running = rmcp::ServiceExt::serve(Roost::new(backend), rmcp::transport::stdio())
        .await
        .map_err(|e| StdioError::Handshake(Box::new(e)))?;
    running.waiting().await?;
    Ok(())
}
