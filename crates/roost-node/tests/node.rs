//! In-process node tests: the write/read path, restart durability, and unavailability.

use roost_state::command as cmd;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roost_node::{Member, Node, NodeConfig, NodeError, RaftTuning};
use roost_state::{Command, Query, QueryResult, QueueId, QueueSettings, Response};
use tokio_util::sync::CancellationToken;

fn free_addr() -> anyhow::Result<String> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string())
}

fn config(dir: &Path, members: BTreeMap<u64, Member>, timeout: Duration) -> NodeConfig {
    NodeConfig {
        id: 1,
        data_dir: dir.to_path_buf(),
        peer_listen: members[&1].peer_addr.clone(),
        members,
        shards: 2,
        raft: RaftTuning::default(),
        request_timeout: timeout,
        tick_interval: Duration::from_secs(1),
        expire_unused_queues: None,
        quotas: None,
        max_waiters_per_client: 256,
        webhooks: roost_node::WebhookConfig {
            secret: vec![1; 32],
            allow_private: false,
        },
        peer_tls: None,
        joining: false,
    }
}

fn solo(peer: String) -> BTreeMap<u64, Member> {
    BTreeMap::from([(
        1,
        Member {
            peer_addr: peer,
            http_addr: "127.0.0.1:1".into(),
        },
    )])
}

/// Starts a node, retrying while a previous instance still holds the database lock.
async fn start(config: &NodeConfig, token: &CancellationToken) -> anyhow::Result<Arc<Node>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Node::start(config.clone(), token.clone()).await {
            Ok(n) => return Ok(n),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn wait_ready(node: &Node) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.ready().is_err() {
        anyhow::ensure!(Instant::now() < deadline, "node never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

const KEY: [u8; 32] = [9; 32];

fn pull(queue: &QueueId) -> Query {
    Query::Pull {
        queue: queue.clone(),
        auth: KEY,
        consumer: "me".into(),
        cursor: None,
        limit: 100,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), solo(free_addr()?), Duration::from_secs(5));
    let queue = QueueId::new(2, 77);
    {
        let token = CancellationToken::new();
        let node = start(&cfg, &token).await?;
        wait_ready(&node).await?;
        let created = node
            .write(
                2,
                Command::CreateQueue(cmd::CreateQueue {
                    id: queue.clone(),
                    key_digest: KEY,
                    consumers: vec!["me".into()],
                    settings: QueueSettings::default(),
                }),
            )
            .await?;
        assert!(matches!(created, Response::Created { .. }));
        for i in 0..20 {
            let r = node
                .write(
                    2,
                    Command::Publish(cmd::Publish {
                        queue: queue.clone(),
                        auth: KEY,
                        id: format!("qm_{i:016x}"),
                        payload: format!("{{\"i\":{i}}}"),
                        source: roost_state::Source::Publish,
                        idempotency: None,
                        hold: None,
                    }),
                )
                .await?;
            assert!(
                matches!(r, Response::Published { seq, .. } if seq == i + 1),
                "{r:?}"
            );
        }
        node.shutdown().await;
        token.cancel();
    }
    let token = CancellationToken::new();
    let node = start(&cfg, &token).await?;
    wait_ready(&node).await?;
    match node.read(2, pull(&queue)).await? {
        QueryResult::Pulled { messages, .. } => {
            let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
        }
        other => panic!("{other:?}"),
    }
    node.shutdown().await;
    token.cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_requests_fail_as_unavailable_in_time() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut members = solo(free_addr()?);
    // A second voter that never runs: no group can elect a leader.
    members.insert(
        2,
        Member {
            peer_addr: free_addr()?,
            http_addr: "127.0.0.1:1".into(),
        },
    );
    let cfg = config(dir.path(), members, Duration::from_millis(400));
    let token = CancellationToken::new();
    let node = start(&cfg, &token).await?;
    assert!(node.ready().is_err());
    let started = Instant::now();
    let err = node
        .read(1, pull(&QueueId::new(1, 1)))
        .await
        .expect_err("no leader, no answer");
    assert!(matches!(err, NodeError::Unavailable(_)), "{err:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    node.shutdown().await;
    token.cancel();
    Ok(())
}
