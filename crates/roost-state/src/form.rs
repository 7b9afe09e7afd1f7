//! Forms: a public submission endpoint whose submissions can be mirrored into a queue.

use serde::{Deserialize, Serialize};

use crate::{FormId, QueueId};

/// Where a form's submissions are mirrored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The queue receiving mirrored envelopes.
    pub queue: QueueId,
    /// Digest of the queue's key, proven when binding; mirrored publishes present it.
    pub queue_auth: [u8; 32],
}

/// A form's metadata (submissions live in storage).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    /// The form's id.
    pub id: FormId,
    /// SHA-256 digest of the form's key.
    pub key_digest: [u8; 32],
    /// A label given at creation.
    pub name: String,
    /// Leader-stamped creation time, ms since the epoch.
    pub created_at_ms: u64,
    /// Seq of the newest submission; 0 while there is none.
    pub head_seq: u64,
    /// The queue submissions are mirrored to, if bound.
    pub binding: Option<Binding>,
    /// Every submission with `seq <= mirrored_through` needs no mirroring (done, or from before
    /// the binding).
    pub mirrored_through: u64,
    /// Why mirroring stopped, when the bound queue refused a mirrored publish.
    pub mirror_error: Option<String>,
}

impl Form {
    /// Whether submissions wait to be mirrored.
    pub fn mirror_pending(&self) -> bool {
        self.binding.is_some() && self.mirrored_through < self.head_seq
    }
}

/// One stored submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Server-chosen id (`sub_…`).
    pub id: String,
    /// Position in the form: unique, increasing.
    pub seq: u64,
    /// Leader-stamped time, ms since the epoch.
    pub at_ms: u64,
    /// The submitted fields as a JSON object.
    pub payload: String,
}

/// Submissions of one form waiting to be mirrored into its queue, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorWork {
    /// The form.
    pub form: FormId,
    /// Where to publish.
    pub binding: Binding,
    /// What to publish, in order.
    pub submissions: Vec<Submission>,
}
