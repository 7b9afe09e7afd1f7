//! The form-mirroring outbox: submissions of bound forms are published into their queues.
//!
//! The form's shard records each submission first; this driver then publishes it to the queue's
//! shard with an Idempotency-Key derived from the submission id and records progress back in
//! the form's shard. A crash or leader change between the two steps only repeats a publish,
//! which the key turns into a no-op, so every submission lands exactly once, in order. With
//! quotas on, each mirrored publish is charged like any other (see `quota`).

use rand::Rng;
use roost_state::command as cmd;
use roost_state::{Command, GroupId, Query, QueryResult, Response, Source};

use crate::{Node, NodeError};

/// Submissions mirrored per drain.
const BATCH: usize = 256;

/// The body digest mirrored publishes present with their key: the key alone names the
/// submission, whose payload never changes.
const MIRROR_DIGEST: [u8; 32] = [0; 32];

/// Publishes pending submissions of `group`'s bound forms into their queues, unless a backup
/// paused the outboxes (see `backup`). One drain runs at
/// a time on a node: two at once would publish the same submissions twice (harmless for the
/// queue, which dedupes by key, but each repeat is charged and refunded, and while a repeat is
/// charged a real submission can find the quota spent).
pub async fn drain(node: &Node, group: GroupId) -> Result<(), NodeError> {
    let Some(_turn) = node.outboxes().turn().await else {
        return Ok(());
    };
    let _one_at_a_time = node.mirroring.lock().await;
    let QueryResult::Outbox(work) = node
        .read(group, Query::MirrorOutbox { limit: BATCH })
        .await?
    else {
        return Ok(());
    };
    let mut left: u64 = work.iter().map(|w| w.submissions.len() as u64).sum();
    node.metrics().set_mirror_backlog(group, left);
    for w in work {
        let mut through = None;
        let mut failed = None;
        for sub in &w.submissions {
            let command = Command::Publish(cmd::Publish {
                queue: w.binding.queue.clone(),
                auth: w.binding.queue_auth,
                id: roost_state::ids::message_id(rand::rng().random()),
                payload: sub.payload.clone(),
                source: Source::FormMirror {
                    form_id: w.form.to_string(),
                },
                idempotency: Some((format!("form-mirror:{}", sub.id), MIRROR_DIGEST)),
                hold: None,
            });
            // Charged like any publish: to the queue's owner, else to the form itself (a
            // public form has no single client address to stand for it).
            let payer = format!("form:{}", w.form);
            let published = match node.publish_charged(command, &payer).await {
                Ok(charged) => charged.response,
                Err(e) => {
                    // That queue's shard is unreachable now: record what got through, go on
                    // with the other forms, and retry the rest at the next tick.
                    tracing::debug!(form = %w.form, error = %e, "mirroring paused");
                    break;
                }
            };
            match published {
                // Held over the quota: it is published when the plan is raised.
                Response::Published { .. } | Response::Held { .. } => {
                    through = Some(sub.seq);
                    left = left.saturating_sub(1);
                }
                Response::Refused(e) => {
                    // The queue is gone or its key changed hands: stop mirroring this form.
                    failed = Some(format!("mirroring into {} stopped: {e}", w.binding.queue));
                    through = Some(sub.seq);
                    break;
                }
                other => {
                    tracing::warn!(?other, "unexpected response to a mirrored publish");
                    break;
                }
            }
        }
        if let Some(through) = through {
            let done = Command::MirrorDone(cmd::MirrorDone {
                form: w.form.clone(),
                through,
                failed,
                queue: w.binding.queue.clone(),
            });
            // If this is lost, the next drain republishes; the Idempotency-Key dedupes it.
            if let Err(e) = node.write(group, done).await {
                tracing::debug!(form = %w.form, error = %e, "mirror progress not recorded");
            }
        }
    }
    node.metrics().set_mirror_backlog(group, left);
    Ok(())
}
