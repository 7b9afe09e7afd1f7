//! Server configuration: defaults, then a TOML file, then `ROOST_*` environment variables, then
//! command-line flags. An invalid value stops the start with a message naming the field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use roost_node::{Member, NodeConfig, RaftTuning};
use serde::{Deserialize, Serialize};

/// Flags of `roost serve`; each overrides the config file and environment.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML config file (see cluster-config/).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory for the node's RocksDB data.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address of the HTTP listener.
    #[arg(long)]
    pub http_addr: Option<String>,
    /// Address of the peer (gRPC) listener.
    #[arg(long)]
    pub peer_addr: Option<String>,
    /// This node's id (must be one of the members).
    #[arg(long)]
    pub node_id: Option<u64>,
}

/// A cluster member as the config file lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// The member's node id.
    pub id: u64,
    /// Its peer address.
    pub peer_addr: String,
    /// Its HTTP address.
    pub http_addr: String,
}

/// Everything `roost serve` can be configured with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// This node's id.
    pub node_id: u64,
    /// RocksDB data directory.
    pub data_dir: PathBuf,
    /// HTTP listener address.
    pub http_addr: String,
    /// Peer listener address.
    pub peer_addr: String,
    /// Client gRPC listener address (empty: no gRPC API).
    pub grpc_addr: String,
    /// Number of shard groups (fixed at the first start of a cluster).
    pub shards: u32,
    /// Every member; empty means a one-node cluster of this node.
    pub members: Vec<MemberEntry>,
    /// How long a request may wait for a leader.
    pub request_timeout_ms: u64,
    /// How often shard leaders propose a tick (drives age retention).
    pub tick_interval_ms: u64,
    /// Queues with no registered consumer keep messages at most this long (0: forever).
    pub retention_max_age_secs: u64,
    /// Queues with no registered consumer keep at most this many messages (0: no limit).
    pub retention_max_messages: u64,
    /// Public form submissions accepted per client IP per minute.
    pub form_submissions_per_minute: u32,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Raft tuning.
    pub raft: RaftTuning,
    /// Publish quotas.
    pub quotas: QuotaConfig,
    /// Workspace tokens (jobs, work queues).
    pub auth: AuthConfig,
    /// How long finished jobs are kept, per final status.
    pub job_ttl_secs: JobTtlConfig,
    /// Job webhooks.
    pub webhooks: WebhooksConfig,
}

/// `[webhooks]`: how job webhooks are signed and where they may go.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// The signing secret (`whsec_` + base64, as Standard Webhooks prints it). Without one a
    /// secret is generated into the data dir and logged at start; a cluster must share one.
    pub secret: Option<String>,
    /// Allow receivers on loopback, private and link-local addresses.
    pub allow_private_addresses: bool,
}

/// `[auth]`: the key that signs and checks workspace tokens. With none, a one-node cluster
/// keeps a generated secret in its data dir; a multi-node cluster must share a key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 shared secret (at least 32 characters).
    pub jwt_secret: Option<String>,
    /// RS256 public key (PEM) that checks tokens.
    pub jwt_public_key_file: Option<PathBuf>,
    /// RS256 private key (PEM) for `roost token create`.
    pub jwt_private_key_file: Option<PathBuf>,
}

/// `[job_ttl_secs]`: how long finished jobs are kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobTtlConfig {
    /// After completing.
    pub completed: u64,
    /// After failing.
    pub failed: u64,
    /// After being cancelled.
    pub cancelled: u64,
}

impl Default for JobTtlConfig {
    fn default() -> Self {
        JobTtlConfig {
            completed: 7 * 24 * 3600,
            failed: 30 * 24 * 3600,
            cancelled: 7 * 24 * 3600,
        }
    }
}

