//! Publish quotas, charged exactly once per stored message on every path that stores one (an
//! HTTP or gRPC publish, a DLQ replay, a form mirrored into its queue).
//!
//! The order matters: the queue key is proven first (a publish with a wrong key is never
//! charged); the payer — the queue's owning account, else the publisher's address — is charged
//! in the metadata group; the publish is applied without releasing held publishes (only a
//! plan raise does that); and a charge whose publish stored nothing (an idempotent replay, a
//! refusal, a retry of a held publish) is given back. Only a crash between the charge and the
//! refund can leave one charge too many.

use rand::Rng;
use roost_state::command as cmd;
use roost_state::{
    month_of, Command, CommandError, Payer, Plan, PlanLimits, Query, QueryResult, QueueId,
    Response, META_GROUP,
};

use crate::proposer::now_ms;
use crate::{Node, NodeError};

/// The operator's quota settings.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    /// Monthly publish limits per plan.
    pub plans: PlanLimits,
    /// Most payload bytes one payer may have held back a month; past it an over-quota
    /// publish is refused rather than kept.
    pub max_held_bytes: u64,
}

/// Why a publish was held back (or a replay refused): the payer's plan and use.
#[derive(Clone, Debug)]
pub struct Denied {
    /// The payer's plan.
    pub plan: Plan,
    /// Publishes counted this month.
    pub used: u64,
    /// The plan's monthly limit.
    pub limit: Option<u64>,
    /// Whether an account pays (else the publisher's address does).
    pub owned: bool,
}

/// A charged publish: what the queue's shard answered, and why it was held, if it was.
#[derive(Debug)]
pub struct Charged {
    /// The shard's answer (`Published`, `Held` or `Refused`).
    pub response: Response,
    /// Set when the payer was over its limit and the publish was held.
    pub denied: Option<Denied>,
}

/// A charged replay: applied, or refused because the payer is over its limit.
#[derive(Debug)]
pub enum Replay {
    /// What the queue's shard answered.
    Applied(Box<Response>),
    /// Over the limit: nothing was replayed (a replay is not held; the DLQ keeps it).
    OverQuota(Denied),
}

/// The outcome of charging one publish.
enum Charge {
    /// Quotas are off.
    Free,
    /// Refused before charging (a wrong key, no such queue).
    Refused(CommandError),
    /// Counted against `payer` in `month`.
    Allowed { payer: Payer, month: u32 },
    /// Over the limit; nothing counted (but the payload's bytes, to be held, in `month`).
    Denied {
        denied: Denied,
        payer: Payer,
        month: u32,
    },
}

impl Node {
    /// Applies `publish` (a [`Command::Publish`] without `hold`) charged to its payer: the
    /// queue's owner, else `publisher` (the client's address, or what stands for it).
    pub async fn publish_charged(
        &self,
        mut publish: Command,
        publisher: &str,
    ) -> Result<Charged, NodeError> {
        let Command::Publish(cmd::Publish {
            queue,
            auth,
            payload,
            ..
        }) = &publish
        else {
            return Err(NodeError::Unexpected(
                "publish_charged takes a publish".into(),
            ));
        };
        let (queue, auth, bytes) = (queue.clone(), *auth, payload.len() as u64);
        let charge = self.charge(&queue, &auth, publisher, Some(bytes)).await?;
        let pending = match &charge {
            Charge::Free => {
                let response = self.write(queue.shard(), publish).await?;
                return Ok(Charged {
                    response,
                    denied: None,
                });
            }
            Charge::Refused(e) => {
                return Ok(Charged {
                    response: Response::Refused(e.clone()),
                    denied: None,
                })
            }
            Charge::Allowed { .. } => None,
            Charge::Denied { .. } => Some(format!("pp_{:016x}", rand::rng().random::<u64>())),
        };
        if let Command::Publish(cmd::Publish { hold, .. }) = &mut publish {
            hold.clone_from(&pending);
        }
        let publish = Command::KeepHeld(cmd::KeepHeld {
            command: Box::new(publish),
        });
        let response = self.write(queue.shard(), publish).await?;
        let stored = matches!(
            response,
            Response::Published {
                replayed: false,
                ..
            }
        );
        // Held as a new row only when the shard answered the pending id chosen here.
        let held_new = matches!(&response, Response::Held { pending_id } if Some(pending_id) == pending.as_ref());
        let denied = match charge {
            Charge::Allowed { payer, month } if !stored => {
                self.refund(payer, month).await;
                None
            }
            Charge::Denied {
                denied,
                payer,
                month,
            } => {
                if !held_new {
                    self.refund_held(payer, month, bytes).await;
                }
                Some(denied)
            }
            _ => None,
        };
        Ok(Charged { response, denied })
    }

