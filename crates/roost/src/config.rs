//! Server configuration: defaults, then a TOML file, then `ROOST_*` environment variables, then
//! command-line flags. An invalid value stops the start with a message naming the field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use roost_node::{Member, NodeConfig, PeerTls, RaftTuning};
use serde::{Deserialize, Serialize};

use crate::secrets;

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
    /// Join a running cluster through any member's HTTP address (`http://host:port`): learn
    /// its members and shard count there, never bootstrap, and serve once an operator added
    /// this node (`roost admin add-node`). Keep it on every later start too.
    #[arg(long)]
    pub join: Option<String>,
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
    /// A member's HTTP URL to join a running cluster through (see `--join`).
    pub join: Option<String>,
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
    /// Queues and forms created per client IP per minute (creating needs no key).
    pub creates_per_minute: u32,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Registered consumers one queue may have.
    pub max_consumers_per_queue: u32,
    /// Queues nothing was ever published to are deleted this long after creation (0: never).
    pub expire_unused_queues_after_secs: u64,
    /// Allowed CORS origins one queue may have.
    pub max_origins_per_queue: u32,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Raft tuning.
    pub raft: RaftTuning,
    /// The operator API.
    pub admin: AdminConfig,
    /// Publish quotas.
    pub quotas: QuotaConfig,
    /// Workspace tokens (jobs, work queues).
    pub auth: AuthConfig,
    /// How long finished jobs are kept, per final status.
    pub job_ttl_secs: JobTtlConfig,
    /// Job webhooks.
    pub webhooks: WebhooksConfig,
    /// How the HTTP listener treats slow, idle and numerous clients.
    pub http: HttpConfig,
    /// The MCP endpoint at `/mcp`.
    pub mcp: McpConfig,
    /// The base URL clients reach this node (or its load balancer) by, for the absolute links
    /// in answers; unset: the request's `Host`.
    pub public_url: Option<String>,
    /// TLS on the client listeners (HTTP and gRPC).
    pub tls: Option<TlsConfig>,
    /// Mutual TLS between peers.
    pub peer_tls: Option<PeerTlsConfig>,
    /// Let peers off loopback speak plaintext without `[peer_tls]` (warned at every start).
    pub allow_insecure_peers: bool,
}

/// `[tls]`: the certificate the HTTP edge and the client gRPC API present (PEM files, reloaded
/// on SIGHUP or when they change).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain.
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
}

/// `[peer_tls]`: this node's certificate and key, and the CA every member's certificate must
/// chain to (PEM files; `roost certs` makes a development set).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerTlsConfig {
    /// This node's certificate (chain).
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
    /// The CA certificate peers must present a certificate of.
    pub ca_file: PathBuf,
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

/// `[http]`: deadlines and caps of the HTTP listener, so slow or idle clients cannot hold a
/// node's connections.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Longest wait for a request's headers, and for the next request on an idle keep-alive
    /// connection.
    pub header_timeout_secs: u64,
    /// Longest pause between chunks of a request body.
    pub body_timeout_secs: u64,
    /// Most client connections open at once; past it a connection gets 503 and is closed.
    pub max_connections: usize,
    /// Requests one client address may keep waiting at once (long polls, job waits, event
    /// streams, waiting claims); past it 429.
    pub max_waiters_per_client: usize,
    /// Log one `info` line per HTTP request: route template, status, latency, and whether
    /// it was forwarded to another node's leader. Off by default.
    pub access_log: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let d = roost_http::ConnLimits::default();
        HttpConfig {
            header_timeout_secs: d.header_timeout.as_secs(),
            body_timeout_secs: d.body_timeout.as_secs(),
            max_connections: d.max_connections,
            max_waiters_per_client: 256,
            access_log: false,
        }
    }
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

/// `[mcp]`: the MCP endpoint every node serves at `/mcp` (Streamable HTTP).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Whether `/mcp` is served.
    pub enabled: bool,
    /// `Host` header values `/mcp` accepts (`name` or `name:port`); empty accepts any, as the
    /// HTTP API does. Name the hosts clients use when browsers on the same machine must not
    /// reach the node through a rebinding DNS name.
    pub allowed_hosts: Vec<String>,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            enabled: true,
            allowed_hosts: Vec::new(),
        }
    }
}

