//! `/mcp` on a node: Streamable HTTP, stateless (no session ids, JSON answers), so a client
//! may send each call to any node, as with the HTTP API.

use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::{Backend, Roost};

/// How `/mcp` accepts requests.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `Host` values accepted (names or `host:port`); empty accepts any. The SDK's default
    /// accepts only loopback names, which would refuse every client of a node behind a
    /// load balancer or in Kubernetes; the check exists against DNS rebinding, which matters
    /// for a server on a person's own machine.
    pub allowed_hosts: Vec<String>,
    /// Largest request body: the largest document the node accepts, plus the JSON-RPC
    /// envelope around it.
    pub max_body_bytes: usize,
}

/// The service to mount at `/mcp`; it stops taking requests when `shutdown` fires.
pub fn service(
    backend: Arc<dyn Backend>,
    settings: Settings,
    shutdown: CancellationToken,
) -> StreamableHttpService<Roost, NeverSessionManager> {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(shutdown);
    config = if settings.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(settings.allowed_hosts)
    };
    let roost = Roost::new(backend);
    StreamableHttpService::new(
        move || Ok(roost.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
