//! The MCP tools through the official Python MCP client (PyPI `mcp`, installed by the test
//! command into its venv): over Streamable HTTP at a node's `/mcp`, and over stdio through
//! `roost mcp` given every node (leader-aware), each starting from a different node of a
//! three-node cluster (the tools keep no session, so any node answers). `mcp_client.py` holds
//! the checks.

use std::path::{Path, PathBuf};
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

/// Runs `script` (a file beside this one) with the test venv's python and `args`, for at
/// most `within`.
pub async fn run_python(
    script: &str,
    args: &[&str],
    within: Duration,
) -> anyhow::Result<std::process::Output> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cluster")
        .join(script);
    let run = tokio::process::Command::new(python())
        .arg(path)
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(within, run)
        .await
        .with_context(|| format!("{script} took over {within:?}"))?
        .with_context(|| {
            format!("running {script} (is the test venv set up? scripts/test.sh makes it)")
        })
}

/// Runs `mcp_client.py` with `args`, failing with its output when a check fails.
async fn client(args: &[&str]) -> anyhow::Result<()> {
    let out = run_python("mcp_client.py", args, Duration::from_secs(180)).await?;
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
    // Another workspace, so the second run's jobs and work queues start from none; `roost
    // mcp` is given every node (node 3 first), so its calls follow the leaders' hints.
    let other = token(&c, "ws-mcp-stdio")?;
    let nodes = [3, 1, 2].map(|n| c.url(n).to_owned()).join(",");
    let roost = env!("CARGO_BIN_EXE_roost");
    client(&["stdio", c.url(3), &other, roost, &nodes]).await
}