/// `[admin]`: the operator API under `/admin` (members, accounts and plans).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// The key the operator API wants as Bearer; unset refuses every caller.
    pub operator_key: Option<String>,
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
    /// The operator key's former place, still read: `[admin] operator_key` is the one to set.
    pub operator_key: Option<String>,
    /// Where over-quota answers point people to upgrade.
    pub upgrade_url: String,
    /// Most payload bytes one payer may have held back (over its limit) a month; past it an
    /// over-quota publish is refused, not kept.
    pub max_held_bytes: u64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            enabled: false,
            free: 100,
            pro: 10_000,
            operator_key: None,
            upgrade_url: String::new(),
            max_held_bytes: 16 * 1024 * 1024,
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
            join: None,
            request_timeout_ms: 5_000,
            tick_interval_ms: 1_000,
            retention_max_age_secs: 7 * 24 * 3600,
            retention_max_messages: 1_000_000,
            form_submissions_per_minute: 30,
            creates_per_minute: 60,
            max_body_bytes: 256 * 1024,
            max_consumers_per_queue: roost_state::QueueCaps::default().max_consumers,
            expire_unused_queues_after_secs: 0,
            max_origins_per_queue: roost_state::QueueCaps::default().max_origins,
            log_format: "text".into(),
            raft: RaftTuning::default(),
            admin: AdminConfig::default(),
            quotas: QuotaConfig::default(),
            auth: AuthConfig::default(),
            job_ttl_secs: JobTtlConfig::default(),
            webhooks: WebhooksConfig::default(),
            http: HttpConfig::default(),
            mcp: McpConfig::default(),
            public_url: None,
            tls: None,
            peer_tls: None,
            allow_insecure_peers: false,
        }
    }
}

/// The top-level fields, for picking configuration out of the environment: read off the
/// defaults, so a new field is configurable by environment as soon as it exists.
fn fields() -> Vec<String> {
    match serde_json::to_value(ServerConfig::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The prefix of every environment variable that configures a node.
const ENV_PREFIX: &str = "ROOST_";

/// The environment variable that sets the field at `path` (`raft.heartbeat_ms` is
/// `ROOST_RAFT__HEARTBEAT_MS`).
fn env_var(path: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        path.replace('.', "__").to_ascii_uppercase()
    )
}

/// Where a value came from, for error messages: ` (from ROOST_SHARDS)`, ` (from FILE)`.
fn origin(metadata: Option<&figment::Metadata>, path: &str) -> String {
    match metadata {
        Some(m) if m.name.contains("environment variable") => format!(" (from {})", env_var(path)),
        Some(m) => match &m.source {
            Some(source) => format!(" (from {source})"),
            None => String::new(),
        },
        None => String::new(),
    }
}

/// One line per problem, each naming the field and where its value came from.
fn describe(errors: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let mut field = e.path.join(".");
            if let figment::error::Kind::UnknownField(name, _) = &e.kind {
                field = if field.is_empty() {
                    name.clone()
                } else {
                    format!("{field}.{name}")
                };
            }
            let from = origin(e.metadata.as_ref(), &field);
            format!("{field}: {}{from}", e.kind)
        })
        .collect();
    anyhow::anyhow!("invalid configuration: {}", lines.join("; "))
}

