//! Allowed origins: changing them, answering preflights, granting CORS to queue responses.
//! Every decision reads the queue's current set, so a change applies at once, everywhere.

use roost_api::ErrorCode;
use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Framed, QueueReq};
use crate::openapi::QueueWrite;
use crate::{body, ApiError, AppState};
use roost_api::views::origins_text;

/// Body of `POST /q/{id}/origins`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"add": ["https://app.example"], "remove": []}))]
pub(super) struct OriginsBody {
    /// Origins to allow, as `scheme://host[:port]` (`*` only at create).
    #[serde(default)]
    #[schema(schema_with = roost_wire::schema::origin_list)]
    add: Vec<String>,
    /// Origins to stop allowing.
    #[serde(default)]
    #[schema(schema_with = roost_wire::schema::origin_list)]
    remove: Vec<String>,
}

/// The allowed origins now.
#[derive(Serialize, ToSchema)]
struct Allowed {
    /// Comma-separated, or `*`.
    allowed_origins: String,
}

/// Adds and removes the browser origins allowed to call the queue with its key.
#[utoipa::path(
    post,
    path = "/q/{id}/origins",
    operation_id = "change_origins",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    request_body(content = Option<OriginsBody>, description = "Both lists are optional."),
    responses(
        (status = 200, description = "The allowed origins now.", body = Framed<Allowed>),
        QueueWrite,
    ),
)]
pub(super) async fn change(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: OriginsBody = body::json(&bytes)?;
    let origins = s
        .api
        .change_origins(&q.queue, &req.add, &req.remove)
        .await?;
    Ok(q.reply(
        StatusCode::OK,
        Allowed {
            allowed_origins: origins_text(&origins),
        },
        "Allowed-origins list updated. CORS preflight will accept the new set immediately for OPTIONS /q/{id}/* — no restart required. The * wildcard cannot be set from this endpoint; re-create the queue with allowed_origins=* to unrestrict.",
    ))
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
    let raw = params.get("id").map_or("", String::as_str);
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Err(ApiError::new(
            ErrorCode::MissingOrigin,
            "a CORS preflight needs an Origin header",
            "Browsers send Origin themselves; send it when testing by hand.",
        ));
    };
    let origins = s.api.queue_origins(raw).await?;
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
pub async fn grant(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let id = req
        .uri()
        .path()
        .strip_prefix("/q/")
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let mut resp = next.run(req).await;
    if let (Some(origin), Some(id)) = (origin, id) {
        let allowed = match s.api.queue_origins(&id).await {
            Ok(origins) => origin.to_str().is_ok_and(|o| origins.allows(o)),
            Err(_) => false,
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
