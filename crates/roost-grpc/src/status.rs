//! The one place that maps failures to gRPC statuses (and stream errors to stable codes).

use roost_node::NodeError;
use roost_state::CommandError;
use tonic::{Code, Status};

use crate::pb;

/// A refusal by the state machine: the API code and the gRPC code.
fn command(e: &CommandError) -> (&'static str, Code) {
    match e {
        CommandError::QueueNotFound => ("queue_not_found", Code::NotFound),
        CommandError::Unauthorized => ("invalid_api_key", Code::Unauthenticated),
        CommandError::CursorPastHead { .. } => ("cursor_past_head", Code::FailedPrecondition),
        CommandError::IdempotencyMismatch => ("idempotency_key_reused", Code::FailedPrecondition),
        CommandError::SeqOutOfRange { .. } => ("seq_out_of_range", Code::FailedPrecondition),
        _ => ("invalid_request", Code::FailedPrecondition),
    }
}

/// A node failure: the API code and the gRPC code.
fn node(e: &NodeError) -> (&'static str, Code) {
    match e {
        NodeError::Unavailable(_) => ("unavailable", Code::Unavailable),
        NodeError::Indeterminate(_) => ("outcome_unknown", Code::Unavailable),
        NodeError::NoSuchGroup(_) => ("queue_not_found", Code::NotFound),
        _ => ("internal", Code::Internal),
    }
}

/// A refusal as a status.
pub fn refused(e: &CommandError) -> Status {
    let (code, grpc) = command(e);
    Status::new(grpc, format!("{code}: {e}"))
}

/// A node failure as a status.
pub fn failed(e: &NodeError) -> Status {
    let (code, grpc) = node(e);
    Status::new(grpc, format!("{code}: {e}"))
}

/// Bad input as a status.
pub fn invalid(code: &str, message: &str) -> Status {
    Status::invalid_argument(format!("{code}: {message}"))
}

/// A status as an in-stream error (streams go on after one message fails).
pub fn as_error(s: &Status) -> pb::Error {
    let (code, message) = s
        .message()
        .split_once(": ")
        .unwrap_or(("internal", s.message()));
    pb::Error {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}