/// `[quotas]`: accounts, plans and monthly publish limits (off by default).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Whether publishes are counted and limited.
    pub enabled: bool,
    /// Publishes a month on the free plan (and per IP for unclaimed queues).
    pub free: u64,
    /// Publishes a month on the pro plan.
    pub pro: u64,
    /// The key guarding the operator API (`/admin`); unset disables that API.
    pub operator_key: Option<String>,
    /// Where over-quota answers point people to upgrade.
    pub upgrade_url: String,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            enabled: false,
            free: 100,
            pro: 10_000,
            operator_key: None,
            upgrade_url: String::new(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            node_id: 1,
            data_dir: PathBuf::from("./data"),
            http_addr: "127.0.0.1:7070".into(),
            peer_addr: "127.0.0.1:7170".into(),
            grpc_addr: "127.0.0.1:7270".into(),
            shards: 4,
            members: Vec::new(),
            request_timeout_ms: 5_000,
            tick_interval_ms: 1_000,
            retention_max_age_secs: 7 * 24 * 3600,
            retention_max_messages: 1_000_000,
            form_submissions_per_minute: 30,
            max_body_bytes: 256 * 1024,
            log_format: "text".into(),
            raft: RaftTuning::default(),
            quotas: QuotaConfig::default(),
            auth: AuthConfig::default(),
            job_ttl_secs: JobTtlConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

/// Top-level fields, for picking configuration out of the environment.
const FIELDS: &[&str] = &[
    "node_id",
    "data_dir",
    "http_addr",
    "peer_addr",
    "grpc_addr",
    "shards",
    "members",
    "request_timeout_ms",
    "tick_interval_ms",
    "retention_max_age_secs",
    "retention_max_messages",
    "form_submissions_per_minute",
    "max_body_bytes",
    "log_format",
    "raft",
    "quotas",
    "auth",
    "job_ttl_secs",
    "webhooks",
];

/// One line per problem, each naming the field and where its value came from.
fn describe(errors: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let mut field = e.path.join(".");
            if let figment::error::Kind::UnknownField(name, _) = &e.kind {
                field = name.clone();
            }
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            format!("{field}: {}{source}", e.kind)
        })
        .collect();
    anyhow::anyhow!("invalid configuration: {}", lines.join("; "))
}

