//! API errors: the one place that maps failures to HTTP statuses and stable codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_node::NodeError;
use roost_state::CommandError;
use serde_json::json;

/// An error response: `{error, code, _help}` with a status.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable description.
    pub message: String,
    /// One sentence telling the caller what to do next.
    pub help: String,
}

impl ApiError {
    /// An error with all parts given.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            help: help.into(),
        }
    }

    /// A 400 for a malformed request.
    pub fn bad_request(
        code: &'static str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message, help)
    }

    /// A 400 naming the offending field.
    pub fn invalid_field(field: &str, why: &str) -> Self {
        Self::bad_request(
            "invalid_field",
            format!("{field}: {why}"),
            format!("Fix {field} and send the request again."),
        )
    }

    /// The 404 for an unknown (or malformed) queue id.
    pub fn queue_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "queue_not_found",
            "queue not found",
            "Check the queue id; create a queue with POST /q/create.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.message, "code": self.code, "_help": self.help});
        (self.status, Json(body)).into_response()
    }
}

impl From<roost_state::input::Invalid> for ApiError {
    fn from(e: roost_state::input::Invalid) -> Self {
        ApiError::invalid_field(e.field, e.why)
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::QueueNotFound => ApiError::queue_not_found(),
            CommandError::Unauthorized => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "invalid queue api key",
                "Send the queue_api_key returned by POST /q/create as 'Authorization: Bearer <key>'.",
            ),
            CommandError::QueueExists => ApiError::new(
                StatusCode::CONFLICT,
                "queue_exists",
                e.to_string(),
                "Retry the create; a new id will be chosen.",
            ),
            CommandError::CursorPastHead { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cursor_past_head",
                e.to_string(),
                "Ack only cursors you have pulled: use next_cursor from GET /q/{id}/pull.",
            ),
            CommandError::WorkNotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
                "Check the id; work queues and tasks of other workspaces are not visible.",
            ),
            CommandError::JobNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "job_not_found",
                "job not found",
                "Check the job id; jobs of other workspaces are not visible.",
            ),
            CommandError::StaleToken => ApiError::new(
                StatusCode::CONFLICT,
                "stale_token",
                e.to_string(),
                "This attempt is over (reclaimed, timed out or finished); stop working on it and claim again.",
            ),
            CommandError::JobState(_) => ApiError::new(
                StatusCode::CONFLICT,
                "job_state_conflict",
                e.to_string(),
                "Check the job's status with GET /jobs/{id}; only pending or running jobs can be cancelled, only failed or cancelled ones retried.",
            ),
            CommandError::AccountNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "account_not_found",
                "account not found",
                "Check the account id, or the account key you sent.",
            ),
            CommandError::QueueClaimed => ApiError::new(
                StatusCode::CONFLICT,
                "queue_claimed",
                e.to_string(),
                "This queue belongs to another account; use that account's key, or none.",
            ),
            CommandError::FormNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "form_not_found",
                "form not found",
                "Check the form id; create a form with POST /new.",
            ),
            CommandError::FormUnauthorized => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "invalid form api key",
                "Send the form_api_key returned by POST /new as 'Authorization: Bearer <key>'.",
            ),
            CommandError::SeqOutOfRange { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "seq_out_of_range",
                e.to_string(),
                "Nack a seq you pulled; messages at or below the floor were garbage-collected.",
            ),
            CommandError::DlqMessageNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "dlq_message_not_found",
                e.to_string(),
                "List dead letters with GET /q/{id}/dlq and pass an envelope id from there.",
            ),
            CommandError::IdempotencyMismatch => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
                "Use a new Idempotency-Key for a different message body.",
            ),
            CommandError::HeldFull { .. } => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "quota_exceeded",
                format!("{e}; this message was not kept"),
                "Raise the plan (held publishes are then published), or wait for the next month.",
            ),
            CommandError::TooManyConsumers { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "too_many_consumers",
                e.to_string(),
                "Unregister consumers you no longer use (POST /q/{id}/consumers {remove}), or use another queue.",
            ),
            CommandError::TooManyOrigins { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "too_many_origins",
                e.to_string(),
                "Remove origins you no longer use, or allow * by re-creating the queue.",
            ),
            CommandError::Invalid(m) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                m,
                "Correct the request as the error says and send it again.",
            ),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
                "The cluster has no reachable leader for this queue right now; retry shortly.",
            ),
            NodeError::Indeterminate(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "outcome_unknown",
                e.to_string(),
                "The write may or may not have happened; retry with the same Idempotency-Key to be safe.",
            ),
            NodeError::NoSuchGroup(_) => ApiError::queue_not_found(),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
                "This is a server fault; retry, and report it if it persists.",
            ),
        }
    }
}

/// The JSON 404 for unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route",
        "See the README for the API: /q/create, /q/{id}/publish, /q/{id}/pull, /q/{id}/ack.",
    )
}

/// Turns any error response that is not JSON yet (axum's own rejections: a malformed path or
/// query string, a wrong method) into the API's JSON error shape, keeping status and headers.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let (code, help) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "Use the method the API documents for this path (see the Allow header).",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "Send a smaller body."),
        s if s.is_client_error() => (
            "bad_request",
            "Correct the request as the error says and send it again.",
        ),
        _ => (
            "internal",
            "This is a server fault; retry, and report it if it persists.",
        ),
    };
    let fresh = ApiError::new(status, code, message, help).into_response();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.extend(fresh_parts.headers);
    Response::from_parts(parts, body)
}

/// The JSON 500 for a handler that panicked (a bug); the process keeps serving.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
        "This is a server fault; retry, and report it if it persists.",
    )
    .into_response()
}
