//! The claim of a queue by the account whose key a request carries (quotas only).

use roost_state::command as cmd;
use roost_state::{Command, CommandError, Query, QueryResult, QueueId, Response, META_GROUP};

use super::QueueRef;
use crate::keys::digest;
use crate::{Api, Error, ErrorCode};

impl Api {
    /// Claims `q` for the account holding `account_key`, if quotas are on and the queue has no
    /// owner yet. The queue's shard decides who wins (the first `SetOwner`); only the winner
    /// then lists the queue in its account, so two accounts claiming at once cannot both list
    /// it (and the loser's upgrade cannot drain the winner's held publishes). A claim cut short
    /// between the two steps is finished by the next request carrying the key.
    pub async fn claim_queue(&self, q: &QueueRef, account_key: &str) -> Result<(), Error> {
        if self.node().config().quotas.is_none() {
            return Ok(());
        }
        let key_digest = digest(account_key.trim().as_bytes());
        let by_key = Query::AccountByKey { key_digest };
        let account = match self.node().read(META_GROUP, by_key).await? {
            QueryResult::Account(Some(a)) => a,
            QueryResult::Account(None) => {
                return Err(Error::new(
                    ErrorCode::InvalidAccountKey,
                    "invalid account key",
                    "Send an account key minted by the operator, or leave X-Account-Key out.",
                ))
            }
            other => return Err(Error::unexpected(&other)),
        };
        let owner = match self.owner(&q.id).await? {
            Some(owner) => owner,
            None => {
                let set = Command::SetOwner(cmd::SetOwner {
                    queue: q.id.clone(),
                    auth: q.auth,
                    owner: account.id.clone(),
                });
                match self.node().write(q.id.shard(), set).await? {
                    Response::Owner { owner } => owner,
                    // Another account won the race.
                    Response::Refused(CommandError::QueueClaimed) => return Ok(()),
                    Response::Refused(e) => return Err(e.into()),
                    other => return Err(Error::unexpected(&other)),
                }
            }
        };
        if owner == account.id && !account.queues.contains(&q.id) {
            let claim = Command::Claim(cmd::Claim {
                key_digest,
                queue: q.id.clone(),
            });
            match self.node().write(META_GROUP, claim).await? {
                Response::Owner { .. } => {}
                Response::Refused(e) => return Err(e.into()),
                other => return Err(Error::unexpected(&other)),
            }
        }
        Ok(())
    }

    /// The queue's owner, read through the leader so a claim just made on another node counts.
    async fn owner(&self, id: &QueueId) -> Result<Option<String>, Error> {
        match self.q_read(id, Query::Owner { queue: id.clone() }).await? {
            QueryResult::Owner(owner) => Ok(owner),
            other => Err(Error::unexpected(&other)),
        }
    }
}
