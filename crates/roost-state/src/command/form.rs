//! Commands on one form: its creation, submissions, its binding to a queue, and the mirror's
//! progress. Each names its form, whose shard applies it.

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::{Binding, FormId, GroupId, QueueId};

/// Creates a form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateForm {
    /// Id chosen by the proposer (encodes this shard).
    pub id: FormId,
    /// SHA-256 of the key shown once to the creator.
    pub key_digest: [u8; 32],
    /// A label.
    pub name: String,
}

impl Operation for CreateForm {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        Some(self.id.shard())
    }
}

/// Stores a submission (public: no key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submit {
    /// Target form.
    pub form: FormId,
    /// Submission id chosen by the proposer.
    pub id: String,
    /// The fields as a JSON object.
    pub payload: String,
}

impl Operation for Submit {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        Some(self.form.shard())
    }
}

/// Mirrors the form's later submissions into a queue. The edge has checked the queue key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindForm {
    /// Target form.
    pub form: FormId,
    /// Digest of the form key presented.
    pub auth: [u8; 32],
    /// Where to mirror.
    pub binding: Binding,
}

impl Operation for BindForm {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        Some(self.form.shard())
    }
}

/// Records that submissions up to `through` were mirrored, or that mirroring failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorDone {
    /// The form.
    pub form: FormId,
    /// Newest submission mirrored (or given up on).
    pub through: u64,
    /// Set when the queue refused: the binding is dropped with this reason.
    pub failed: Option<String>,
    /// The queue the drain published to (a failure only ends that binding).
    pub queue: QueueId,
}

impl Operation for MirrorDone {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        Some(self.form.shard())
    }
}
