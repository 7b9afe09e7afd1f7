//! Forms: `POST /new` creates one, `POST /f/{id}` takes public submissions (urlencoded or
//! JSON, with a honeypot field and a per-IP rate limit), `GET /api/forms/{id}/submissions`
//! lists them for the form key holder, and `PUT /api/forms/{id}` binds the form to a queue
//! (proof of both keys) so every later submission is mirrored into it.

use roost_api::ErrorCode;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rand::Rng;
use roost_state::{Binding, Command, FormId, Query, QueryResult, QueueId, Response as Applied};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::{bearer_digest, digest, mint_key_with};
use crate::queues::{limit_param, parse_param, unexpected};
use crate::wire::{base_url, queue_id, timestamp};
use crate::{body, ApiError, AppState};

/// The honeypot field: people never fill it in, form-filling bots do.
const HONEYPOT: &str = "_gotcha";

/// The form routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/new", post(create))
        .route("/f/{id}", post(submit))
        .route("/api/forms/{id}", put(bind))
        .route("/api/forms/{id}/submissions", get(submissions))
}

fn form_id(raw: &str, shards: u32) -> Result<FormId, ApiError> {
    FormId::parse(raw)
        .filter(|id| (1..=shards).contains(&id.shard()))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::FormNotFound,
                "form not found",
                "Check the form id; create a form with POST /new.",
            )
        })
}

fn form_links(base: &str, id: &FormId) -> Value {
    json!({
        "submit": format!("{base}/f/{id}"),
        "submissions": format!("{base}/api/forms/{id}/submissions"),
        "bind": format!("{base}/api/forms/{id}"),
    })
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
    if !s.creates.allow(peer.ip(), s.limits.creates_per_minute) {
        return Ok(crate::rate::limited("creates"));
    }
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateBody = body::json(&bytes)?;
    if req.name.len() > 200 {
        return Err(ApiError::new(
            ErrorCode::InvalidName,
            "name must be at most 200 bytes",
            "Use a shorter name.",
        ));
    }
    let key = mint_key_with("fk_");
    let shard = s.node.pick_shard();
    let id = FormId::new(shard, rand::rng().random());
    let command = Command::CreateForm {
        id: id.clone(),
        key_digest: digest(key.as_bytes()),
        name: req.name,
    };
    match s.node.write(shard, command).await? {
        Applied::FormCreated { .. } => {}
        Applied::Refused(e) => return Err(e.into()),
        other => return Err(unexpected(&other)),
    }
    let base = base_url(&s.links, &headers);
    let body = json!({
        "form_id": id,
        "form_api_key": key,
        "submit_url": format!("{base}/f/{id}"),
        "_help": "Form created. Capture form_api_key NOW — it is shown only once. Point an HTML form or any client at submit_url; read submissions with GET /api/forms/{id}/submissions using the key as Bearer.",
        "_links": form_links(&base, &id),
    });
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
    let id = form_id(&raw, s.node.shards())?;
    if !s
        .forms
        .allow(peer.ip(), s.limits.form_submissions_per_minute)
    {
        return Ok(crate::rate::limited("submissions"));
    }
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let mut map = fields(&bytes)?;
    if map
        .remove(HONEYPOT)
        .is_some_and(|v| v.as_str().is_none_or(|s| !s.is_empty()))
    {
        // Looks like a bot: answer as usual, store nothing.
        return Ok(Json(json!({"ok": true})).into_response());
    }
    if map.is_empty() {
        return Err(ApiError::new(
            ErrorCode::EmptySubmission,
            "the submission has no fields",
            "Send at least one field.",
        ));
    }
    let sub_id = roost_state::ids::submission_id(rand::rng().random());
    let command = Command::Submit {
        form: id.clone(),
        id: sub_id,
        payload: Value::Object(map).to_string(),
    };
    match s.node.write(id.shard(), command).await? {
        Applied::Submitted {
            id: sub, mirrored, ..
        } => {
            if mirrored {
                s.node.mirror_soon(id.shard());
            }
            Ok(Json(json!({"ok": true, "submission_id": sub})).into_response())
        }
        Applied::Refused(e) => Err(e.into()),
        other => Err(unexpected(&other)),
    }
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
    let id = form_id(&raw, s.node.shards())?;
    let auth = bearer_digest(&headers)?;
    let after: u64 =
        parse_param("cursor", params.cursor.as_deref(), ErrorCode::InvalidCursor)?.unwrap_or(0);
    let limit = limit_param(params.limit.as_deref(), 50, 1000)?;
    let query = Query::Submissions {
        form: id.clone(),
        auth,
        after,
        limit,
    };
    let QueryResult::SubmissionPage {
        form,
        rows,
        next_cursor,
        has_more,
    } = (match s.node.read(id.shard(), query).await? {
        QueryResult::Refused(e) => return Err(e.into()),
        other => other,
    })
    else {
        return Err(ApiError::queue_not_found());
    };
    let base = base_url(&s.links, &headers);
    Ok(Json(SubmissionPage {
        form_id: id.as_str(),
        name: &form.name,
        queue_id: form.binding.as_ref().map(|b| b.queue.as_str()),
        mirror_error: form.mirror_error.as_deref(),
        submissions: rows
            .iter()
            .map(|sub| SubmissionView {
                submission_id: &sub.id,
                seq: sub.seq,
                submitted_at: timestamp(sub.at_ms),
                fields: roost_api::views::raw(&sub.payload),
            })
            .collect(),
        next_cursor,
        has_more,
        help:
            "Submissions in the order they arrived; pass next_cursor as cursor for the next page.",
        links: form_links(&base, &id),
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
    links: Value,
}

/// One submission.
#[derive(Serialize)]
struct SubmissionView<'a> {
    submission_id: &'a str,
    seq: u64,
    submitted_at: String,
    fields: &'a serde_json::value::RawValue,
}

/// Body of `PUT /api/forms/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindBody {
    queue_id: String,
    #[serde(default)]
    queue_api_key: Option<String>,
}

async fn bind(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = form_id(&raw, s.node.shards())?;
    let auth = bearer_digest(&headers)?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: BindBody = body::json(&bytes)?;
    let queue: QueueId = queue_id(&req.queue_id, s.node.shards())?;
    let queue_key = req
        .queue_api_key
        .or_else(|| headers.get("x-queue-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingQueueKey,
                "binding needs the queue's key as well as the form's",
                "Send the queue_api_key in the body (or an X-Queue-Api-Key header) with the form key as Bearer.",
            )
        })?;
    let queue_auth = digest(queue_key.as_bytes());
    // Proof of the queue key: a read of the queue that its key authorizes.
    match s
        .node
        .read(
            queue.shard(),
            Query::Info {
                queue: queue.clone(),
                auth: queue_auth,
            },
        )
        .await?
    {
        QueryResult::Info { .. } => {}
        QueryResult::Refused(e) => return Err(e.into()),
        other => return Err(unexpected(&other)),
    }
    let command = Command::BindForm {
        form: id.clone(),
        auth,
        binding: Binding {
            queue: queue.clone(),
            queue_auth,
        },
    };
    match s.node.write(id.shard(), command).await? {
        Applied::FormState { .. } => Ok(Json(json!({
            "ok": true,
            "form_id": id,
            "queue_id": queue,
            "_help": "Form bound: every later submission is published into the queue as an envelope with source=form-mirror.",
            "_links": form_links(&base_url(&s.links, &headers), &id),
        }))
        .into_response()),
        Applied::Refused(e) => Err(e.into()),
        other => Err(unexpected(&other)),
    }
}
