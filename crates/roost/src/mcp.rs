//! `roost mcp`: Roost's MCP tools over stdio, for agents that start their MCP servers as
//! commands. Each call goes to a node's HTTP API; the node does the work.

use std::sync::Arc;

use crate::cli::NodesArgs;

/// Arguments of `roost mcp`.
#[derive(clap::Args)]
pub struct McpArgs {
    #[command(flatten)]
    nodes: NodesArgs,
    /// The workspace token for the job and work-queue tools.
    #[arg(long, env = "ROOST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The queue key for queue tools called without `queue_api_key`.
    #[arg(long, env = "ROOST_QUEUE_API_KEY", hide_env_values = true)]
    queue_key: Option<String>,
}

/// Serves until the MCP client closes stdin.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let client = args.nodes.client().await?;
    let backend = roost_mcp::remote::Remote {
        client,
        token: args.token,
        queue_key: args.queue_key,
    };
    roost_mcp::serve_stdio(Arc::new(backend)).await?;
    Ok(())
}
