//! Publish quotas (off unless configured): the operator API for accounts and plans under
//! `/admin`. Each handler parses, calls `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use roost_state::{Account, PlanLimits};
use serde::{Deserialize, Serialize};

use crate::auth::bearer_token;
use crate::{body, ApiError, AppState};

/// The `/admin` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/accounts", post(create_account))
        .route("/admin/accounts/{id}", get(get_account))
        .route("/admin/accounts/{id}/keys", post(mint_account_key))
        .route("/admin/accounts/{id}/plan", put(set_plan))
}

/// An account as the operator sees it.
#[derive(Serialize)]
struct AccountView<'a> {
    account_id: &'a str,
    plan: &'static str,
    monthly_limit: Option<u64>,
    used_this_month: u64,
    queues: &'a std::collections::BTreeSet<roost_state::QueueId>,
    keys: usize,
    drain_pending: bool,
    #[serde(rename = "_help", skip_serializing_if = "Option::is_none")]
    help: Option<&'static str>,
}

impl<'a> AccountView<'a> {
    fn of(a: &'a Account, limits: PlanLimits, help: Option<&'static str>) -> Self {
        AccountView {
            account_id: &a.id,
            plan: a.plan.as_str(),
            monthly_limit: limits.of(a.plan),
            used_this_month: a.used,
            queues: &a.queues,
            keys: a.key_digests.len(),
            drain_pending: a.upgrades > a.drained,
            help,
        }
    }
}

/// Body naming a plan.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    #[serde(default)]
    plan: Option<String>,
}

async fn create_account(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The key first, so a caller without it learns nothing from how its body is refused.
    s.api.accounts_operator(bearer_token(&headers))?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: PlanBody = body::json(&bytes)?;
    let account = s
        .api
        .create_account(bearer_token(&headers), req.plan.as_deref())
        .await?;
    let help = "Account created. Mint a key with POST /admin/accounts/{id}/keys; a queue is claimed by the first call carrying its queue key and an X-Account-Key header.";
    let view = AccountView::of(&account, s.api.plan_limits()?, Some(help));
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn get_account(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = s.api.get_account(bearer_token(&headers), &id).await?;
    let view = AccountView::of(&account, s.api.plan_limits()?, None);
    Ok(Json(view).into_response())
}

async fn mint_account_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let minted = s.api.mint_account_key(bearer_token(&headers), &id).await?;
    #[derive(Serialize)]
    struct Minted<'a> {
        account_id: &'a str,
        account_key: &'a str,
        #[serde(rename = "_help")]
        help: &'static str,
    }
    let body = Minted {
        account_id: &minted.account.id,
        account_key: &minted.key,
        help: "Capture account_key NOW — it is shown only once. Send it as X-Account-Key with a queue's key to claim the queue.",
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn set_plan(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The key first, so a caller without it learns nothing from how its body is refused.
    s.api.accounts_operator(bearer_token(&headers))?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: PlanBody = body::json(&bytes)?;
    let account = s
        .api
        .set_plan(bearer_token(&headers), &id, req.plan.as_deref())
        .await?;
    let help = "Plan updated. Publishes held back by the old limit are drained into their queues in their original order within a minute.";
    let view = AccountView::of(&account, s.api.plan_limits()?, Some(help));
    Ok(Json(view).into_response())
}
