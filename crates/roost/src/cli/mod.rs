//! The CLI for people: `roost queue`, `roost job` and `roost task` call a node through
//! `roost-client` and print its replies as JSON on stdout (pulls and dead letters one line a
//! message); a failure is one line on stderr, with the server's error code, and a non-zero
//! exit status.

pub mod job;
pub mod queue;
pub mod task;

use std::io::Read;

use anyhow::Context;
use roost_client::wire::Doc;
use roost_client::Client;
use serde::Serialize;

/// Where the node is; every subcommand takes it.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// A node's URL.
    #[arg(
        long,
        env = "ROOST_URL",
        default_value = "http://127.0.0.1:7070",
        global = true
    )]
    pub url: String,
}

impl NodeArgs {
    /// A client of the node.
    fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.url)?)
    }
}

/// Every node of the cluster, for the long-running clients (`roost worker`, `roost mcp`):
/// one URL, or several, each request then going to the node leading its queue or workspace
/// once a forwarded reply has named it.
#[derive(clap::Args, Debug, Clone)]
pub struct NodesArgs {
    /// A node's URL; several (comma-separated): the cluster's nodes, leader-aware.
    #[arg(
        long = "url",
        env = "ROOST_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:7070"
    )]
    pub urls: Vec<String>,
}

impl NodesArgs {
    /// A client of the node, or a leader-aware one of the nodes.
    pub async fn client(&self) -> anyhow::Result<Client> {
        Client::of_nodes(&self.urls).await.context("--url")
    }
}

/// The node and a workspace token: what `roost job` and `roost task` need.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkspaceArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// A workspace token (`roost token create`).
    #[arg(long, env = "ROOST_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
}

impl WorkspaceArgs {
    /// A client of the node, and the token to present.
    fn connect(&self) -> anyhow::Result<(Client, &str)> {
        let token = self
            .token
            .as_deref()
            .context("this needs a workspace token: --token or ROOST_TOKEN")?;
        Ok((self.node.client()?, token))
    }
}

/// Prints `value` as one line of JSON.
fn print(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// A JSON document given on the command line, or read from stdin for `-`.
fn document(text: &str) -> anyhow::Result<Doc> {
    let text = if text == "-" {
        let mut all = String::new();
        std::io::stdin()
            .read_to_string(&mut all)
            .context("reading stdin")?;
        all
    } else {
        text.to_owned()
    };
    Doc::parse(text.trim().to_owned()).context("not a JSON document")
}

/// Ends the process for `result`: nothing more on success; on failure one line on stderr
/// (the server's code and message, and what to do) and exit status 1.
pub fn finish(result: anyhow::Result<()>) -> ! {
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            let line = match e.downcast_ref::<roost_client::Error>() {
                Some(roost_client::Error::Api { status, body }) => format!(
                    "error: {} ({status}): {} — {}",
                    body.code, body.error, body.help
                ),
                _ => format!("error: {e:#}"),
            };
            eprintln!("{}", line.replace('\n', " "));
            std::process::exit(1)
        }
    }
}
