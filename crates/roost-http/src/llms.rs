//! `/llms.txt` and `/llms-full.txt` (llmstxt.org): what a model that arrives cold needs to use
//! Roost, compiled into the binary. Links are absolute, to the node the model reached.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::wire::base_url;
use crate::AppState;

/// The short index.
pub const LLMS: &str = include_str!("../llms/llms.txt");
/// The whole guide: the three APIs, the MCP tools, every error code and what to do about it.
pub const LLMS_FULL: &str = include_str!("../llms/llms-full.txt");

/// `/llms.txt`, `/llms-full.txt` (public, like the rest of the documentation).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(short))
        .routes(routes!(full))
}

/// What Roost is and where to read on, for a language model (llmstxt.org).
#[utoipa::path(
    get,
    path = "/llms.txt",
    operation_id = "llms_txt",
    tag = "operations",
    responses((status = 200, description = "The llmstxt.org index: what Roost is, and links to read on.", content_type = "text/markdown", body = String)),
)]
async fn short(State(s): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    markdown(LLMS, &base_url(&s.links, &headers))
}

/// The whole guide for a language model: the three APIs with a curl each, the MCP tools, every
/// error code and what to do about it.
#[utoipa::path(
    get,
    path = "/llms-full.txt",
    operation_id = "llms_full_txt",
    tag = "operations",
    responses((status = 200, description = "The full guide: the APIs, the MCP tools, every error code and what to do about it.", content_type = "text/markdown", body = String)),
)]
async fn full(State(s): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    markdown(LLMS_FULL, &base_url(&s.links, &headers))
}

/// `text` with `{base}` replaced by this node's base URL, as Markdown.
fn markdown(text: &str, base: &str) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text.replace("{base}", base),
    )
}

#[cfg(test)]
mod tests {
    use roost_api::ErrorCode;

    use super::*;

    #[test]
    fn the_full_guide_says_what_to_do_about_every_error_code() {
        for code in ErrorCode::ALL {
            let named = format!("`{}`", code.as_str());
            assert!(
                LLMS_FULL.contains(&named),
                "llms-full.txt never names {named}"
            );
        }
    }

    #[test]
    fn links_are_made_absolute() {
        for text in [LLMS, LLMS_FULL] {
            let out = text.replace("{base}", "https://inbox.example");
            assert!(!out.contains("{base}"));
            assert!(out.contains("https://inbox.example/openapi.json"));
        }
    }
}
