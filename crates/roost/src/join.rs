//! `--join URL`: a new node learns the running cluster's members and shard count from any
//! member's `/cluster`, so its operator names one address instead of copying the member list.

use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::config::{MemberEntry, ServerConfig};

/// How long a start waits for the member it joins through to answer.
const WAIT: Duration = Duration::from_secs(60);

/// The part of `/cluster` a joining node needs.
#[derive(Deserialize)]
struct Cluster {
    nodes: Vec<Node>,
    shards: u32,
}

/// A member as `/cluster` lists it.
#[derive(Deserialize)]
struct Node {
    id: u64,
    peer_addr: String,
    http_addr: String,
}

/// Fills in the members and shard count of the cluster `config.join` names, this node among
/// the members. Nothing to do without `--join`.
pub async fn resolve(config: &mut ServerConfig) -> anyhow::Result<()> {
    let Some(url) = config.join.clone() else {
        return Ok(());
    };
    let cluster = fetch(&format!("{}/cluster", url.trim_end_matches('/'))).await?;
    if cluster.nodes.is_empty() || cluster.shards == 0 {
        bail!("{url}/cluster names no members: is it a Roost node?");
    }
    config.shards = cluster.shards;
    config.members = cluster
        .nodes
        .into_iter()
        .map(|n| MemberEntry {
            id: n.id,
            peer_addr: n.peer_addr,
            http_addr: n.http_addr,
        })
        .collect();
    if !config.members.iter().any(|m| m.id == config.node_id) {
        config.members.push(MemberEntry {
            id: config.node_id,
            peer_addr: config.peer_addr.clone(),
            http_addr: config.http_addr.clone(),
        });
    }
    let exposed = config.peers_off_loopback();
    if config.peer_tls.is_none() && !config.allow_insecure_peers && !exposed.is_empty() {
        bail!(
            "members at {} are not on loopback: set [peer_tls] as they have (or, knowingly, \
             allow_insecure_peers = true)",
            exposed.join(", ")
        );
    }
    tracing::info!(
        via = %url,
        shards = config.shards,
        members = ?config.members.iter().map(|m| m.id).collect::<Vec<_>>(),
        "joining"
    );
    Ok(())
}

async fn fetch(url: &str) -> anyhow::Result<Cluster> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = async {
            let resp = client.get(url).send().await?.error_for_status()?;
            resp.json::<Cluster>().await
        };
        match answer.await {
            Ok(cluster) => return Ok(cluster),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(e).with_context(|| format!("joining through {url}"));
            }
            Err(e) => {
                tracing::info!(url, error = %e, "the member to join through did not answer yet")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
