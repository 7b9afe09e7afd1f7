//! The peer port's perimeter: with peer mutual TLS on, a stranger on the peer network — no
//! certificate, a certificate of another CA, or a member's certificate with another cluster's
//! id — is refused before any group or command sees its request, and nothing changes. A node
//! started on another cluster's data dir is refused and the cluster keeps serving.

use roost_state::command as cmd;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};
use roost_network::pb;
use roost_network::pb::peer_client::PeerClient;
use serde_json::Value;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::api::{create, publish, pull_all};
use crate::harness::{copy_dir, make_certs, Cluster};

const OPERATOR: &str = "operator-key-for-perimeter";

/// A peer client of `addr`: plain HTTP/2, or TLS trusting `ca` and presenting `identity`.
async fn dial(
    addr: &str,
    tls: Option<(&Path, Option<(&Path, &Path)>)>,
) -> anyhow::Result<PeerClient<Channel>> {
    let endpoint = match tls {
        None => Endpoint::from_shared(format!("http://{addr}"))?,
        Some((ca, identity)) => {
            let mut config =
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(ca)?));
            if let Some((cert, key)) = identity {
                config = config.identity(Identity::from_pem(
                    std::fs::read(cert)?,
                    std::fs::read(key)?,
                ));
            }
            Endpoint::from_shared(format!("https://{addr}"))?.tls_config(config)?
        }
    };
    let channel = endpoint
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    Ok(PeerClient::new(channel))
}

/// The attack from the issue: an AppendEntries for group 1 with a far higher term.
fn forced_election() -> pb::AppendEntriesRequest {
    pb::AppendEntriesRequest {
        group: 1,
        vote: Some(pb::Vote {
            term: 500,
            node_id: 99,
            committed: true,
        }),
        prev_log_id: None,
        entries: Vec::new(),
        leader_commit: None,
    }
}

/// A forwarded command creating an account, as only the operator may.
fn account_creation() -> anyhow::Result<pb::ForwardRequest> {
    let command = roost_state::Command::CreateAccount(cmd::CreateAccount {
        id: "acct_intruder".into(),
        plan: roost_state::Plan::Pro,
    });
    Ok(pb::ForwardRequest {
        group: 0,
        kind: Some(pb::forward_request::Kind::Command(postcard::to_stdvec(
            &command,
        )?)),
    })
}

fn with_cluster_id<T>(message: T, id: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut()
        .insert(roost_network::security::CLUSTER_ID_HEADER, id.parse()?);
    Ok(req)
}

async fn terms(c: &Cluster) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::new();
    for id in 1..=3 {
        let s = c.status(id).await?;
        out.push(s["groups"][1]["term"].as_u64().context("term")?);
    }
    Ok(out)
}

