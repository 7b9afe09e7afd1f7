//! The MCP server over a [`Backend`]: lists the tools, decodes each call, and turns the
//! backend's answer into a tool result.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ConnectInfo;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::{tools, Backend, Caller};

/// What an agent reads first when it connects.
const INSTRUCTIONS: &str = "Roost: durable queues, async jobs and work queues for agents. \
Queues: create_queue (keep its queue_api_key), publish_to_queue, pull_queue, ack_queue with \
the pull's next_cursor; nack_message, list_dead_letters and replay_dead_letter for failures. \
Jobs and work queues need a workspace token as the MCP request's Authorization: Bearer. \
A failed call returns {error, code, _help}: follow _help.";

/// Roost's tools over one backend. Cheap to clone: the transport makes one per session.
#[derive(Clone)]
pub struct Roost {
    backend: Arc<dyn Backend>,
}

impl Roost {
    /// The tools, answered by `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Roost { backend }
    }
}

impl ServerHandler for Roost {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("roost", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::find(name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let arguments = request.arguments.unwrap_or_default();
        let Some(decoded) = tools::decode(&request.name, arguments) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "no tool is called {:?}; tools/list names them",
                    request.name
                ),
                None,
            ));
        };
        let answer = match decoded {
            Ok(call) => self.backend.call(call, caller(&context)).await,
            Err(failure) => Err(failure),
        };
        // The name is one of the table's (an unknown one was answered above).
        let outcome = answer.as_ref().map_or_else(|f| f.code.as_str(), |_| "ok");
        self.backend
            .record(&request.name, outcome, started.elapsed());
        let result = match answer {
            Ok(value) => CallToolResult::structured(value),
            Err(failure) => {
                CallToolResult::structured_error(serde_json::to_value(&failure).unwrap_or_default())
            }
        };
        Ok(result.into())
    }
}

/// The caller, from the HTTP request the call came in (none over stdio).
fn caller(context: &RequestContext<RoleServer>) -> Caller {
    let Some(parts) = context.extensions.get::<http::request::Parts>() else {
        return Caller::default();
    };
    let token = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_owned())
        })
        .filter(|t| !t.is_empty());
    let addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    Caller { token, addr }
}
