//! Publish quotas: accounts and plans (metadata group), monthly charges, and publishes held
//! back over the limit until the plan is raised (queue shards).

use super::messages::{append, NewMessage};
use super::{refuse, Effect, Effects, Lookup, Outcome, ShardState};
use crate::account::month_of;
use crate::{
    Account, CommandError, HeldPublish, IdempotencyRecord, LookupError, Payer, Plan, PlanLimits,
    QueryResult, QueueId, Response, Source, META_GROUP,
};

/// Held publishes appended per lookup while draining.
const DRAIN_CHUNK: usize = 1024;

impl ShardState {
    /// Stores a publish over its payer's quota instead of appending it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn hold(
        &mut self,
        now: u64,
        queue: &QueueId,
        auth: &[u8; 32],
        msg: NewMessage<'_>,
        pending_id: &str,
        idempotency: Option<&(String, [u8; 32])>,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.authorized(queue, auth) {
            return refuse(e);
        }
        if let Some((key, digest)) = idempotency {
            if let Some(rec) = lookup.idempotency(queue, key)? {
                if now.saturating_sub(rec.at_ms) < crate::queue::IDEMPOTENCY_WINDOW_MS {
                    if rec.body_digest != *digest {
                        return refuse(CommandError::IdempotencyMismatch);
                    }
                    return Ok(Ok(if rec.seq == 0 {
                        Response::Held { pending_id: rec.id }
                    } else {
                        Response::Published {
                            seq: rec.seq,
                            id: rec.id,
                            published_at_ms: rec.at_ms,
                            replayed: true,
                        }
                    }));
                }
            }
        }
        let Some(q) = self.queues.get_mut(queue) else {
            return refuse(CommandError::QueueNotFound);
        };
        let row = q.held_next_row;
        q.held_next_row += 1;
        q.held_len += 1;
        fx.push(Effect::PutHeld {
            queue: queue.clone(),
            row,
            held: HeldPublish {
                pending_id: pending_id.to_owned(),
                id: msg.id.to_owned(),
                payload: msg.payload.to_owned(),
                held_at_ms: now,
                idempotency: idempotency.cloned(),
            },
        });
        if let Some((key, digest)) = idempotency {
            // seq 0 marks a held publish: a retry gets the same pending id, not a new row.
            fx.push(Effect::PutIdempotency {
                queue: queue.clone(),
                key: key.clone(),
                record: IdempotencyRecord {
                    body_digest: *digest,
                    seq: 0,
                    id: pending_id.to_owned(),
                    at_ms: now,
                },
            });
        }
        fx.push(Effect::PutQueue(queue.clone()));
        Ok(Ok(Response::Held {
            pending_id: pending_id.to_owned(),
        }))
    }

    pub(super) fn drain_held_chunk(
        &mut self,
        now: u64,
        queue: &QueueId,
        max: u64,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        if !self.queues.contains_key(queue) {
            return refuse(CommandError::QueueNotFound);
        }
        let count = self.drain_held_into(now, queue, max, lookup, fx)?;
        Ok(Ok(Response::Drained { count }))
    }

    /// Appends up to `max` held publishes of `queue` in order, as `quota-drain` envelopes.
    pub(super) fn drain_held_into(
        &mut self,
        now: u64,
        queue: &QueueId,
        max: u64,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Result<u64, LookupError> {
        let mut drained = 0;
        let mut after = 0;
        while drained < max && self.queues.get(queue).is_some_and(|q| q.held_len > 0) {
            let want = (max - drained).min(DRAIN_CHUNK as u64) as usize;
            let rows = lookup.held(queue, after, want)?;
            let Some(q) = self.queues.get_mut(queue) else {
                break;
            };
            let Some((last, _)) = rows.last() else {
                // The count says more, storage has none: trust storage.
                q.held_len = 0;
                fx.push(Effect::PutQueue(queue.clone()));
                break;
            };
            after = *last;
            for (_, held) in &rows {
                let msg = NewMessage {
                    id: &held.id,
                    payload: &held.payload,
                    source: &Source::QuotaDrain,
                };
                let envelope = append(q, now, msg, fx);
                if let Some((key, digest)) = &held.idempotency {
                    // The key now answers the seq the held publish finally got.
                    fx.push(Effect::PutIdempotency {
                        queue: queue.clone(),
                        key: key.clone(),
                        record: IdempotencyRecord {
                            body_digest: *digest,
                            seq: envelope.seq,
                            id: envelope.id,
                            at_ms: held.held_at_ms,
                        },
                    });
                }
            }
            drained += rows.len() as u64;
            q.held_len = q.held_len.saturating_sub(rows.len() as u64);
            fx.push(Effect::DeleteHeld {
                queue: queue.clone(),
                through: after,
            });
        }
        Ok(drained)
    }

    pub(super) fn set_owner(
        &mut self,
        queue: &QueueId,
        auth: &[u8; 32],
        owner: &str,
        fx: &mut Effects,
    ) -> Outcome {
        let q = match self.authorized_mut(queue, auth) {
            Ok(q) => q,
            Err(e) => return refuse(e),
        };
        match &q.owner {
            Some(current) if current != owner => return refuse(CommandError::QueueClaimed),
            Some(_) => {}
            None => {
                q.owner = Some(owner.to_owned());
                fx.push(Effect::PutQueue(queue.clone()));
            }
        }
        Ok(Ok(Response::Owner {
            owner: owner.to_owned(),
        }))
    }

    fn meta_only(&self) -> Result<(), CommandError> {
        if self.group == META_GROUP {
            Ok(())
        } else {
            Err(CommandError::Invalid(
                "accounts live in the metadata group".into(),
            ))
        }
    }

    pub(super) fn create_account(
        &mut self,
        now: u64,
        id: &str,
        plan: Plan,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.meta_only() {
            return refuse(e);
        }
        if self.accounts.contains_key(id) {
            return refuse(CommandError::Invalid("account id already exists".into()));
        }
        let account = Account {
            id: id.to_owned(),
            plan,
            key_digests: Default::default(),
            month: month_of(now),
            used: 0,
            queues: Default::default(),
            upgrades: 0,
            drained: 0,
        };
        self.accounts.insert(id.to_owned(), account.clone());
        fx.push(Effect::PutAccount(id.to_owned()));
        Ok(Ok(Response::AccountState { account }))
    }

    pub(super) fn add_account_key(
        &mut self,
        id: &str,
        key: &[u8; 32],
        fx: &mut Effects,
    ) -> Outcome {
        let Some(account) = self.accounts.get_mut(id) else {
            return refuse(CommandError::AccountNotFound);
        };
        account.key_digests.insert(*key);
        self.account_keys.insert(*key, id.to_owned());
        fx.push(Effect::PutAccount(id.to_owned()));
        Ok(Ok(Response::AccountState {
            account: account.clone(),
        }))
    }

    pub(super) fn set_plan(&mut self, id: &str, plan: Plan, fx: &mut Effects) -> Outcome {
        let Some(account) = self.accounts.get_mut(id) else {
            return refuse(CommandError::AccountNotFound);
        };
        if plan > account.plan {
            // A raise releases held publishes: the drain driver works until `drained` catches up.
            account.upgrades += 1;
        }
        account.plan = plan;
        fx.push(Effect::PutAccount(id.to_owned()));
        Ok(Ok(Response::AccountState {
            account: account.clone(),
        }))
    }

    pub(super) fn claim(&mut self, key: &[u8; 32], queue: &QueueId, fx: &mut Effects) -> Outcome {
        let Some(id) = self.account_keys.get(key).cloned() else {
            return refuse(CommandError::AccountNotFound);
        };
        let Some(account) = self.accounts.get_mut(&id) else {
            return refuse(CommandError::AccountNotFound);
        };
        if account.queues.insert(queue.clone()) {
            fx.push(Effect::PutAccount(id.clone()));
        }
        Ok(Ok(Response::Owner { owner: id }))
    }

    pub(super) fn charge(
        &mut self,
        now: u64,
        payer: &Payer,
        limits: PlanLimits,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.meta_only() {
            return refuse(e);
        }
        let month = month_of(now);
        let (plan, usage) = match payer {
            Payer::Account(id) => {
                let Some(account) = self.accounts.get_mut(id) else {
                    return refuse(CommandError::AccountNotFound);
                };
                fx.push(Effect::PutAccount(id.clone()));
                if account.month != month {
                    account.month = month;
                    account.used = 0;
                }
                (account.plan, &mut account.used)
            }
            Payer::Ip(ip) => {
                fx.push(Effect::PutIpUsage(ip.clone()));
                let entry = self.ip_usage.entry(ip.clone()).or_insert((month, 0));
                if entry.0 != month {
                    *entry = (month, 0);
                }
                (Plan::Free, &mut entry.1)
            }
        };
        let limit = limits.of(plan);
        let allowed = limit.is_none_or(|l| *usage < l);
        if allowed {
            *usage += 1;
        }
        Ok(Ok(Response::Charged {
            allowed,
            plan,
            used: *usage,
            limit,
        }))
    }

    pub(super) fn charge_hold(
        &mut self,
        now: u64,
        payer: &Payer,
        limits: PlanLimits,
        bytes: u64,
        max_held_bytes: u64,
        fx: &mut Effects,
    ) -> Outcome {
        let charged = self.charge(now, payer, limits, fx)?;
        if !matches!(charged, Ok(Response::Charged { allowed: false, .. })) {
            return Ok(charged);
        }
        let name = held_counter(payer);
        let month = month_of(now);
        let held = self.ip_usage.entry(name.clone()).or_insert((month, 0));
        if held.0 != month {
            *held = (month, 0);
        }
        let full = held.1.saturating_add(bytes) > max_held_bytes;
        if !full {
            held.1 += bytes;
        }
        fx.push(Effect::PutIpUsage(name));
        if full {
            return refuse(CommandError::HeldFull {
                max_bytes: max_held_bytes,
            });
        }
        Ok(charged)
    }

    pub(super) fn refund_held(
        &mut self,
        payer: &Payer,
        month: u32,
        bytes: u64,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.meta_only() {
            return refuse(e);
        }
        let name = held_counter(payer);
        if let Some(held) = self.ip_usage.get_mut(&name).filter(|(m, _)| *m == month) {
            held.1 = held.1.saturating_sub(bytes);
            fx.push(Effect::PutIpUsage(name));
        }
        Ok(Ok(Response::Done))
    }

    pub(super) fn refund(&mut self, payer: &Payer, month: u32, fx: &mut Effects) -> Outcome {
        if let Err(e) = self.meta_only() {
            return refuse(e);
        }
        let used = match payer {
            Payer::Account(id) => self
                .accounts
                .get_mut(id)
                .filter(|a| a.month == month)
                .map(|a| &mut a.used),
            Payer::Ip(ip) => self
                .ip_usage
                .get_mut(ip)
                .filter(|(m, _)| *m == month)
                .map(|(_, used)| used),
        };
        if let Some(used) = used.filter(|u| **u > 0) {
            *used -= 1;
            fx.push(match payer {
                Payer::Account(id) => Effect::PutAccount(id.clone()),
                Payer::Ip(ip) => Effect::PutIpUsage(ip.clone()),
            });
        }
        Ok(Ok(Response::Done))
    }

    pub(super) fn drain_done(&mut self, id: &str, upgrade: u64, fx: &mut Effects) -> Outcome {
        let Some(account) = self.accounts.get_mut(id) else {
            return refuse(CommandError::AccountNotFound);
        };
        if upgrade > account.drained {
            account.drained = upgrade.min(account.upgrades);
            fx.push(Effect::PutAccount(id.to_owned()));
        }
        Ok(Ok(Response::Done))
    }

    pub(super) fn drain_work(&self) -> QueryResult {
        QueryResult::DrainWork(
            self.accounts
                .values()
                .filter(|a| a.upgrades > a.drained)
                .map(|a| (a.id.clone(), a.upgrades, a.queues.iter().cloned().collect()))
                .collect(),
        )
    }
}

/// The counter of a payer's held bytes: kept beside the payers' publish counters (the same
/// record kind, under a name no address has).
fn held_counter(payer: &Payer) -> String {
    match payer {
        Payer::Account(id) => format!("held:account:{id}"),
        Payer::Ip(ip) => format!("held:ip:{ip}"),
    }
}
