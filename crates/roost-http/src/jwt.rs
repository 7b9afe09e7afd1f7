//! The caller of a workspace-scoped endpoint, from its bearer token (checked by `roost_api`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

pub use roost_auth::Claims;

use crate::auth::bearer_token;
use crate::{ApiError, AppState};

/// The authenticated caller of a workspace-scoped endpoint.
pub struct Caller(pub Claims);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        Ok(Caller(s.api.caller(bearer_token(&parts.headers))?))
    }
}
