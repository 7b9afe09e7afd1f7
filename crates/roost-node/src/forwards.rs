//! Where one request's writes and reads went: served here, or forwarded to another node's
//! leader. The access log says which, and the HTTP edge names the leader to the client so that
//! its next request to that shard can skip the forward hop.

use std::cell::Cell;
use std::future::Future;

use roost_types::NodeId;

/// What [`noting_forwards`] saw of one request's routing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwards {
    /// Whether any of its writes or reads went to another node's leader.
    pub forwarded: bool,
    /// The leader its last write or read went to, when that was another node (a client that
    /// sends there next skips the forward hop); `None` when this node served it last.
    pub leader: Option<NodeId>,
}

tokio::task_local! {
    /// Where a request's work went (see [`Forwards`]).
    static FORWARDS: Cell<Forwards>;
}

/// Runs `request` and says whether any of its writes or reads was forwarded to another node,
/// and to which leader last (for the access log and the HTTP edge's leader hint; cheap enough
/// to run for every request).
pub async fn noting_forwards<F: Future>(request: F) -> (F::Output, Forwards) {
    FORWARDS
        .scope(Cell::new(Forwards::default()), async {
            let out = request.await;
            (out, FORWARDS.with(Cell::get))
        })
        .await
}

/// Notes, for [`noting_forwards`], that the current request was forwarded to `leader`.
pub(crate) fn note_forward(leader: NodeId) {
    let _ = FORWARDS.try_with(|f| {
        f.set(Forwards {
            forwarded: true,
            leader: Some(leader),
        });
    });
}

/// Notes, for [`noting_forwards`], that this node served the current request's last write or
/// read as leader (a hint from an earlier forwarded attempt no longer holds).
pub(crate) fn note_local() {
    let _ = FORWARDS.try_with(|f| {
        f.set(Forwards {
            leader: None,
            ..f.get()
        });
    });
}