impl ServerConfig {
    /// Loads and validates the configuration for `args`.
    pub fn load(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
        let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
        if let Some(path) = &args.config {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only variables naming a field are configuration; others (ROOST_BIN, …) are not ours.
        let env = Env::prefixed("ROOST_")
            .split("__")
            .filter(|key| FIELDS.contains(&key.as_str().split('.').next().unwrap_or_default()));
        figment = figment.merge(env);
        let mut config: ServerConfig = figment.extract().map_err(describe)?;
        if let Some(v) = &args.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = &args.http_addr {
            config.http_addr = v.clone();
        }
        if let Some(v) = &args.peer_addr {
            config.peer_addr = v.clone();
        }
        if let Some(v) = args.node_id {
            config.node_id = v;
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.grpc_addr.is_empty() {
            self.grpc_addr.parse::<SocketAddr>().with_context(|| {
                format!(
                    "invalid configuration: grpc_addr: {:?} is not an ip:port address",
                    self.grpc_addr
                )
            })?;
        }
        for (field, addr) in [
            ("http_addr", &self.http_addr),
            ("peer_addr", &self.peer_addr),
        ] {
            addr.parse::<SocketAddr>().with_context(|| {
                format!("invalid configuration: {field}: {addr:?} is not an ip:port address")
            })?;
        }
        // Every message travels inside Raft entries between peers; 16 MiB keeps one entry well
        // under the peer message limit and replication batches quick.
        if !(1..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            bail!("invalid configuration: max_body_bytes: must be between 1 and 16 MiB");
        }
        if self.request_timeout_ms == 0 {
            bail!("invalid configuration: request_timeout_ms: must be positive");
        }
        if self
            .auth
            .jwt_secret
            .as_deref()
            .is_some_and(|k| k.len() < 32)
        {
            bail!("invalid configuration: auth.jwt_secret: must be at least 32 characters");
        }
        if self
            .quotas
            .operator_key
            .as_deref()
            .is_some_and(|k| k.len() < 16)
        {
            bail!("invalid configuration: quotas.operator_key: must be at least 16 characters");
        }
        if self.webhooks.secret.is_some() {
            self.webhook_secret()?;
        }
        if self.tick_interval_ms < 10 {
            bail!("invalid configuration: tick_interval_ms: must be at least 10");
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            bail!("invalid configuration: log_format: must be \"text\" or \"json\"");
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.members {
            if !seen.insert(m.id) {
                bail!(
                    "invalid configuration: members: node id {} listed twice",
                    m.id
                );
            }
        }
        // Validation must not create files: check the node settings with a placeholder key.
        self.node_config_with(Vec::new())?
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    /// The node's configuration.
    pub fn node_config(&self) -> anyhow::Result<NodeConfig> {
        self.node_config_with(self.webhook_secret()?)
    }

    fn node_config_with(&self, webhook_secret: Vec<u8>) -> anyhow::Result<NodeConfig> {
        let members: BTreeMap<u64, Member> = if self.members.is_empty() {
            BTreeMap::from([(
                self.node_id,
                Member {
                    peer_addr: self.peer_addr.clone(),
                    http_addr: self.http_addr.clone(),
                },
            )])
        } else {
            self.members
                .iter()
                .map(|m| {
                    (
                        m.id,
                        Member {
                            peer_addr: m.peer_addr.clone(),
                            http_addr: m.http_addr.clone(),
                        },
                    )
                })
                .collect()
        };
        Ok(NodeConfig {
            id: self.node_id,
            data_dir: self.data_dir.clone(),
            peer_listen: self.peer_addr.clone(),
            members,
            shards: self.shards,
            raft: self.raft.clone(),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            tick_interval: Duration::from_millis(self.tick_interval_ms),
            webhooks: roost_node::WebhookConfig {
                secret: webhook_secret,
                allow_private: self.webhooks.allow_private_addresses,
            },
        })
    }

    /// The webhook signing key: the configured `whsec_…` secret, or one generated into the data
    /// dir on first use.
    pub fn webhook_secret(&self) -> anyhow::Result<Vec<u8>> {
        use base64::Engine;
        let text = match &self.webhooks.secret {
            Some(s) => s.clone(),
            None => {
                let path = self.data_dir.join("webhook.secret");
                if !path.exists() {
                    let mut bytes = [0u8; 32];
                    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
                    std::fs::create_dir_all(&self.data_dir)?;
                    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                    std::fs::write(&path, format!("whsec_{encoded}"))?;
                }
                std::fs::read_to_string(&path)?.trim().to_owned()
            }
        };
        let b64 = text.strip_prefix("whsec_").unwrap_or(&text);
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .context("invalid configuration: webhooks.secret: must be whsec_ followed by base64")
    }

    /// The HTTP edge's limits.
    pub fn limits(&self) -> roost_http::Limits {
        let positive = |v: u64| (v > 0).then_some(v);
        roost_http::Limits {
            max_body_bytes: self.max_body_bytes,
            retention: roost_state::Retention {
                max_age_ms: positive(self.retention_max_age_secs.saturating_mul(1000)),
                max_messages: positive(self.retention_max_messages),
            },
            form_submissions_per_minute: self.form_submissions_per_minute,
            job_ttl: roost_state::JobTtl {
                completed_ms: self.job_ttl_secs.completed.saturating_mul(1000),
                failed_ms: self.job_ttl_secs.failed.saturating_mul(1000),
                cancelled_ms: self.job_ttl_secs.cancelled.saturating_mul(1000),
            },
            quotas: self.quotas.enabled.then(|| roost_http::Quotas {
                limits: roost_state::PlanLimits {
                    free: self.quotas.free,
                    pro: self.quotas.pro,
                },
                operator_key_digest: self
                    .quotas
                    .operator_key
                    .as_deref()
                    .map(roost_http::key_digest),
                upgrade_url: self.quotas.upgrade_url.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(text: &str) -> anyhow::Result<ServerConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text)?;
        ServerConfig::load(&ServeArgs {
            config: Some(path),
            ..Default::default()
        })
    }

    #[test]
    fn defaults_make_a_one_node_cluster() -> anyhow::Result<()> {
        let c = ServerConfig::load(&ServeArgs::default())?;
        let n = c.node_config()?;
        assert_eq!(n.members.len(), 1);
        assert_eq!(c.http_addr, "127.0.0.1:7070");
        Ok(())
    }

    #[test]
    fn invalid_fields_are_named() {
        for (text, field) in [
            ("shards = 0", "shards"),
            ("max_body_bytes = 1073741824", "max_body_bytes"),
            ("http_addr = \"nowhere\"", "http_addr"),
            ("node_id = \"x\"", "node_id"),
            ("bogus = 1", "bogus"),
            ("node_id = 9\n[[members]]\nid = 1\npeer_addr = \"127.0.0.1:1\"\nhttp_addr = \"127.0.0.1:2\"", "node_id"),
            ("[raft]\nheartbeat_ms = 500\nelection_min_ms = 100", "election_min_ms"),
        ] {
            let err = format!("{:#}", load_toml(text).expect_err(text));
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn unrelated_environment_variables_are_ignored() -> anyhow::Result<()> {
        // Runs in this test's own process: set a variable that is not a field.
        std::env::set_var("ROOST_NOT_A_FIELD", "1");
        let loaded = ServerConfig::load(&ServeArgs::default());
        std::env::remove_var("ROOST_NOT_A_FIELD");
        loaded?;
        Ok(())
    }

    #[test]
    fn cluster_configs_in_the_repo_are_valid() -> anyhow::Result<()> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cluster-config");
        let mut checked = 0;
        for dir in ["single", "local-3", "five"] {
            for entry in std::fs::read_dir(root.join(dir))? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    ServerConfig::load(&ServeArgs {
                        config: Some(path.clone()),
                        ..Default::default()
                    })
                    .with_context(|| path.display().to_string())?;
                    checked += 1;
                }
            }
        }
        assert!(checked >= 9, "only {checked} configs found");
        Ok(())
    }
}
