//! Forms: `POST /new` creates one, `POST /f/{id}` takes public submissions (urlencoded or
//! JSON, with a honeypot field and a per-IP rate limit), `GET /api/forms/{id}/submissions`
//! lists them for the form key holder, and `PUT /api/forms/{id}` binds the form to a queue
//! (proof of both keys) so every later submission is mirrored into it. Each handler parses,
//! calls `roost_api::Api` and renders.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use roost_api::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::bearer_token;
use crate::queues::parse_param;
use crate::wire::{base_url, timestamp};
use crate::{body, ApiError, AppState};

/// The form routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/new", post(create))
        .route("/f/{id}", post(submit))
        .route("/api/forms/{id}", put(bind))
        .route("/api/forms/{id}/submissions", get(submissions))
}

/// The `_links` of a form: where each of its operations is.
#[derive(Serialize)]
struct FormLinks {
    submit: String,
    submissions: String,
    bind: String,
}

fn form_links(base: &str, id: &str) -> FormLinks {
    FormLinks {
        submit: format!("{base}/f/{id}"),
        submissions: format!("{base}/api/forms/{id}/submissions"),
        bind: format!("{base}/api/forms/{id}"),
    }
}

/// Body of `POST /new`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    name: String,
}

async fn create(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateBody = body::json(&bytes)?;
    let form = s.api.create_form(Some(peer.ip()), req.name).await?;
    let base = base_url(&s.links, &headers);
    let id = form.id.as_str();
    #[derive(Serialize)]
    struct Created<'a> {
        form_id: &'a str,
        form_api_key: &'a str,
        submit_url: String,
        #[serde(rename = "_help")]
        help: &'static str,
        #[serde(rename = "_links")]
        links: FormLinks,
    }
    let body = Created {
        form_id: id,
        form_api_key: &form.key,
        submit_url: format!("{base}/f/{id}"),
        help: "Form created. Capture form_api_key NOW — it is shown only once. Point an HTML form or any client at submit_url; read submissions with GET /api/forms/{id}/submissions using the key as Bearer.",
        links: form_links(&base, id),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A submission body as a JSON object: JSON as sent, or urlencoded fields (a repeated field
/// becomes a list).
fn fields(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidBody,
            "submission is not UTF-8",
            "Send text fields.",
        )
    })?;
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!("submission is not a JSON object: {e}"),
                "Send a JSON object or urlencoded fields.",
            )
        });
    }
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            None => {
                map.insert(k.into_owned(), v);
            }
            Some(Value::Array(list)) => list.push(v),
            Some(first) => *first = Value::Array(vec![first.take(), v]),
        }
    }
    Ok(map)
}

async fn submit(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let fields = fields(&bytes)?;
    #[derive(Serialize)]
    struct Submitted {
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        submission_id: Option<String>,
    }
    let submission_id = s.api.submit_form(Some(peer.ip()), &raw, fields).await?;
    Ok(Json(Submitted {
        ok: true,
        submission_id,
    })
    .into_response())
}

/// Query string of the submissions listing.
#[derive(Deserialize)]
struct PageParams {
    cursor: Option<String>,
    limit: Option<String>,
}

async fn submissions(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    UrlQuery(params): UrlQuery<PageParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cursor = parse_param("cursor", params.cursor.as_deref(), ErrorCode::InvalidCursor)?;
    let limit = parse_param("limit", params.limit.as_deref(), ErrorCode::InvalidLimit)?;
    let page = s
        .api
        .submissions(&raw, bearer_token(&headers), cursor, limit)
        .await?;
    let base = base_url(&s.links, &headers);
    let id = page.form.id.as_str();
    Ok(Json(SubmissionPage {
        form_id: id,
        name: &page.form.name,
        queue_id: page.form.binding.as_ref().map(|b| b.queue.as_str()),
        mirror_error: page.form.mirror_error.as_deref(),
        submissions: page
            .rows
            .iter()
            .map(|sub| SubmissionView {
                submission_id: &sub.id,
                seq: sub.seq,
                submitted_at: timestamp(sub.at_ms),
                fields: roost_api::views::raw(&sub.payload),
            })
            .collect(),
        next_cursor: page.next_cursor,
        has_more: page.has_more,
        help:
            "Submissions in the order they arrived; pass next_cursor as cursor for the next page.",
        links: form_links(&base, id),
    })
    .into_response())
}

/// A page of a form's submissions; the fields are served as they were stored.
#[derive(Serialize)]
struct SubmissionPage<'a> {
    form_id: &'a str,
    name: &'a str,
    queue_id: Option<&'a str>,
    mirror_error: Option<&'a str>,
    submissions: Vec<SubmissionView<'a>>,
    next_cursor: u64,
    has_more: bool,
    #[serde(rename = "_help")]
    help: &'static str,
    #[serde(rename = "_links")]
    links: FormLinks,
}

/// One submission.
#[derive(Serialize)]
struct SubmissionView<'a> {
    submission_id: &'a str,
    seq: u64,
    submitted_at: String,
    fields: &'a serde_json::value::RawValue,
}

async fn bind(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::BindForm = body::json(&bytes)?;
    let queue_key = req
        .queue_api_key
        .as_deref()
        .or_else(|| headers.get("x-queue-api-key").and_then(|v| v.to_str().ok()));
    let (form, queue) = s
        .api
        .bind_form(&raw, bearer_token(&headers), &req.queue_id, queue_key)
        .await?;
    #[derive(Serialize)]
    struct Bound<'a> {
        ok: bool,
        form_id: &'a str,
        queue_id: &'a str,
        #[serde(rename = "_help")]
        help: &'static str,
        #[serde(rename = "_links")]
        links: FormLinks,
    }
    Ok(Json(Bound {
        ok: true,
        form_id: form.as_str(),
        queue_id: queue.as_str(),
        help: "Form bound: every later submission is published into the queue as an envelope with source=form-mirror.",
        links: form_links(&base_url(&s.links, &headers), form.as_str()),
    })
    .into_response())
}
