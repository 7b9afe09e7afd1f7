//! `/llms.txt` and `/llms-full.txt` (llmstxt.org): what a model that arrives cold needs to use
//! Roost, compiled into the binary. Links are absolute, to the node the model reached.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::wire::base_url;
use crate::AppState;

/// The short index.
pub const LLMS: &str = include_str!("../llms/llms.txt");
/// The whole guide: the three APIs, the MCP tools, every error code and what to do about it.
pub const LLMS_FULL: &str = include_str!("../llms/llms-full.txt");

/// `/llms.txt`, `/llms-full.txt` (public, like the rest of the documentation).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/llms.txt", get(short))
        .route("/llms-full.txt", get(full))
}

async fn short(State(s): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    markdown(LLMS, &base_url(&s.links, &headers))
}

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
