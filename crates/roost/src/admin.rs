//! `roost admin`: the operator API (`/admin/cluster`, `/admin/backups`) from the command line.
//! Each subcommand but `backup` is one HTTP call to any member; the answer is printed as the
//! server sent it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use reqwest::Method;
use serde_json::{json, Value};

/// Flags every `roost admin` subcommand takes.
#[derive(clap::Args)]
pub struct AdminArgs {
    /// Any member's HTTP address.
    #[arg(long, env = "ROOST_URL", default_value = "http://127.0.0.1:7070")]
    url: String,
    /// The operator key (`[admin] operator_key`).
    #[arg(long, env = "ROOST_OPERATOR_KEY", hide_env_values = true)]
    key: String,
    #[command(subcommand)]
    command: AdminCmd,
}

#[derive(clap::Subcommand)]
enum AdminCmd {
    /// The members, each group's voters and learners, and how far each member lags.
    Nodes,
    /// Add a node: every group takes it in as a learner, then as a voter once caught up.
    AddNode {
        /// Its node id, never used in this cluster before.
        #[arg(long)]
        id: u64,
        /// Where the other members reach its peer listener.
        #[arg(long)]
        peer_addr: String,
        /// Where clients reach its HTTP listener.
        #[arg(long)]
        http_addr: String,
    },
    /// Remove a node for good (its id can never be used again).
    RemoveNode {
        /// Its node id.
        id: u64,
        /// Even when a group would be left without a quorum of live voters.
        #[arg(long)]
        force: bool,
    },
    /// Whether stopping a node now would leave a group without a quorum of live voters; exits
    /// with status 1 when it would.
    QuorumCritical {
        /// The node's id.
        #[arg(long)]
        node: u64,
    },
    /// Take an online backup of the cluster through the node at `--url`, download it into
    /// `--out` and check every file against its manifest (restore it with `roost restore`).
    Backup {
        /// An empty or absent directory for the backup.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs one subcommand.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/');
    let (method, path, body) = match &args.command {
        AdminCmd::Backup { out } => return backup(base, &args.key, out).await,
        AdminCmd::Nodes => (Method::GET, "/admin/cluster/nodes".to_owned(), None),
        AdminCmd::AddNode {
            id,
            peer_addr,
            http_addr,
        } => (
            Method::POST,
            "/admin/cluster/nodes".to_owned(),
            Some(json!({"id": id, "peer_addr": peer_addr, "http_addr": http_addr})),
        ),
        AdminCmd::RemoveNode { id, force } => (
            Method::DELETE,
            format!("/admin/cluster/nodes/{id}?force={force}"),
            None,
        ),
        AdminCmd::QuorumCritical { node } => (
            Method::GET,
            format!("/admin/cluster/nodes/{node}/quorum-critical"),
            None,
        ),
    };
    let client = reqwest::Client::new();
    let mut request = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(&args.key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request
        .send()
        .await
        .with_context(|| format!("calling {base}"))?;
    let status = resp.status();
    let answer: Value = resp.json().await.context("reading the answer")?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    if !status.is_success() {
        bail!(
            "{status} {}: {}",
            answer["code"].as_str().unwrap_or("error"),
            answer["error"].as_str().unwrap_or("refused")
        );
    }
    if answer["quorum_critical"] == Value::Bool(true) {
        bail!("stopping this node now would leave groups without a quorum");
    }
    Ok(())
}

/// Takes a backup through `base`, downloads it into `out`, checks it and deletes it there.
async fn backup(base: &str, key: &str, out: &Path) -> anyhow::Result<()> {
    let in_use = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if in_use {
        bail!(
            "{} is not empty: back up into a new directory",
            out.display()
        );
    }
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{base}/admin/backups"))
        .bearer_auth(key)
        .send()
        .await
        .with_context(|| format!("calling {base}"))?;
    let status = resp.status();
    let answer: Value = resp.json().await.context("reading the answer")?;
    if !status.is_success() {
        bail!(
            "{status} {}: {}",
            answer["code"].as_str().unwrap_or("error"),
            answer["error"].as_str().unwrap_or("refused")
        );
    }
    let id = answer["id"]
        .as_str()
        .context("the answer names no backup id")?;
    let manifest: roost_node::backup::Manifest =
        serde_json::from_value(answer["manifest"].clone()).context("reading the manifest")?;
    let db = out.join("db");
    std::fs::create_dir_all(&db)?;
    for file in &manifest.files {
        let url = format!("{base}/admin/backups/{id}/files/{}", file.name);
        let mut resp = client.get(&url).bearer_auth(key).send().await?;
        if !resp.status().is_success() {
            bail!("downloading {}: {}", file.name, resp.status());
        }
        let mut to = tokio::fs::File::create(db.join(&file.name)).await?;
        while let Some(chunk) = resp.chunk().await? {
            tokio::io::AsyncWriteExt::write_all(&mut to, &chunk).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut to).await?;
    }
    let text = serde_json::to_vec_pretty(&manifest)?;
    std::fs::write(out.join(roost_node::backup::MANIFEST), text)?;
    roost_node::backup::verify(out).context("checking the download")?;
    let deleted = client
        .delete(format!("{base}/admin/backups/{id}"))
        .bearer_auth(key)
        .send()
        .await;
    if !deleted.is_ok_and(|r| r.status().is_success()) {
        eprintln!("the backup is downloaded and checked, but the node kept its copy: DELETE /admin/backups/{id}");
    }
    let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "backup {id}: {} files, {bytes} bytes, {} groups, shards = {}, checked against its manifest, in {}",
        manifest.files.len(),
        manifest.groups.len(),
        manifest.shards,
        out.display()
    );
    Ok(())
}
