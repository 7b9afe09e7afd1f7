//! The caller of a workspace-scoped endpoint, from its bearer token (checked by `roost-auth`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

pub use roost_auth::{Claims, Verifier};

use crate::auth::bearer_token;
use crate::{ApiError, AppState};

/// The authenticated caller of a workspace-scoped endpoint.
pub struct Caller(pub Claims);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |why: String| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                why,
                "Send a workspace token as 'Authorization: Bearer <jwt>' (mint one with `roost token create --workspace W`).",
            )
        };
        let verifier = s
            .tokens
            .as_ref()
            .ok_or_else(|| unauthorized("workspace tokens are not configured".into()))?;
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| unauthorized("missing bearer token".into()))?;
        let claims = verifier.caller(token).map_err(|e| unauthorized(e.0))?;
        Ok(Caller(claims))
    }
}
