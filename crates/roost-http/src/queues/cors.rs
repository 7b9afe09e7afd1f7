//! Allowed origins: changing them, answering preflights, granting CORS to queue responses.
//! Every decision reads the queue's current set, so a change applies at once, everywhere.

use roost_api::ErrorCode;
use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roost_state::{Command, Origins, Query, QueryResult, QueueId, Response as Applied};
use serde::Deserialize;
use serde_json::json;

use super::{unexpected, QueueReq};
use crate::wire::queue_id;
use crate::{body, ApiError, AppState};

/// Most origins one queue allows.
const MAX_ORIGINS: usize = 100;

/// How an origin set is shown: `*`, or the origins joined by commas.
pub fn render(origins: &Origins) -> String {
    match origins {
        Origins::Any => "*".into(),
        Origins::List(set) => set.iter().cloned().collect::<Vec<_>>().join(","),
        Origins::None => String::new(),
    }
}

/// Checks one origin: `scheme://host[:port]`, nothing after.
fn check_origin(raw: &str) -> Result<String, ApiError> {
    let o = raw.trim();
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidOrigin,
            format!("{o:?} is not an origin"),
            "Give origins as scheme://host[:port], e.g. https://example.com, without a path.",
        )
    };
    let (scheme, rest) = o.split_once("://").ok_or_else(bad)?;
    let ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && o.len() <= 255
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if ok {
        Ok(o.to_owned())
    } else {
        Err(bad())
    }
}

/// Validates a list of origins (no `*`) into a set.
pub fn origin_set(list: Vec<String>) -> Result<Origins, ApiError> {
    let set = list
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| check_origin(o))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if set.len() > MAX_ORIGINS {
        return Err(ApiError::new(
            ErrorCode::TooManyOriginsInRequest,
            format!("at most {MAX_ORIGINS} origins"),
            "Allow fewer origins, or create the queue with allowed_origins=\"*\".",
        ));
    }
    Ok(if set.is_empty() {
        Origins::None
    } else {
        Origins::List(set)
    })
}

/// Body of `POST /q/{id}/origins`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OriginsBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

pub(super) async fn change(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: OriginsBody = body::json(&bytes)?;
    if req.add.iter().any(|o| o.trim() == "*") {
        return Err(ApiError::new(
            ErrorCode::WildcardNotAllowed,
            "the * wildcard cannot be set from this endpoint",
            "Re-create the queue with allowed_origins=\"*\" to allow every origin.",
        ));
    }
    let names = |list: &[String]| {
        list.iter()
            .map(|o| check_origin(o))
            .collect::<Result<Vec<_>, _>>()
    };
    let command = s.limits.queue_caps.limit(Command::SetOrigins {
        queue: q.id.clone(),
        auth: q.auth,
        add: names(&req.add)?,
        remove: names(&req.remove)?,
    });
    match q.write(&s, command).await? {
        Applied::Origins { origins } => Ok(q.reply(
            StatusCode::OK,
            json!({"allowed_origins": render(&origins)}),
            "Allowed-origins list updated. CORS preflight will accept the new set immediately for OPTIONS /q/{id}/* — no restart required. The * wildcard cannot be set from this endpoint; re-create the queue with allowed_origins=* to unrestrict.",
        )),
        other => Err(unexpected(&other)),
    }
}

/// The queue's current origins (`None`: no such queue).
async fn current(s: &AppState, id: &QueueId) -> Result<Option<Origins>, ApiError> {
    match s
        .node
        .read(id.shard(), Query::Origins { queue: id.clone() })
        .await?
    {
        QueryResult::Origins(origins) => Ok(origins),
        other => Err(unexpected(&other)),
    }
}

fn grant_headers(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// `OPTIONS /q/{id}/*`: grants the preflight when the queue allows the origin.
pub(super) async fn preflight(
    State(s): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = queue_id(params.get("id").map_or("", String::as_str), s.node.shards())?;
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Err(ApiError::new(
            ErrorCode::MissingOrigin,
            "a CORS preflight needs an Origin header",
            "Browsers send Origin themselves; send it when testing by hand.",
        ));
    };
    let origins = current(&s, &id)
        .await?
        .ok_or_else(ApiError::queue_not_found)?;
    if !origin.to_str().is_ok_and(|o| origins.allows(o)) {
        return Err(ApiError::new(
            ErrorCode::OriginNotAllowed,
            "this origin is not allowed for the queue",
            "Add it with POST /q/{id}/origins {\"add\":[\"<origin>\"]}.",
        ));
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    grant_headers(h, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, idempotency-key"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Ok(resp)
}

/// Adds the CORS grant to a per-queue response when the request's origin is allowed.
pub(super) async fn grant(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let id = req
        .uri()
        .path()
        .strip_prefix("/q/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|raw| queue_id(raw, s.node.shards()).ok());
    let mut resp = next.run(req).await;
    if let (Some(origin), Some(id)) = (origin, id) {
        let allowed = match current(&s, &id).await {
            Ok(Some(origins)) => origin.to_str().is_ok_and(|o| origins.allows(o)),
            _ => false,
        };
        if allowed {
            grant_headers(resp.headers_mut(), &origin);
            resp.headers_mut().insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("idempotent-replayed"),
            );
        }
    }
    resp
}
