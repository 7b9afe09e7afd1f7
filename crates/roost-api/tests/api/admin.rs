//! The cluster's members through the operator's calls, on a one-node cluster: the key is
//! checked without quotas, bad input is refused, and the last member stays.

use std::time::Duration;

use roost_api::{ErrorCode, NewNode, Settings};

use crate::harness::{env_with, refused, Env};

const OPERATOR: &str = "operator-secret-key";

fn node(id: u64, peer: &str) -> NewNode {
    NewNode {
        id,
        peer_addr: peer.into(),
        http_addr: format!("127.0.0.1:{}", 9000 + id),
    }
}

/// A one-node cluster whose operator key is [`OPERATOR`].
async fn operator_env() -> anyhow::Result<Env> {
    let settings = Settings {
        operator_key_digest: Some(roost_api::digest(OPERATOR.as_bytes())),
        ..Settings::default()
    };
    env_with(settings, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_seen_and_guarded_by_the_operator_key() -> anyhow::Result<()> {
    let env = operator_env().await?;
    let key = Some(OPERATOR);
    refused(env.api.cluster_nodes(None).await, ErrorCode::MissingApiKey);
    refused(
        env.api.cluster_nodes(Some("wrong")).await,
        ErrorCode::InvalidOperatorKey,
    );
    // The node records its roster once it leads the metadata group.
    let mut view = env.api.cluster_nodes(key).await?;
    for _ in 0..100 {
        if !view.roster.members.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        view = env.api.cluster_nodes(key).await?;
    }
    assert_eq!(view.roster.members.keys().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(view.live.iter().copied().collect::<Vec<_>>(), [1]);
    assert!(view
        .groups
        .iter()
        .all(|g| g.voters == [1] && g.learners.is_empty()));
    assert!(view.groups.iter().all(|g| g.lag.get(&1) == Some(&Some(0))));

    refused(
        env.api.add_node(key, node(0, "127.0.0.1:1")).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.add_node(key, node(2, "no-port")).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.remove_node(key, 1, true).await,
        ErrorCode::MemberConflict,
    );
    refused(
        env.api.remove_node(key, 7, false).await,
        ErrorCode::MemberNotFound,
    );
    let check = env.api.quorum_critical(key, 1).await?;
    assert_eq!(
        check.groups.len(),
        view.groups.len(),
        "a lone node is every group's quorum"
    );
    refused(
        env.api.quorum_critical(key, 7).await,
        ErrorCode::MemberNotFound,
    );
    let after = env.api.cluster_nodes(key).await?;
    assert_eq!(after.roster, view.roster, "refusals changed nothing");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_needs_the_key_and_covers_every_shard() -> anyhow::Result<()> {
    let env = operator_env().await?;
    let key = Some(OPERATOR);
    refused(env.api.workload(None, None).await, ErrorCode::MissingApiKey);
    refused(
        env.api.workload(Some("wrong"), None).await,
        ErrorCode::InvalidOperatorKey,
    );
    refused(
        env.api.workload(key, Some(0)).await,
        ErrorCode::InvalidLimit,
    );
    refused(
        env.api.workload(key, Some(101)).await,
        ErrorCode::InvalidLimit,
    );

    // Queues land on random shards; the overview sums them all and lists the deepest first.
    let mut ids = Vec::new();
    for depth in [3, 1, 2, 0] {
        let q = crate::harness::queue(&env, &["me"], None).await?;
        for _ in 0..depth {
            env.api.publish(&q, None, b"{\"private\":1}", None).await?;
        }
        ids.push(q.id.to_string());
    }
    let w = env.api.workload(key, None).await?;
    assert!(w.unavailable.is_empty(), "{:?}", w.unavailable);
    assert_eq!((w.queues.queues, w.queues.messages), (4, 6));
    let depths: Vec<u64> = w.queues.deepest.iter().map(|q| q.messages).collect();
    assert_eq!(depths, [3, 2, 1, 0]);
    assert_eq!(
        w.queues.deepest[0].id.to_string(),
        ids[0],
        "the deepest first"
    );
    let top = env.api.workload(key, Some(1)).await?;
    assert_eq!(top.queues.deepest.len(), 1, "the limit holds across shards");
    assert_eq!(top.queues.queues, 4, "totals still cover every queue");

    // The health view needs no key and names every group's leader.
    let health = env.api.cluster_health().await;
    assert_eq!(health.nodes.len(), 1);
    assert!(health.nodes[0].live);
    assert_eq!(health.groups.len() as u32, env.api.node().shards() + 1);
    assert!(health.groups.iter().all(|g| g.leader == Some(1)));
    Ok(())
}
