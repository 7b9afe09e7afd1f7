//! The `roost` binary: `roost serve` runs a node, `roost admin` drives the operator API,
//! `roost bench` runs the load generator, `roost queue|job|task` call a node for people.

mod admin;
mod certs;
mod cli;
mod config;
mod join;
mod mcp;
mod restore;
mod secrets;
mod tokens;
mod worker;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use config::{ServeArgs, ServerConfig};

/// mimalloc instead of glibc's allocator: a profile of a node under pipelined publishing
/// spent about 16 % of its CPU in glibc `malloc`/`free` (many small, short-lived buffers
/// across threads), which mimalloc's per-thread free lists serve far more cheaply.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Roost: a durable, highly available inbox for AI agents.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a node (a one-node cluster when no config names other members).
    Serve(ServeArgs),
    /// Drive load against running nodes over HTTP and report latency and throughput.
    Bench(roost_bench::BenchArgs),
    /// Workspace tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The cluster's members and backups, through any member's operator API.
    Admin(admin::AdminArgs),
    /// Prepare a new node's data dir from a backup (for a new cluster).
    Restore(restore::RestoreArgs),
    /// Make a development CA and a certificate per node for `[peer_tls]`.
    Certs(certs::CertsArgs),
    /// Serve Roost's MCP tools over stdio, calling a node over HTTP.
    Mcp(mcp::McpArgs),
    /// Run a command for each claimed job (payload on stdin, `progress N` lines and a JSON
    /// result line on stdout).
    Worker(worker::WorkerArgs),
    /// Queues: create, publish, pull, ack, nack, dead letters (JSON out).
    Queue(cli::queue::QueueArgs),
    /// Jobs: create, get, wait, cancel (JSON out).
    Job(cli::job::JobArgs),
    /// Work-queue tasks: add, dequeue (JSON out).
    Task(cli::task::TaskArgs),
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Mint a workspace token with this node's signing key and print it.
    Create(tokens::TokenArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Cmd::Serve(args) => {
            let config = ServerConfig::load(&args)?;
            init_tracing(&config.log_format);
            runtime.block_on(serve(config))
        }
        Cmd::Bench(args) => runtime.block_on(roost_bench::run_and_print(args)),
        Cmd::Token(TokenCmd::Create(args)) => tokens::create(args),
        Cmd::Admin(args) => runtime.block_on(admin::run(args)),
        Cmd::Restore(args) => restore::run(args),
        Cmd::Certs(args) => certs::create(args),
        Cmd::Worker(args) => runtime.block_on(worker::run(args)),
        Cmd::Mcp(args) => runtime.block_on(mcp::run(args)),
        Cmd::Queue(args) => cli::finish(runtime.block_on(cli::queue::run(args))),
        Cmd::Job(args) => cli::finish(runtime.block_on(cli::job::run(args))),
        Cmd::Task(args) => cli::finish(runtime.block_on(cli::task::run(args))),
    }
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(mut config: ServerConfig) -> anyhow::Result<()> {
    // Two steps to stopping: SIGTERM closes the client listeners (`stop_clients`), whose
    // requests finish; then the node drains (hands leadership over) and `shutdown` stops the
    // rest. A refused start cancels `shutdown`, which closes the client listeners too.
    let shutdown = CancellationToken::new();
    let stop_clients = shutdown.child_token();
    secrets::private_dir(&config.data_dir)?;
    join::resolve(&mut config).await?;
    let node_config = config.node_config()?;
    let http = tokio::net::TcpListener::bind(&config.http_addr)
        .await
        .with_context(|| format!("binding http_addr {}", config.http_addr))?;
    let node = roost_node::Node::start(node_config, shutdown.clone())
        .await
        .context("starting the node")?;
    tracing::info!(
        node_id = node.id(),
        http = %config.http_addr,
        peer = %config.peer_addr,
        data_dir = %config.data_dir.display(),
        shards = node.shards(),
        "roost serving"
    );
    tokio::spawn(wait_for_signal(stop_clients.clone()));
    let exposed = config.peers_off_loopback();
    if config.peer_tls.is_none() && !exposed.is_empty() {
        tracing::warn!(
            peers = %exposed.join(", "),
            "allow_insecure_peers: peers off loopback speak plaintext and are not authenticated; \
             anyone who reaches a peer port can rewrite the cluster's state (set [peer_tls])"
        );
    }
    if config.webhooks.secret.is_none() {
        let file = config.webhook_secret_file();
        tracing::info!(file = %file.display(), "job webhooks are signed with the secret in this file (set [webhooks] secret to choose one)");
    }
    let keys = tokens::Keys::load(&config)?;
    let verifier = keys.as_ref().map(tokens::Keys::verifier).transpose()?;
    match &keys {
        Some(keys) if config.auth.jwt_secret.is_none() && config.auth.jwt_public_key_file.is_none() => {
            // A fresh token at every start, in a file only this user can read: never in the log,
            // which is shipped and kept where the secret must not be.
            let token = keys.mint(&tokens::claims("default", "default", Vec::new(), 30 * 24 * 3600))?;
            let file = config.data_dir.join(tokens::DEFAULT_TOKEN_FILE);
            secrets::write(&file, &token)?;
            tracing::info!(file = %file.display(), "a token for workspace \"default\" (valid 30 days) is in this file; mint others with `roost token create`");
        }
        Some(_) => {}
        None => tracing::warn!("no [auth] key configured for this multi-node cluster: the jobs API refuses every request"),
    }
    let api = roost_api::Api::new(Arc::clone(&node), config.api_settings(), verifier);
    let client_tls = match &config.tls {
        Some(files) => {
            let cert = roost_tls::ReloadingCert::load(&files.cert_file, &files.key_file)
                .context("[tls]")?;
            tokio::spawn(roost_tls::watch(
                cert.clone(),
                CERT_CHECK_EVERY,
                shutdown.clone(),
            ));
            Some(cert)
        }
        None => None,
    };
    if !config.grpc_addr.is_empty() {
        let grpc = tokio::net::TcpListener::bind(&config.grpc_addr)
            .await
            .with_context(|| format!("binding grpc_addr {}", config.grpc_addr))?;
        tokio::spawn(serve_grpc(
            grpc,
            client_tls.clone(),
            api.clone(),
            stop_clients.clone(),
        ));
    }
    let links = roost_http::Links {
        public_url: config.public_url.clone(),
        https: client_tls.is_some(),
        listen: config.http_addr.clone(),
    };
    let mut router = roost_http::router(api.clone(), config.limits(), links);
    if config.mcp.enabled {
        let mcp = roost_mcp::http::service(
            Arc::new(roost_mcp::local::Local(api)),
            config.mcp_settings(),
            stop_clients.clone(),
        );
        router = router.nest_service("/mcp", mcp);
    }
    let conn_limits = config.conn_limits();
    let served = match &client_tls {
        Some(cert) => {
            let config = cert.server_config(roost_tls::ALPN_HTTP)?;
            let listener = roost_tls::TlsListener::new(http, config, stop_clients.clone())?;
            roost_http::serve(listener, router, conn_limits, stop_clients.clone()).await
        }
        None => roost_http::serve_tcp(http, router, conn_limits, stop_clients.clone()).await,
    };
    served.context("serving http")?;
    tracing::info!("client requests finished; draining");
    node.drain().await;
    shutdown.cancel();
    match node.refused() {
        Some(why) => anyhow::bail!("the cluster refused this node: {why}"),
        None => Ok(()),
    }
}

/// How often the client listeners' certificate files are looked at for a change.
const CERT_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the client gRPC API on `listener`, over TLS when `tls` is given.
async fn serve_grpc(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<roost_tls::ReloadingCert>>,
    api: roost_api::Api,
    shutdown: CancellationToken,
) {
    let served = match tls {
        Some(cert) => {
            let listener = cert
                .server_config(roost_tls::ALPN_GRPC)
                .map_err(anyhow::Error::from)
                .and_then(|c| Ok(roost_tls::TlsListener::new(listener, c, shutdown.clone())?));
            match listener {
                Ok(l) => roost_grpc::serve(l.into_stream(), api, shutdown).await,
                Err(e) => {
                    tracing::error!(error = %e, "client gRPC listener failed");
                    return;
                }
            }
        }
        None => {
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            roost_grpc::serve(incoming, api, shutdown).await
        }
    };
    if let Err(e) = served {
        tracing::error!(error = %e, "client gRPC listener failed");
    }
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
    shutdown.cancel();
}