    /// Applies `replay` (a [`Command::ReplayDlq`]) charged to its payer, like a publish; over
    /// the limit nothing is replayed.
    pub async fn replay_charged(
        &self,
        replay: Command,
        publisher: &str,
    ) -> Result<Replay, NodeError> {
        let Command::ReplayDlq(cmd::ReplayDlq { queue, auth, .. }) = &replay else {
            return Err(NodeError::Unexpected(
                "replay_charged takes a replay".into(),
            ));
        };
        let shard = queue.shard();
        match self.charge(queue, auth, publisher, None).await? {
            Charge::Free => Ok(Replay::Applied(Box::new(self.write(shard, replay).await?))),
            Charge::Refused(e) => Ok(Replay::Applied(Box::new(Response::Refused(e)))),
            Charge::Denied { denied, .. } => Ok(Replay::OverQuota(denied)),
            Charge::Allowed { payer, month } => {
                let response = self.write(shard, replay).await?;
                if !matches!(response, Response::Replayed { .. }) {
                    self.refund(payer, month).await;
                }
                Ok(Replay::Applied(Box::new(response)))
            }
        }
    }

    /// Charges one publish (to be held over the limit when `held_bytes` is given).
    async fn charge(
        &self,
        queue: &QueueId,
        auth: &[u8; 32],
        publisher: &str,
        held_bytes: Option<u64>,
    ) -> Result<Charge, NodeError> {
        let Some(quotas) = self.config().quotas else {
            return Ok(Charge::Free);
        };
        let info = Query::Info {
            queue: queue.clone(),
            auth: *auth,
        };
        // One read proves the key and names the owner.
        let owner = match self.read(queue.shard(), info).await? {
            QueryResult::Info { queue } => queue.owner,
            QueryResult::Refused(e) => return Ok(Charge::Refused(e)),
            other => return Err(NodeError::Unexpected(format!("{other:?}"))),
        };
        let owned = owner.is_some();
        let payer = match owner {
            Some(account) => Payer::Account(account),
            None => Payer::Ip(publisher.to_owned()),
        };
        let month = month_of(now_ms());
        let command = match held_bytes {
            Some(bytes) => Command::ChargeHold(cmd::ChargeHold {
                payer: payer.clone(),
                limits: quotas.plans,
                bytes,
                max_held_bytes: quotas.max_held_bytes,
            }),
            None => Command::Charge(cmd::Charge {
                payer: payer.clone(),
                limits: quotas.plans,
            }),
        };
        match self.write(META_GROUP, command).await? {
            Response::Charged { allowed: true, .. } => Ok(Charge::Allowed { payer, month }),
            Response::Charged {
                plan, used, limit, ..
            } => Ok(Charge::Denied {
                denied: Denied {
                    plan,
                    used,
                    limit,
                    owned,
                },
                payer,
                month,
            }),
            Response::Refused(e) => Ok(Charge::Refused(e)),
            other => Err(NodeError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Gives back held bytes counted for a publish that held nothing new (a retry of a held
    /// publish). Losing it only counts the bytes twice, so a failure is logged.
    async fn refund_held(&self, payer: Payer, month: u32, bytes: u64) {
        let command = Command::RefundHeld(cmd::RefundHeld {
            payer,
            month,
            bytes,
        });
        if let Err(e) = self.write(META_GROUP, command).await {
            tracing::warn!(error = %e, "a held-bytes refund was lost");
        }
    }

    /// Gives back a charge whose publish stored nothing. Losing a refund only over-counts by
    /// one, so a failure is logged, not returned.
    async fn refund(&self, payer: Payer, month: u32) {
        if let Err(e) = self
            .write(META_GROUP, Command::Refund(cmd::Refund { payer, month }))
            .await
        {
            tracing::warn!(error = %e, "a quota refund was lost; one publish stays counted");
        }
    }
}
