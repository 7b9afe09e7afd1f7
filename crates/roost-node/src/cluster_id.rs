//! The cluster's id, kept in the data dir (`cluster_id`) and carried by every peer RPC (see
//! `roost_network::security`). The member that bootstraps the metadata group makes it; every
//! other member adopts it from the first peer RPC that carries it and keeps it from then on.
//! A node whose data dir holds another cluster's id is refused by this cluster, not merged.

use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

use rand::Rng;
use roost_network::ClusterId;

use crate::{NodeConfig, NodeError};

const FILE: &str = "cluster_id";

/// This node's cluster id: from its data dir, made now if this node bootstraps the metadata
/// group and has none (a new cluster, or a data dir from before cluster ids), else learnt later.
pub(crate) fn load(config: &NodeConfig) -> Result<ClusterId, NodeError> {
    let path = config.data_dir.join(FILE);
    let known = match fs::read_to_string(&path) {
        Ok(text) => Some(text.trim().to_owned()),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    // A joining node never makes one, whatever its id: the cluster it joins has one.
    let bootstraps_meta = !config.joining && config.members.keys().next() == Some(&config.id);
    let known = match known {
        Some(id) => Some(id),
        None if bootstraps_meta => {
            let id = format!("{:032x}", rand::rng().random::<u128>());
            roost_storage::durable::write(&path, id.as_bytes())?;
            tracing::info!(cluster_id = %id, "made the cluster id");
            Some(id)
        }
        None => None,
    };
    if let Some(id) = &known {
        tracing::info!(cluster_id = %id, "cluster");
    }
    let keep: PathBuf = path.clone();
    ClusterId::new(known, move |id| {
        roost_storage::durable::write(&keep, id.as_bytes()).map_err(|e| e.to_string())
    })
    .map_err(NodeError::Config)
}