#[tokio::test]
async fn strangers_on_the_peer_network_are_refused_and_change_nothing() -> anyhow::Result<()> {
    let top = format!("[quotas]\nenabled = true\noperator_key = \"{OPERATOR}\"");
    let c = Cluster::start_isolated(3, 2, &top).await?;
    c.wait_leader(1, Duration::from_secs(30)).await?;
    let before = terms(&c).await?;
    let certs = c.certs.clone().context("an mTLS cluster")?;
    let ca = certs.join("ca.pem");
    let target = format!("{}:7180", c.net()?.ip(2));

    // No TLS at all: the listener speaks only TLS.
    let mut plain = dial(&target, None).await?;
    ensure!(plain.append_entries(forced_election()).await.is_err());
    ensure!(plain.forward(account_creation()?).await.is_err());

    // TLS without a client certificate, and with one from another CA.
    let mut anonymous = dial(&target, Some((&ca, None))).await?;
    ensure!(anonymous.append_entries(forced_election()).await.is_err());
    let other = tempfile::tempdir()?;
    make_certs(other.path(), ["127.0.0.1"].into_iter())?;
    let foreign = (
        other.path().join("node1.pem").to_owned(),
        other.path().join("node1.key").to_owned(),
    );
    let mut stranger = dial(&target, Some((&ca, Some((&foreign.0, &foreign.1))))).await?;
    ensure!(stranger.append_entries(forced_election()).await.is_err());
    ensure!(stranger.forward(account_creation()?).await.is_err());

    // A member's own certificate, but no or another cluster id.
    let member = (certs.join("node1.pem"), certs.join("node1.key"));
    let mut insider = dial(&target, Some((&ca, Some((&member.0, &member.1))))).await?;
    let refused = insider
        .append_entries(forced_election())
        .await
        .expect_err("no cluster id");
    ensure!(
        refused.code() == tonic::Code::PermissionDenied,
        "{refused:?}"
    );
    let refused = insider
        .forward(with_cluster_id(account_creation()?, "another-cluster")?)
        .await
        .expect_err("another cluster id");
    ensure!(
        refused.message().starts_with("cluster_id_mismatch"),
        "{refused:?}"
    );

    // The right certificate and cluster id, but a protocol version this node does not speak.
    let id = std::fs::read_to_string(c.node(2).data.join("cluster_id"))?;
    let mut future = with_cluster_id(account_creation()?, id.trim())?;
    future
        .metadata_mut()
        .insert(roost_network::protocol::PROTOCOL_HEADER, "3".parse()?);
    let refused = insider.forward(future).await.expect_err("protocol 3");
    ensure!(
        refused.message().starts_with("protocol_unsupported"),
        "{refused:?}"
    );

    // Nothing changed: no election was forced, no account exists.
    ensure!(terms(&c).await? == before, "terms moved: {before:?}");
    let r = c
        .http
        .get(format!("{}/admin/accounts/acct_intruder", c.url(1)))
        .bearer_auth(OPERATOR)
        .send()
        .await?;
    ensure!(r.status() == 404, "{}", r.status());
    let log = std::fs::read_to_string(c.node(2).data.with_extension("log"))?;
    ensure!(
        log.contains("refused a peer RPC from another cluster"),
        "{log}"
    );
    ensure!(
        log.contains("refused a peer RPC of a protocol version this node does not speak"),
        "{log}"
    );
    Ok(())
}

#[tokio::test]
async fn a_node_on_another_clusters_data_dir_is_refused_and_the_cluster_serves_on(
) -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    // Another cluster: node 3 alone, on a data dir of its own.
    let stray = Cluster::start(1, 2, "").await?;
    let stray_dir = stray.node(1).data.clone();
    let stray_id = std::fs::read_to_string(stray_dir.join("cluster_id"))?;
    let ours = std::fs::read_to_string(c.node(1).data.join("cluster_id"))?;
    ensure!(ours != stray_id && !ours.trim().is_empty());

    c.kill(3)?;
    stray.kill(1)?;
    let node3 = &c.node(3).data;
    std::fs::remove_dir_all(node3)?;
    copy_dir(&stray_dir, node3)?;
    drop(stray);
    c.spawn(3)?;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Each side refuses the other by name, in its log; nodes 1 and 2 serve on.
    let log = |id| std::fs::read_to_string(c.node(id).data.with_extension("log"));
    let (log1, log3) = (log(1)? + &log(2)?, log(3)?);
    ensure!(
        log3.contains("refused a peer RPC from another cluster"),
        "{log3}"
    );
    ensure!(
        log3.contains(ours.trim()),
        "node 3 names the cluster it refused"
    );
    ensure!(log1.contains("a peer refused this node"), "{log1}");
    ensure!(
        log1.contains(stray_id.trim()),
        "the leaders' log names node 3's cluster"
    );
    let q = create(&c, 1, &["me"]).await?;
    for i in 0..5u64 {
        let (status, _) = publish(&c, 1 + i % 2, &q, &serde_json::json!({ "i": i }), None).await?;
        ensure!(status == 201, "publish {i}: {status}");
    }
    let pulled: Vec<Value> = pull_all(&c, 2, &q, "me").await?;
    ensure!(pulled.len() == 5, "{pulled:?}");
    // Node 3 never joined: its data dir still holds the other cluster's id.
    let now = std::fs::read_to_string(node3.join("cluster_id"))?;
    ensure!(now == stray_id, "node 3 adopted {now}");
    Ok(())
}
