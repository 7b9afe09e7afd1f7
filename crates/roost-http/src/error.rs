//! API errors: the one place that maps error codes to HTTP statuses, and JSON for every error.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_api::{Error, ErrorCode};

/// An error response: `{error, code, _help}` with the status of its code.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl ApiError {
    /// An error with all parts given.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        help: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError(Error::new(code, message, help))
    }

    /// A 400 naming the offending field.
    pub fn invalid_field(field: &str, why: &str) -> Self {
        ApiError(Error::invalid_field(field, why))
    }

    /// The 404 for an unknown (or malformed) queue id.
    pub fn queue_not_found() -> Self {
        ApiError(Error::queue_not_found())
    }

    /// The stable code, as clients see it.
    pub fn code(&self) -> &'static str {
        self.0.code.as_str()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        status(self.0.code)
    }
}

/// The one mapping of error codes to HTTP statuses. Exhaustive: a new code does not compile
/// until it has a status here.
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::InvalidField
        | C::InvalidJson
        | C::InvalidBody
        | C::BodyReadFailed
        | C::EmptySubmission
        | C::InvalidIdempotencyKey
        | C::InvalidLimit
        | C::InvalidCursor
        | C::InvalidWait
        | C::InvalidTimeout
        | C::InvalidConsumerId
        | C::MissingConsumerId
        | C::InvalidMaxDeliveries
        | C::InvalidError
        | C::InvalidPlan
        | C::InvalidName
        | C::InvalidOrigin
        | C::MissingOrigin
        | C::InvalidHost
        | C::TooManyConsumersInRequest
        | C::TooManyOriginsInRequest
        | C::BadRequest => StatusCode::BAD_REQUEST,
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        C::UriTooLong => StatusCode::URI_TOO_LONG,
        C::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::InvalidApiKey
        | C::MissingApiKey
        | C::MissingQueueKey
        | C::InvalidToken
        | C::InvalidOperatorKey
        | C::InvalidAccountKey => StatusCode::UNAUTHORIZED,
        C::TeamForbidden | C::OriginNotAllowed => StatusCode::FORBIDDEN,
        C::RouteNotFound
        | C::QueueNotFound
        | C::FormNotFound
        | C::JobNotFound
        | C::NotFound
        | C::AccountNotFound
        | C::DlqMessageNotFound
        | C::MemberNotFound
        | C::BackupNotFound
        | C::QuotasDisabled => StatusCode::NOT_FOUND,
        C::QueueExists
        | C::QueueClaimed
        | C::StaleToken
        | C::JobStateConflict
        | C::TooManyConsumers
        | C::TooManyOrigins
        | C::MemberRemoved
        | C::MemberConflict
        | C::QuorumAtRisk => StatusCode::CONFLICT,
        C::CursorPastHead
        | C::SeqOutOfRange
        | C::IdempotencyKeyReused
        | C::InvalidRequest
        | C::WildcardNotAllowed => StatusCode::UNPROCESSABLE_ENTITY,
        C::QuotaExceeded => StatusCode::PAYMENT_REQUIRED,
        C::RateLimited | C::TooManyWaiters => StatusCode::TOO_MANY_REQUESTS,
        C::TooManyConnections
        | C::Unavailable
        | C::OutcomeUnknown
        | C::NotReady
        | C::LayoutMismatch => StatusCode::SERVICE_UNAVAILABLE,
        C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `e` as JSON with `status`.
fn render(status: StatusCode, e: &Error) -> Response {
    (status, Json(roost_api::views::ErrorView::of(e))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = render(self.status(), &self.0);
        if self.0.code == ErrorCode::RateLimited {
            // The limits count per minute.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        resp
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The JSON 404 for unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::RouteNotFound,
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
            ErrorCode::MethodNotAllowed,
            "Use the method the API documents for this path (see the Allow header).",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "Send a smaller body."),
        s if s.is_client_error() => (
            ErrorCode::BadRequest,
            "Correct the request as the error says and send it again.",
        ),
        _ => (
            ErrorCode::Internal,
            "This is a server fault; retry, and report it if it persists.",
        ),
    };
    // axum's own status stays (a 415 or 422 of a rejected extractor), with the code that
    // names its kind.
    let fresh = render(status, &Error::new(code, message, help));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.extend(fresh_parts.headers);
    Response::from_parts(parts, body)
}

/// The JSON 500 for a handler that panicked (a bug); the process keeps serving.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError(Error::internal("internal error")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status() {
        for &code in ErrorCode::ALL {
            let s = status(code);
            assert!(s.is_client_error() || s.is_server_error(), "{code}: {s}");
            assert_eq!(
                s.is_server_error(),
                matches!(
                    code,
                    ErrorCode::Internal
                        | ErrorCode::Unavailable
                        | ErrorCode::OutcomeUnknown
                        | ErrorCode::NotReady
                        | ErrorCode::LayoutMismatch
                        | ErrorCode::TooManyConnections
                ),
                "{code}: {s}"
            );
        }
        // A request's own excess is bad input; a queue at its cap is a conflict.
        assert_eq!(status(ErrorCode::TooManyConsumersInRequest), 400);
        assert_eq!(status(ErrorCode::TooManyConsumers), 409);
        assert_eq!(status(ErrorCode::QuotaExceeded), 402);
    }
}
