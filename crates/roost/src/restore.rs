//! `roost restore`: the data dir of a node of a new cluster, from a backup.

use std::path::PathBuf;

use anyhow::{ensure, Context};

/// Flags of `roost restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup (`roost admin backup --out`).
    #[arg(long)]
    from: PathBuf,
    /// The new node's data dir: absent or empty.
    #[arg(long)]
    data_dir: PathBuf,
    /// The new node's id (any, in the new cluster's member list).
    #[arg(long)]
    node_id: u64,
}

/// Checks the backup and prepares the data dir (see `roost_node::backup::restore`).
pub fn run(args: RestoreArgs) -> anyhow::Result<()> {
    ensure!(args.node_id > 0, "--node-id must be a positive node id");
    let manifest = roost_node::backup::restore(&args.from, &args.data_dir)
        .with_context(|| format!("restoring {}", args.from.display()))?;
    println!(
        "restored the backup node {} took at {} ms into {} for node {}: {} groups. Restore the \
         same backup for every member of the new cluster, configure it with shards = {}, and \
         start each with `roost serve --node-id <id> --data-dir <dir>`: the cluster gets a new \
         cluster id, roster and Raft logs, and keeps the data and group clocks.",
        manifest.taken_by,
        manifest.taken_at_ms,
        args.data_dir.display(),
        args.node_id,
        manifest.groups.len(),
        manifest.shards
    );
    Ok(())
}
