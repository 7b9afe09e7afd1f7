//! `roost mcp`: Roost's MCP tools over stdio, for agents that start their MCP servers as
//! commands. Each call goes to a node's HTTP API; the node does the work.

use std::sync::Arc;

use anyhow::Context;

/// Arguments of `roost mcp`.
#[derive(clap::Args)]
pub struct McpArgs {
    /// A node's HTTP URL (any node of the cluster).
    #[arg(long, env = "ROOST_URL", default_value = "http://127.0.0.1:7070")]
    url: String,
    /// The workspace token for the job and work-queue tools.
    #[arg(long, env = "ROOST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The queue key for queue tools called without `queue_api_key`.
    #[arg(long, env = "ROOST_QUEUE_API_KEY", hide_env_values = true)]
    queue_key: Option<String>,
}

/// Serves until the MCP client closes stdin.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let client = roost_client::Client::new(&args.url).context("--url")?;
    let backend = roost_mcp::remote::Remote {
        client,
        token: args.token,
        queue_key: args.queue_key,
    };
    roost_mcp::serve_stdio(Arc::new(backend)).await?;
    Ok(())
}
