//! The cluster's members through the operator's calls, on a one-node cluster: the key is
//! checked without quotas, bad input is refused, and the last member stays.

use std::time::Duration;

use roost_api::{ErrorCode, NewNode, Settings};

use crate::harness::{env_with, refused};

const OPERATOR: &str = "operator-secret-key";

fn node(id: u64, peer: &str) -> NewNode {
    NewNode {
        id,
        peer_addr: peer.into(),
        http_addr: format!("127.0.0.1:{}", 9000 + id),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_seen_and_guarded_by_the_operator_key() -> anyhow::Result<()> {
    let settings = Settings {
        operator_key_digest: Some(roost_api::digest(OPERATOR.as_bytes())),
        ..Settings::default()
    };
    let env = env_with(settings, None).await?;
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
