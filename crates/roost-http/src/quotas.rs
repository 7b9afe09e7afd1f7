//! Publish quotas (off unless configured): the operator API for accounts and plans under
//! `/admin`. Each handler parses, calls `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_state::{Account, PlanLimits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::bearer_token;
use crate::openapi::{OperatorRead, OperatorWrite};
use crate::{body, ApiError, AppState};

/// The `/admin` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_account))
        .routes(routes!(get_account))
        .routes(routes!(mint_account_key))
        .routes(routes!(set_plan))
}

/// An account as the operator sees it.
#[derive(Serialize, ToSchema)]
struct AccountView<'a> {
    /// The account.
    account_id: &'a str,
    /// `free` or `pro`.
    plan: &'static str,
    /// Publishes a month its plan allows (`null`: no limit).
    monthly_limit: Option<u64>,
    /// Publishes counted this month.
    used_this_month: u64,
    /// The queues it claimed.
    #[schema(value_type = Vec<String>)]
    queues: &'a std::collections::BTreeSet<roost_state::QueueId>,
    /// How many keys it has.
    keys: usize,
    /// Whether held publishes are still being drained after an upgrade.
    drain_pending: bool,
    /// What to do next.
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"plan": "pro"}))]
struct PlanBody {
    /// `free` (the default) or `pro`.
    #[serde(default)]
    #[schema(pattern = "^(free|pro)$")]
    plan: Option<String>,
}

/// A minted account key.
#[derive(Serialize, ToSchema)]
struct Minted<'a> {
    /// The account.
    account_id: &'a str,
    /// The key, shown this once.
    account_key: &'a str,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'static str,
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/admin/accounts",
    operation_id = "create_account",
    tag = "accounts",
    security(("operator_key" = [])),
    request_body(content = Option<PlanBody>, description = "Optional: no body is the free plan."),
    responses(
        (status = 201, description = "The account.", body = AccountView),
        OperatorWrite,
    ),
)]
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

/// An account's plan, usage and queues.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}",
    operation_id = "get_account",
    tag = "accounts",
    params(("id" = String, Path, description = "The account's id.")),
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The account.", body = AccountView),
        OperatorRead,
    ),
)]
async fn get_account(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = s.api.get_account(bearer_token(&headers), &id).await?;
    let view = AccountView::of(&account, s.api.plan_limits()?, None);
    Ok(Json(view).into_response())
}

/// Mints a key for the account; it is in the answer, and only there.
#[utoipa::path(
    post,
    path = "/admin/accounts/{id}/keys",
    operation_id = "mint_account_key",
    tag = "accounts",
    params(("id" = String, Path, description = "The account's id.")),
    security(("operator_key" = [])),
    responses(
        (status = 201, description = "The key (shown this once).", body = Minted),
        OperatorWrite,
    ),
)]
async fn mint_account_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let minted = s.api.mint_account_key(bearer_token(&headers), &id).await?;
    let body = Minted {
        account_id: &minted.account.id,
        account_key: &minted.key,
        help: "Capture account_key NOW — it is shown only once. Send it as X-Account-Key with a queue's key to claim the queue.",
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Changes the account's plan; publishes held by the old limit drain into their queues.
#[utoipa::path(
    put,
    path = "/admin/accounts/{id}/plan",
    operation_id = "set_plan",
    tag = "accounts",
    params(("id" = String, Path, description = "The account's id.")),
    security(("operator_key" = [])),
    request_body(content = Option<PlanBody>, description = "Optional: no body is the free plan."),
    responses(
        (status = 200, description = "The account.", body = AccountView),
        OperatorWrite,
    ),
)]
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
