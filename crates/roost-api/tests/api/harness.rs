//! A one-node cluster in-process, and the `Api` over it.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use roost_api::{Api, Error, ErrorCode, Fixed, Settings};
use roost_auth::Claims;
use roost_node::{Member, Node, NodeConfig, RaftTuning};
use tokio_util::sync::CancellationToken;

/// The secret workspace tokens are signed with.
const SECRET: &[u8] = b"api-tests-secret-api-tests-secret";

/// A running node and the layer over it; the node stops when this is dropped.
pub struct Env {
    /// The layer under test.
    pub api: Api,
    /// The fixed clock and random source.
    pub source: Arc<Fixed>,
    /// Stops the node.
    shutdown: CancellationToken,
    /// Where its data lives.
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts a node with `settings` (and publish quotas, if given), returning once every group
/// has a leader.
pub async fn env_with(
    settings: Settings,
    quotas: Option<roost_node::Quotas>,
) -> anyhow::Result<Env> {
    let dir = tempfile::tempdir()?;
    let peer = TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
    let members = BTreeMap::from([(
        1,
        Member {
            peer_addr: peer.clone(),
            http_addr: "127.0.0.1:1".into(),
        },
    )]);
    let config = NodeConfig {
        id: 1,
        data_dir: dir.path().to_path_buf(),
        peer_listen: peer,
        members,
        shards: 2,
        raft: RaftTuning::default(),
        request_timeout: Duration::from_secs(5),
        tick_interval: Duration::from_secs(1),
        expire_unused_queues: None,
        quotas,
        max_waiters_per_client: 2,
        webhooks: roost_node::WebhookConfig {
            secret: vec![1; 32],
            allow_private: false,
        },
        peer_tls: None,
        joining: false,
    };
    let shutdown = CancellationToken::new();
    let node: Arc<Node> = Node::start(config, shutdown.clone()).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.ready().is_err() {
        anyhow::ensure!(Instant::now() < deadline, "node never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let source = Arc::new(Fixed::new(now, 0x1000));
    let tokens = roost_auth::Verifier::hs256(SECRET);
    let api = Api::with_source(node, settings, Some(tokens), source.clone());
    Ok(Env {
        api,
        source,
        shutdown,
        _dir: dir,
    })
}

/// Starts a node with the default settings.
pub async fn env() -> anyhow::Result<Env> {
    env_with(Settings::default(), None).await
}

/// A signed workspace token for `workspace`, reaching `teams` (none: every team).
pub fn token(workspace: &str, teams: &[&str]) -> anyhow::Result<String> {
    let exp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 3600;
    let claims = Claims {
        sub: "tests".into(),
        workspace: workspace.into(),
        teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        exp,
        nbf: None,
    };
    Ok(roost_auth::mint_hs256(SECRET, &claims)?)
}

/// The caller holding a token for `workspace` and `teams`.
pub fn caller(env: &Env, workspace: &str, teams: &[&str]) -> anyhow::Result<Claims> {
    Ok(env.api.caller(Some(&token(workspace, teams)?))?)
}

/// Asserts that `r` failed with `code`, returning the error.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(r: Result<T, Error>, code: ErrorCode) -> Error {
    match r {
        Err(e) if e.code == code => e,
        other => panic!("expected {code}, got {other:?}"),
    }
}

/// A new queue with `consumers` and `max_deliveries`, addressed with its own key.
pub async fn queue(
    env: &Env,
    consumers: &[&str],
    max_deliveries: Option<u32>,
) -> anyhow::Result<roost_api::QueueRef> {
    let create = roost_api::CreateQueue {
        consumers: consumers.iter().map(|c| (*c).to_owned()).collect(),
        max_deliveries,
        allowed_origins: None,
    };
    let created = env.api.create_queue(None, create).await?;
    Ok(env
        .api
        .queue_ref(created.queue.id.as_str(), Some(&created.key))?)
}
