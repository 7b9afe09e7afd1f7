//! Publish quotas (off unless configured): the operator API for accounts and plans. Claims and
//! the 402 of a held publish are per-queue (`queues::quota`); charging is the node's
//! (`roost_node::quota`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rand::Rng;
use roost_api::ErrorCode;
use roost_state::{
    Account, Command, Plan, PlanLimits, Query, QueryResult, Response as Applied, META_GROUP,
};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::auth::{bearer_digest, digest, mint_key_with};
use crate::queues::unexpected;
use crate::{body, ApiError, AppState};

/// The operator's quota settings.
#[derive(Clone, Debug)]
pub struct Quotas {
    /// Monthly publish limits per plan.
    pub limits: PlanLimits,
    /// Digest of the operator key guarding `/admin`; `None` disables the operator API.
    pub operator_key_digest: Option<[u8; 32]>,
    /// Where over-quota answers send people to upgrade.
    pub upgrade_url: String,
}

/// The `/admin` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/accounts", post(create_account))
        .route("/admin/accounts/{id}", get(get_account))
        .route("/admin/accounts/{id}/keys", post(mint_account_key))
        .route("/admin/accounts/{id}/plan", put(set_plan))
}

fn quotas(s: &AppState) -> Result<&Quotas, ApiError> {
    s.limits.quotas.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::QuotasDisabled,
            "quotas are not configured on this cluster",
            "Set [quotas] in the server configuration to use accounts and plans.",
        )
    })
}

/// Checks the operator key.
fn operator(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let q = quotas(s)?;
    let presented = bearer_digest(headers)?;
    let ok = q
        .operator_key_digest
        .is_some_and(|d| bool::from(d.ct_eq(&presented)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidOperatorKey,
            "invalid operator key",
            "Send the operator key from the server configuration as 'Authorization: Bearer <key>'.",
        ))
    }
}

fn account_json(a: &Account, limits: PlanLimits) -> Value {
    json!({
        "account_id": a.id,
        "plan": a.plan.as_str(),
        "monthly_limit": limits.of(a.plan),
        "used_this_month": a.used,
        "queues": a.queues,
        "keys": a.key_digests.len(),
        "drain_pending": a.upgrades > a.drained,
    })
}

fn parse_plan(raw: &str) -> Result<Plan, ApiError> {
    Plan::parse(raw).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidPlan,
            format!("unknown plan {raw:?}"),
            "Use one of: free, pro, unlimited.",
        )
    })
}

/// Body naming a plan.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    #[serde(default)]
    plan: Option<String>,
}

async fn meta_write(s: &AppState, command: Command) -> Result<Account, ApiError> {
    match s.node.write(META_GROUP, command).await? {
        Applied::AccountState { account } => Ok(account),
        Applied::Refused(e) => Err(e.into()),
        other => Err(unexpected(&other)),
    }
}

async fn create_account(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    operator(&s, &headers)?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: PlanBody = body::json(&bytes)?;
    let plan = parse_plan(req.plan.as_deref().unwrap_or("free"))?;
    let id = format!("acct_{:016x}", rand::rng().random::<u64>());
    let account = meta_write(&s, Command::CreateAccount { id, plan }).await?;
    let mut body = account_json(&account, quotas(&s)?.limits);
    body["_help"] = json!("Account created. Mint a key with POST /admin/accounts/{id}/keys; a queue is claimed by the first call carrying its queue key and an X-Account-Key header.");
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn get_account(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&s, &headers)?;
    match s.node.read(META_GROUP, Query::Account { id }).await? {
        QueryResult::Account(Some(a)) => {
            Ok(Json(account_json(&a, quotas(&s)?.limits)).into_response())
        }
        QueryResult::Account(None) => Err(roost_state::CommandError::AccountNotFound.into()),
        other => Err(unexpected(&other)),
    }
}

async fn mint_account_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&s, &headers)?;
    let key = mint_key_with("ak_");
    let command = Command::AddAccountKey {
        account: id,
        key_digest: digest(key.as_bytes()),
    };
    let account = meta_write(&s, command).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "account_id": account.id,
            "account_key": key,
            "_help": "Capture account_key NOW — it is shown only once. Send it as X-Account-Key with a queue's key to claim the queue.",
        })),
    )
        .into_response())
}

async fn set_plan(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    operator(&s, &headers)?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: PlanBody = body::json(&bytes)?;
    let raw = req.plan.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidPlan,
            "plan is required",
            "Send {\"plan\":\"pro\"}.",
        )
    })?;
    let plan = parse_plan(&raw)?;
    let account = meta_write(&s, Command::SetPlan { account: id, plan }).await?;
    if account.upgrades > account.drained {
        s.node.drain_held_soon();
    }
    let mut body = account_json(&account, quotas(&s)?.limits);
    body["_help"] = json!("Plan updated. Publishes held back by the old limit are drained into their queues in their original order within a minute.");
    Ok(Json(body).into_response())
}
