//! The MCP tools through the official Python MCP client (PyPI `mcp`, installed by the test
//! command into its venv): over Streamable HTTP at a node's `/mcp`, and over stdio through
//! `roost mcp`, each against a different node of a three-node cluster (the tools keep no
//! session, so any node answers). `mcp_client.py` holds the checks.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::harness::Cluster;
use crate::jobs::{token, SECRET};

/// The test command's venv, with the MCP client installed.
fn python() -> PathBuf {
    let venv = std::env::var_os("ROOST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/roost-venv")
        });
    venv.join("bin/python")
}

/// Runs `mcp_client.py` with `args`, failing with its output when a check fails.
async fn client(args: &[&str]) -> anyhow::Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/mcp_client.py");
    let run = tokio::process::Command::new(python())
        .arg(script)
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .context("the MCP client took over 180 s")?
        .context("running the MCP client (is the test venv set up? scripts/test.sh makes it)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(out.status.success(), "MCP client over {}: {text}", args[0]);
    anyhow::ensure!(text.contains("every check passed"), "{text}");
    Ok(())
}

#[tokio::test]
async fn the_python_mcp_client_runs_every_flow_over_http_and_stdio() -> anyhow::Result<()> {
    let c = Cluster::start_with(3, 2, SECRET, "").await?;
    let tok = token(&c, "ws-mcp")?;
    client(&["http", c.url(2), &tok]).await?;
    // Another workspace, so the second run's jobs and work queues start from none.
    let other = token(&c, "ws-mcp-stdio")?;
    client(&["stdio", c.url(3), &other, env!("CARGO_BIN_EXE_roost")]).await
}
