//! A queue's side of publish quotas: the claim by the account whose key a request carries, and
//! the 402 for a publish held over its payer's limit (or a replay refused).

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roost_api::ErrorCode;
use roost_node::Denied;
use roost_state::{Command, Query, QueryResult, QueueId, Response as Applied, META_GROUP};
use serde_json::json;

use super::{unexpected, QueueReq};
use crate::auth::digest;
use crate::{ApiError, AppState};

/// The header carrying an account key, which claims the queue it is sent to.
const ACCOUNT_KEY_HEADER: &str = "x-account-key";

/// Claims `q` for the account whose key `headers` carry, if quotas are on and the queue has
/// no owner yet. The queue's shard decides who wins (the first `SetOwner`); only the winner
/// then lists the queue in its account, so two accounts claiming at once cannot both list it
/// (and the loser's upgrade cannot drain the winner's held publishes). A claim cut short
/// between the two steps is finished by the next request carrying the key.
pub async fn claim_if_asked(
    s: &AppState,
    headers: &HeaderMap,
    q: &QueueReq,
) -> Result<(), ApiError> {
    if s.limits.quotas.is_none() {
        return Ok(());
    }
    let Some(key) = headers
        .get(ACCOUNT_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(());
    };
    let key_digest = digest(key.trim().as_bytes());
    let by_key = Query::AccountByKey { key_digest };
    let account = match s.node.read(META_GROUP, by_key).await? {
        QueryResult::Account(Some(a)) => a,
        QueryResult::Account(None) => {
            return Err(ApiError::new(
                ErrorCode::InvalidAccountKey,
                "invalid account key",
                "Send an account key minted by the operator, or leave X-Account-Key out.",
            ))
        }
        other => return Err(unexpected(&other)),
    };
    let owner = match owner(s, &q.id).await? {
        Some(owner) => owner,
        None => {
            let set = Command::SetOwner {
                queue: q.id.clone(),
                auth: q.auth,
                owner: account.id.clone(),
            };
            match s.node.write(q.id.shard(), set).await? {
                Applied::Owner { owner } => owner,
                // Another account won the race.
                Applied::Refused(roost_state::CommandError::QueueClaimed) => return Ok(()),
                Applied::Refused(e) => return Err(e.into()),
                other => return Err(unexpected(&other)),
            }
        }
    };
    if owner == account.id && !account.queues.contains(&q.id) {
        let claim = Command::Claim {
            key_digest,
            queue: q.id.clone(),
        };
        match s.node.write(META_GROUP, claim).await? {
            Applied::Owner { .. } => {}
            Applied::Refused(e) => return Err(e.into()),
            other => return Err(unexpected(&other)),
        }
    }
    Ok(())
}

/// The queue's owner, read through the leader so a claim just made on another node counts.
async fn owner(s: &AppState, id: &QueueId) -> Result<Option<String>, ApiError> {
    let query = Query::Owner { queue: id.clone() };
    match s.node.read(id.shard(), query).await? {
        QueryResult::Owner(owner) => Ok(owner),
        other => Err(unexpected(&other)),
    }
}

/// The 402 for a held publish (in the seed's shape), or for a refused replay (`pending_id`
/// `None`: nothing was kept, the dead letter stays in the DLQ).
pub fn over_quota(
    s: &AppState,
    q: &QueueReq,
    denied: &Denied,
    pending_id: Option<&str>,
) -> Response {
    let upgrade_url = s
        .limits
        .quotas
        .as_ref()
        .map(|c| c.upgrade_url.clone())
        .unwrap_or_default();
    let help = if pending_id.is_none() {
        "Monthly queue publish quota exceeded; a replay counts as a publish. The dead letter stays in the DLQ: replay it after the plan is raised or the month turns."
    } else if denied.owned {
        "Monthly queue publish quota exceeded. Your message was queued and will replay automatically when you upgrade to Pro."
    } else {
        "Monthly queue publish quota exceeded for this address. Your message was kept; it replays once the queue is claimed by an account (send X-Account-Key with the queue key) and that account upgrades."
    };
    let body = json!({
        "error": "monthly queue publish quota exceeded",
        "code": "quota_exceeded",
        "plan": denied.plan.as_str(),
        "current": denied.used,
        "limit": denied.limit,
        "upgrade_url": upgrade_url,
        "auto_enqueued": pending_id.is_some(),
        "will_replay_on_upgrade": pending_id.is_some() && denied.owned,
        "pending_publish_id": pending_id,
    });
    q.reply(StatusCode::PAYMENT_REQUIRED, body, help)
}