/// Whether `addr` (`host:port`) can only be reached from this machine.
fn on_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A field whose value is refused, and why.
#[derive(Debug)]
struct Invalid {
    field: String,
    reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// The key bytes of a Standard Webhooks secret (`whsec_` + base64).
fn decode_webhook_secret(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    let b64 = text.strip_prefix("whsec_").unwrap_or(text);
    base64::engine::general_purpose::STANDARD.decode(b64)
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
        // figment hands the filter the variable's own case (`GRPC_ADDR`), hence the uncased
        // comparison.
        let fields = fields();
        let env = Env::prefixed(ENV_PREFIX).split("__").filter(move |key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            fields.iter().any(|f| f.eq_ignore_ascii_case(top))
        });
        figment = figment.merge(env);
        let mut config: ServerConfig = figment.extract().map_err(describe)?;
        let mut flags = Vec::new();
        if let Some(v) = &args.data_dir {
            config.data_dir = v.clone();
            flags.push(("data_dir", "--data-dir"));
        }
        if let Some(v) = &args.http_addr {
            config.http_addr = v.clone();
            flags.push(("http_addr", "--http-addr"));
        }
        if let Some(v) = &args.peer_addr {
            config.peer_addr = v.clone();
            flags.push(("peer_addr", "--peer-addr"));
        }
        if let Some(v) = args.node_id {
            config.node_id = v;
            flags.push(("node_id", "--node-id"));
        }
        if let Some(v) = &args.join {
            config.join = Some(v.clone());
            flags.push(("join", "--join"));
        }
        config.validate().map_err(|e| {
            let from = match flags.iter().find(|(field, _)| *field == e.field) {
                Some((_, flag)) => format!(" (from {flag})"),
                None => origin(figment.find_metadata(&e.field), &e.field),
            };
            anyhow::anyhow!("invalid configuration: {}: {}{from}", e.field, e.reason)
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Invalid> {
        let address = |field: &str, addr: &str| {
            addr.parse::<SocketAddr>()
                .map(drop)
                .map_err(|_| invalid(field, format!("{addr:?} is not an ip:port address")))
        };
        if !self.grpc_addr.is_empty() {
            address("grpc_addr", &self.grpc_addr)?;
        }
        address("http_addr", &self.http_addr)?;
        address("peer_addr", &self.peer_addr)?;
        // Every message travels inside Raft entries between peers; 16 MiB keeps one entry well
        // under the peer message limit and replication batches quick.
        if !(1..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(invalid("max_body_bytes", "must be between 1 and 16 MiB"));
        }
        if self.request_timeout_ms == 0 {
            return Err(invalid("request_timeout_ms", "must be positive"));
        }
        if self
            .auth
            .jwt_secret
            .as_deref()
            .is_some_and(|k| k.len() < 32)
        {
            return Err(invalid("auth.jwt_secret", "must be at least 32 characters"));
        }
        if let (Some(new), Some(old)) = (&self.admin.operator_key, &self.quotas.operator_key) {
            if new != old {
                return Err(invalid(
                    "quotas.operator_key",
                    "differs from admin.operator_key: keep only [admin] operator_key",
                ));
            }
        }
        if self.operator_key().is_some_and(|k| k.len() < 16) {
            let field = if self.admin.operator_key.is_some() {
                "admin.operator_key"
            } else {
                "quotas.operator_key"
            };
            return Err(invalid(field, "must be at least 16 characters"));
        }
        if let Some(secret) = &self.webhooks.secret {
            decode_webhook_secret(secret)
                .map_err(|_| invalid("webhooks.secret", "must be whsec_ followed by base64"))?;
        }
        if let Some(url) = &self.public_url {
            let plain = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .map(|rest| rest.trim_end_matches('/'));
            if !plain.is_some_and(roost_http::is_plain_host) {
                return Err(invalid(
                    "public_url",
                    "must be http(s):// followed by a host[:port] (no path, query or user)",
                ));
            }
        }
        if self.max_consumers_per_queue == 0 {
            return Err(invalid("max_consumers_per_queue", "must be at least 1"));
        }
        if self.max_origins_per_queue == 0 {
            return Err(invalid("max_origins_per_queue", "must be at least 1"));
        }
        if self.creates_per_minute == 0 {
            return Err(invalid("creates_per_minute", "must be at least 1"));
        }
        if !(1..=3600).contains(&self.http.header_timeout_secs) {
            return Err(invalid("http.header_timeout_secs", "must be 1-3600"));
        }
        if !(1..=3600).contains(&self.http.body_timeout_secs) {
            return Err(invalid("http.body_timeout_secs", "must be 1-3600"));
        }
        if !(1..=1_000_000).contains(&self.http.max_connections) {
            return Err(invalid("http.max_connections", "must be 1-1000000"));
        }
        if !(1..=1_000_000).contains(&self.http.max_waiters_per_client) {
            return Err(invalid("http.max_waiters_per_client", "must be 1-1000000"));
        }
        if self.tick_interval_ms < 10 {
            return Err(invalid("tick_interval_ms", "must be at least 10"));
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            return Err(invalid("log_format", "must be \"text\" or \"json\""));
        }
        if let Some(url) = &self.join {
            // The client below speaks plain HTTP only (no TLS stack in this binary's client).
            if !url.starts_with("http://") {
                return Err(invalid(
                    "join",
                    format!("{url:?} is not a member's http:// address"),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.members {
            if !seen.insert(m.id) {
                return Err(invalid("members", format!("node id {} listed twice", m.id)));
            }
        }
        if self.peer_tls.is_none() && !self.allow_insecure_peers {
            let exposed = self.peers_off_loopback();
            if !exposed.is_empty() {
                return Err(invalid(
                    "peer_tls",
                    format!(
                        "peers at {} are not on loopback, and anyone who reaches a peer port \
                         could rewrite the cluster's state: set [peer_tls] (cert_file, key_file, \
                         ca_file; `roost certs` makes a development set) or, knowingly, \
                         allow_insecure_peers = true",
                        exposed.join(", ")
                    ),
                ));
            }
        }
        if let Some(tls) = &self.tls {
            roost_tls::ReloadingCert::load(&tls.cert_file, &tls.key_file).map_err(|e| {
                let field = match &e {
                    roost_tls::Error::Read { path, .. }
                    | roost_tls::Error::Invalid { path, .. }
                        if *path == tls.key_file =>
                    {
                        "tls.key_file"
                    }
                    _ => "tls.cert_file",
                };
                invalid(field, e.to_string())
            })?;
        }
        let peer_tls = self.peer_tls()?;
        // Validation must not create files: check the node settings with a placeholder key.
        self.node_config_with(Vec::new(), peer_tls)
            .validate()
            .map_err(|e| match e {
                roost_node::NodeError::InvalidField { field, why } => invalid(field, why),
                other => invalid("", other.to_string()),
            })?;
        Ok(())
    }

    /// The node's configuration.
    pub fn node_config(&self) -> anyhow::Result<NodeConfig> {
        let peer_tls = self
            .peer_tls()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}: {}", e.field, e.reason))?;
        Ok(self.node_config_with(self.webhook_secret()?, peer_tls))
    }

    /// The peer listener's address and every member's, where not on loopback.
    pub fn peers_off_loopback(&self) -> Vec<String> {
        std::iter::once(&self.peer_addr)
            .chain(self.members.iter().map(|m| &m.peer_addr))
            .filter(|a| !on_loopback(a))
            .cloned()
            .collect()
    }

    /// The peer certificates, read and checked.
    fn peer_tls(&self) -> Result<Option<PeerTls>, Invalid> {
        let Some(files) = &self.peer_tls else {
            return Ok(None);
        };
        let read = |field: &str, path: &PathBuf| {
            std::fs::read(path).map_err(|e| {
                invalid(
                    &format!("peer_tls.{field}"),
                    format!("{}: {e}", path.display()),
                )
            })
        };
        let cert = read("cert_file", &files.cert_file)?;
        let key = read("key_file", &files.key_file)?;
        let ca = read("ca_file", &files.ca_file)?;
        PeerTls::from_pem(cert, key, ca)
            .map(Some)
            .map_err(|e| invalid(&format!("peer_tls.{}", e.file), e.reason))
    }

    fn node_config_with(&self, webhook_secret: Vec<u8>, peer_tls: Option<PeerTls>) -> NodeConfig {
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
        NodeConfig {
            id: self.node_id,
            data_dir: self.data_dir.clone(),
            peer_listen: self.peer_addr.clone(),
            members,
            shards: self.shards,
            raft: self.raft.clone(),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            tick_interval: Duration::from_millis(self.tick_interval_ms),
            max_waiters_per_client: self.http.max_waiters_per_client,
            quotas: self.quotas.enabled.then_some(roost_node::Quotas {
                plans: roost_state::PlanLimits {
                    free: self.quotas.free,
                    pro: self.quotas.pro,
                },
                max_held_bytes: self.quotas.max_held_bytes,
            }),
            expire_unused_queues: (self.expire_unused_queues_after_secs > 0)
                .then(|| Duration::from_secs(self.expire_unused_queues_after_secs)),
            webhooks: roost_node::WebhookConfig {
                secret: webhook_secret,
                allow_private: self.webhooks.allow_private_addresses,
            },
            peer_tls,
            joining: self.join.is_some(),
        }
    }

    /// Where a generated webhook signing secret is kept.
    pub fn webhook_secret_file(&self) -> PathBuf {
        self.data_dir.join("webhook.secret")
    }

    /// The webhook signing key: the configured `whsec_…` secret, or one generated into the data
    /// dir on first use.
    pub fn webhook_secret(&self) -> anyhow::Result<Vec<u8>> {
        let text = match &self.webhooks.secret {
            Some(s) => s.clone(),
            None => secrets::read_or_create(&self.webhook_secret_file(), || {
                use base64::Engine;
                let mut bytes = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                format!("whsec_{encoded}")
            })?,
        };
        decode_webhook_secret(&text)
            .context("invalid configuration: webhooks.secret: must be whsec_ followed by base64")
    }

    /// The HTTP listener's deadlines and cap.
    pub fn conn_limits(&self) -> roost_http::ConnLimits {
        roost_http::ConnLimits {
            header_timeout: std::time::Duration::from_secs(self.http.header_timeout_secs),
            body_timeout: std::time::Duration::from_secs(self.http.body_timeout_secs),
            max_connections: self.http.max_connections,
        }
    }

    /// The application layer's limits and defaults.
    pub fn api_settings(&self) -> roost_api::Settings {
        let positive = |v: u64| (v > 0).then_some(v);
        roost_api::Settings {
            max_document_bytes: self.max_body_bytes,
            job_ttl: roost_state::JobTtl {
                completed_ms: self.job_ttl_secs.completed.saturating_mul(1000),
                failed_ms: self.job_ttl_secs.failed.saturating_mul(1000),
                cancelled_ms: self.job_ttl_secs.cancelled.saturating_mul(1000),
            },
            retention: roost_state::Retention {
                max_age_ms: positive(self.retention_max_age_secs.saturating_mul(1000)),
                max_messages: positive(self.retention_max_messages),
            },
            queue_caps: roost_state::QueueCaps {
                max_consumers: self.max_consumers_per_queue,
                max_origins: self.max_origins_per_queue,
            },
            creates_per_minute: self.creates_per_minute,
            form_submissions_per_minute: self.form_submissions_per_minute,
            operator_key_digest: self.operator_key().map(|k| roost_api::digest(k.as_bytes())),
        }
    }

    /// The operator key: `[admin] operator_key`, or its former name `[quotas] operator_key`.
    fn operator_key(&self) -> Option<&str> {
        self.admin
            .operator_key
            .as_deref()
            .or(self.quotas.operator_key.as_deref())
    }

    /// How `/mcp` accepts requests.
    pub fn mcp_settings(&self) -> roost_mcp::http::Settings {
        roost_mcp::http::Settings {
            allowed_hosts: self.mcp.allowed_hosts.clone(),
            // The JSON-RPC envelope around the largest document.
            max_body_bytes: self.max_body_bytes + 64 * 1024,
        }
    }

    /// The HTTP edge's own limits.
    pub fn limits(&self) -> roost_http::Limits {
        roost_http::Limits {
            max_body_bytes: self.max_body_bytes,
            upgrade_url: self.quotas.upgrade_url.clone(),
            access_log: self.http.access_log,
        }
    }
}

#[cfg(test)]
mod tests;
