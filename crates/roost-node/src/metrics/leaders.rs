//! Watching each group's leader: one `info` line and one count per change, so an operator
//! sees every election in the logs and in `roost_raft_leader_changes`.

use std::sync::Arc;

use roost_state::GroupId;
use roost_types::{NodeId, Raft};
use tokio_util::sync::CancellationToken;

use super::Metrics;

/// Follows `group`'s openraft metrics until the group or the node stops, counting and
/// logging every change of leader this node sees.
pub(crate) async fn watch(
    group: GroupId,
    raft: Raft,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut rx = raft.metrics();
    // The last leader this node knew; `None` until the first election it sees.
    let mut known: Option<NodeId> = None;
    loop {
        let (leader, term) = {
            let m = rx.borrow_and_update();
            (m.current_leader, m.current_term)
        };
        // A group between leaders (`None`) is not a change yet: the change is the next leader.
        if let Some(new) = leader.filter(|l| Some(*l) != known) {
            metrics.leader_changed(group);
            match known {
                Some(old) => tracing::info!(group, old, new, term, "leader changed"),
                None => tracing::info!(group, new, term, "leader known"),
            }
            known = Some(new);
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return },
            _ = shutdown.cancelled() => return,
        }
    }
}
