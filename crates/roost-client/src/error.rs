//! What can go wrong with a call: the server refused it (with its `{error, code, _help}`),
//! or it never got a readable answer.

use roost_wire::ErrorBody;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error: its status and body.
    #[error("{} ({status}): {}", body.code, body.error)]
    Api {
        /// The HTTP status.
        status: u16,
        /// `{error, code, _help}`.
        body: ErrorBody,
    },
    /// The request did not reach the server, or its answer did not arrive.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered with something that is not the reply the call expects.
    #[error("unexpected answer ({status}): {detail}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        detail: String,
    },
    /// The URL given is not a base URL.
    #[error("invalid URL {url:?}: {why}")]
    Url {
        /// The URL.
        url: String,
        /// Why it is unusable.
        why: String,
    },
    /// A request could not be written (a time in ms sent as JSON, a key that is not ASCII).
    #[error("invalid request: {0}")]
    Request(String),
    /// The gRPC connection could not be made.
    #[error("gRPC connection failed: {0}")]
    Connect(#[from] tonic::transport::Error),
    /// A gRPC call failed as a whole (one refused publish of a stream is not this).
    #[error("gRPC call failed: {0}")]
    Grpc(#[from] tonic::Status),
}

impl Error {
    /// The server's stable error code, when the server refused the call.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => Some(&body.code),
            _ => None,
        }
    }
}
