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
use axum::Json;
use roost_api::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::bearer_token;
use crate::openapi::{FormRead, FormSubmit, FormWrite, KeylessCreate};
use crate::queues::parse_param;
use crate::wire::{base_url, timestamp};
use crate::{body, ApiError, AppState};

/// The form routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(submit))
        .routes(routes!(bind))
        .routes(routes!(submissions))
}

/// The `_links` of a form: where each of its operations is.
#[derive(Serialize, ToSchema)]
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "contact"}))]
struct CreateBody {
    /// A name for people.
    #[serde(default)]
    #[schema(max_length = 200)]
    name: String,
}

/// The answer to `POST /new`.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedForm)]
struct Created<'a> {
    /// The form.
    form_id: &'a str,
    /// Its key, shown this once.
    form_api_key: &'a str,
    /// Where anyone may submit.
    submit_url: String,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'static str,
    /// Where each of the form's operations is.
    #[serde(rename = "_links")]
    links: FormLinks,
}

/// Creates a form; its key is in the answer, and only there.
#[utoipa::path(
    post,
    path = "/new",
    operation_id = "create_form",
    tag = "forms",
    request_body(content = Option<CreateBody>, description = "Optional: `{}` (or no body) makes a form without a name."),
    responses(
        (status = 201, description = "The form, with its key (shown this once).", body = Created),
        KeylessCreate,
    ),
)]
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
    let body = Created {
        form_id: id,
        form_api_key: &form.key,
        submit_url: format!("{base}/f/{id}"),
        help: "Form created. Capture form_api_key NOW — it is shown only once. Point an HTML form or any client at submit_url; read submissions with GET /api/forms/{id}/submissions using the key as Bearer.",
        links: form_links(&base, id),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A submission's fields: at least one, any JSON values (urlencoded: strings, a repeated
/// field a list of them).
struct Fields(Map<String, Value>);

impl utoipa::PartialSchema for Fields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Object)
            .min_properties(Some(1))
            .description(Some("The form's fields, at least one."))
            .into()
    }
}

impl ToSchema for Fields {}

/// The fields of a urlencoded submission: text, a repeated field a list of texts.
struct UrlencodedFields;

impl utoipa::PartialSchema for UrlencodedFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, Type};
        use utoipa::openapi::{ArrayBuilder, ObjectBuilder, OneOfBuilder};
        let text = || ObjectBuilder::new().schema_type(Type::String);
        let value = OneOfBuilder::new()
            .item(text())
            .item(ArrayBuilder::new().items(text()).min_items(Some(2)));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .min_properties(Some(1))
            .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
            .description(Some("The form's fields, at least one."))
            .into()
    }
}

impl ToSchema for UrlencodedFields {}

/// A submission body as a JSON object: JSON as sent (a body declared JSON must be an object),
/// or urlencoded fields (a repeated field becomes a list).
fn fields(headers: &HeaderMap, bytes: &[u8]) -> Result<Fields, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidBody,
            "submission is not UTF-8",
            "Send text fields.",
        )
    })?;
    let declared_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if declared_json || text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map(Fields).map_err(|e| {
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
    Ok(Fields(map))
}

/// What a submission answers.
#[derive(Serialize, ToSchema)]
struct Submitted {
    /// Always true (a honeypot hit answers the same, and stores nothing).
    ok: bool,
    /// The stored submission.
    #[serde(skip_serializing_if = "Option::is_none")]
    submission_id: Option<String>,
}

/// Submits a form: public, rate-limited per address.
#[utoipa::path(
    post,
    path = "/f/{id}",
    operation_id = "submit_form",
    tag = "forms",
    params(("id" = String, Path, description = "The form's id.")),
    request_body(
        description = "The fields: a JSON object, or urlencoded (a repeated field becomes a list).",
        content(
            (Fields = "application/json", example = json!({"email": "a@example.com", "message": "hello"})),
            (UrlencodedFields = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "Stored (and mirrored into the bound queue, if any).", body = Submitted),
        FormSubmit,
    ),
)]
async fn submit(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let Fields(fields) = fields(&headers, &bytes)?;
    let submission_id = s.api.submit_form(Some(peer.ip()), &raw, fields).await?;
    Ok(Json(Submitted {
        ok: true,
        submission_id,
    })
    .into_response())
}

/// Query string of the submissions listing.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// The `next_cursor` of the previous page (default 0: the start).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 18446744073709551615_f64)]
    cursor: Option<String>,
    /// Submissions per page (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// Lists the form's submissions, oldest first.
#[utoipa::path(
    get,
    path = "/api/forms/{id}/submissions",
    operation_id = "list_submissions",
    tag = "forms",
    params(("id" = String, Path, description = "The form's id."), PageParams),
    security(("form_key" = [])),
    responses(
        (status = 200, description = "A page of submissions.", body = SubmissionPage),
        FormRead,
    ),
)]
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
#[derive(Serialize, ToSchema)]
struct SubmissionPage<'a> {
    /// The form.
    form_id: &'a str,
    /// Its name.
    name: &'a str,
    /// The queue it is bound to.
    queue_id: Option<&'a str>,
    /// Why mirroring into the queue is stuck, if it is.
    mirror_error: Option<&'a str>,
    /// The submissions, oldest first.
    submissions: Vec<SubmissionView<'a>>,
    /// Pass as `cursor` for the next page.
    next_cursor: u64,
    /// Whether more follow.
    has_more: bool,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'static str,
    /// Where each of the form's operations is.
    #[serde(rename = "_links")]
    links: FormLinks,
}

/// One submission.
#[derive(Serialize, ToSchema)]
struct SubmissionView<'a> {
    /// Its id.
    submission_id: &'a str,
    /// Its place in the form's submissions.
    seq: u64,
    /// When it arrived.
    submitted_at: String,
    /// The fields as submitted.
    #[schema(value_type = Object)]
    fields: &'a serde_json::value::RawValue,
}

/// What binding answers.
#[derive(Serialize, ToSchema)]
struct Bound<'a> {
    /// Always true.
    ok: bool,
    /// The form.
    form_id: &'a str,
    /// The queue it now mirrors into.
    queue_id: &'a str,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'static str,
    /// Where each of the form's operations is.
    #[serde(rename = "_links")]
    links: FormLinks,
}

/// Binds the form to a queue (proof of both keys): every later submission is published into
/// it (`source: form-mirror`).
#[utoipa::path(
    put,
    path = "/api/forms/{id}",
    operation_id = "bind_form",
    tag = "forms",
    params(
        ("id" = String, Path, description = "The form's id."),
        ("X-Queue-Api-Key" = Option<String>, Header, description = "The queue's key, when the body does not carry it."),
    ),
    security(("form_key" = [])),
    request_body = roost_wire::BindForm,
    responses(
        (status = 200, description = "Bound.", body = Bound),
        FormWrite,
    ),
)]
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
    Ok(Json(Bound {
        ok: true,
        form_id: form.as_str(),
        queue_id: queue.as_str(),
        help: "Form bound: every later submission is published into the queue as an envelope with source=form-mirror.",
        links: form_links(&base_url(&s.links, &headers), form.as_str()),
    })
    .into_response())
}
