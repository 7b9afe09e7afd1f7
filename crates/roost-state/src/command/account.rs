//! Commands of publish quotas: accounts and plans (in the metadata group), charges and refunds,
//! owners of queues, and held publishes drained into their queues.

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::{GroupId, Payer, Plan, PlanLimits, QueueId, META_GROUP};

/// Appends every held publish of the queue, in order (after a plan was raised).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainHeld {
    /// Target queue.
    pub queue: QueueId,
}

impl Operation for DrainHeld {
    fn retry_safe(&self) -> bool {
        true
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Records the account that claimed a queue (the first claim wins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetOwner {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
    /// The claiming account.
    pub owner: String,
}

impl Operation for SetOwner {
    fn retry_safe(&self) -> bool {
        true
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Creates an account (metadata group; operator only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAccount {
    /// Its id, chosen by the proposer.
    pub id: String,
    /// Its plan.
    pub plan: Plan,
}

impl Operation for CreateAccount {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// Adds a key to an account (metadata group; operator only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddAccountKey {
    /// The account.
    pub account: String,
    /// Digest of the new key.
    pub key_digest: [u8; 32],
}

impl Operation for AddAccountKey {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// Changes an account's plan (metadata group; operator only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPlan {
    /// The account.
    pub account: String,
    /// The new plan.
    pub plan: Plan,
}

impl Operation for SetPlan {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// Claims a queue for the account holding a key (metadata group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Digest of the account key presented.
    pub key_digest: [u8; 32],
    /// The queue (its key was proven by `roost-api`).
    pub queue: QueueId,
}

impl Operation for Claim {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// Counts one publish against a payer's monthly limit, if under it (metadata group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// Who pays.
    pub payer: Payer,
    /// The operator's limits.
    pub limits: PlanLimits,
}

impl Operation for Charge {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// Records that an account's held publishes were drained after upgrade `upgrade`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainDone {
    /// The account.
    pub account: String,
    /// The upgrade the drain served.
    pub upgrade: u64,
}

impl Operation for DrainDone {
    fn retry_safe(&self) -> bool {
        true
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// A [`Command::Charge`] that, over the limit, also counts `bytes` against the payer's
/// held backlog for the month, and refuses (`HeldFull`) past `max_held_bytes`, so a payer
/// cannot park unbounded data in held publishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeHold {
    /// Who pays.
    pub payer: Payer,
    /// Limits per plan.
    pub limits: PlanLimits,
    /// Size of the publish's payload.
    pub bytes: u64,
    /// Most payload bytes one payer may have held back a month.
    pub max_held_bytes: u64,
}

impl Operation for ChargeHold {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// Gives back a charge of `month` whose publish stored nothing (an idempotent replay, a
/// refusal, a retry of a held publish); a charge of an earlier month is left alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Who was charged.
    pub payer: Payer,
    /// The month of the charge, as the proposer's clock had it.
    pub month: u32,
}

impl Operation for Refund {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}

/// Appends up to `max` of a queue's held publishes, oldest first, after its plan was
/// raised; the driver repeats it until fewer come back, so no entry grows with the backlog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainHeldChunk {
    /// The queue.
    pub queue: QueueId,
    /// Most publishes to append.
    pub max: u64,
}

impl Operation for DrainHeldChunk {
    fn retry_safe(&self) -> bool {
        true
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Gives back `bytes` of a payer's held backlog of `month` that a [`Command::ChargeHold`]
/// counted for a publish that held nothing new (a retry of a held publish).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundHeld {
    /// Who was charged.
    pub payer: Payer,
    /// The month of the charge, as the proposer's clock had it.
    pub month: u32,
    /// The bytes counted.
    pub bytes: u64,
}

impl Operation for RefundHeld {
    fn retry_safe(&self) -> bool {
        false
    }

    fn group(&self) -> Option<GroupId> {
        Some(META_GROUP)
    }
}
