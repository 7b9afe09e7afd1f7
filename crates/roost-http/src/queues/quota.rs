//! The 402 for a publish held over its payer's monthly quota (or a replay refused). The claim
//! of a queue by an account is `roost_api::Api::claim_queue`.

use axum::response::Response;
use roost_api::ErrorCode;
use roost_node::Denied;
use serde::Serialize;
use utoipa::ToSchema;

use super::QueueReq;
use crate::AppState;

/// Seed 003's 402 body: the error fields and the quota's state.
#[derive(Serialize, ToSchema)]
pub struct OverQuota<'a> {
    /// What went wrong.
    error: &'static str,
    /// `quota_exceeded`.
    code: &'static str,
    /// The payer's plan.
    plan: &'static str,
    /// Publishes counted this month.
    current: u64,
    /// The plan's monthly limit (`null`: none).
    limit: Option<u64>,
    /// Where to raise the plan.
    upgrade_url: &'a str,
    /// Whether the message was kept, to replay later.
    auto_enqueued: bool,
    /// Whether raising the plan replays it.
    will_replay_on_upgrade: bool,
    /// The kept publish (`null` for a refused replay).
    pending_publish_id: Option<&'a str>,
}

/// The 402 for a held publish (in the seed's shape), or for a refused replay (`pending_id`
/// `None`: nothing was kept, the dead letter stays in the DLQ).
pub fn over_quota(
    s: &AppState,
    q: &QueueReq,
    denied: &Denied,
    pending_id: Option<&str>,
) -> Response {
    let upgrade_url = &s.limits.upgrade_url;
    let help = if pending_id.is_none() {
        "Monthly queue publish quota exceeded; a replay counts as a publish. The dead letter stays in the DLQ: replay it after the plan is raised or the month turns."
    } else if denied.owned {
        "Monthly queue publish quota exceeded. Your message was queued and will replay automatically when you upgrade to Pro."
    } else {
        "Monthly queue publish quota exceeded for this address. Your message was kept; it replays once the queue is claimed by an account (send X-Account-Key with the queue key) and that account upgrades."
    };
    let body = OverQuota {
        error: "monthly queue publish quota exceeded",
        code: ErrorCode::QuotaExceeded.as_str(),
        plan: denied.plan.as_str(),
        current: denied.used,
        limit: denied.limit,
        upgrade_url,
        auto_enqueued: pending_id.is_some(),
        will_replay_on_upgrade: pending_id.is_some() && denied.owned,
        pending_publish_id: pending_id,
    };
    q.reply(crate::error::status(ErrorCode::QuotaExceeded), body, help)
}
