//! The one place that maps failures to gRPC statuses (and stream errors to stable codes).

use roost_node::NodeError;
use roost_state::CommandError;
use tonic::{Code, Status};

use crate::pb;

/// A refusal by the state machine: the API code and the gRPC code.
fn command(e: &CommandError) -> (&'static str, Code) {
    match e {
        CommandError::QueueNotFound => ("queue_not_found", Code::NotFound),
        CommandError::Unauthorized | CommandError::FormUnauthorized => {
            ("invalid_api_key", Code::Unauthenticated)
        }
        CommandError::QueueExists => ("queue_exists", Code::AlreadyExists),
        CommandError::CursorPastHead { .. } => ("cursor_past_head", Code::FailedPrecondition),
        CommandError::WorkNotFound(_) => ("not_found", Code::NotFound),
        CommandError::JobNotFound => ("job_not_found", Code::NotFound),
        CommandError::StaleToken => ("stale_token", Code::FailedPrecondition),
        CommandError::JobState(_) => ("job_state_conflict", Code::FailedPrecondition),
        CommandError::AccountNotFound => ("account_not_found", Code::NotFound),
        CommandError::QueueClaimed => ("queue_claimed", Code::FailedPrecondition),
        CommandError::FormNotFound => ("form_not_found", Code::NotFound),
        CommandError::SeqOutOfRange { .. } => ("seq_out_of_range", Code::FailedPrecondition),
        CommandError::DlqMessageNotFound => ("dlq_message_not_found", Code::NotFound),
        CommandError::IdempotencyMismatch => ("idempotency_key_reused", Code::FailedPrecondition),
        CommandError::Invalid(_) => ("invalid_request", Code::FailedPrecondition),
        CommandError::HeldFull { .. } => ("quota_exceeded", Code::ResourceExhausted),
        CommandError::TooManyConsumers { .. } => ("too_many_consumers", Code::ResourceExhausted),
        CommandError::TooManyOrigins { .. } => ("too_many_origins", Code::ResourceExhausted),
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

/// A publish over its payer's monthly quota, held until the plan is raised (seed 003's 402).
pub fn held(denied: Option<&roost_node::Denied>, pending_id: &str) -> Status {
    let usage = denied.map_or_else(String::new, |d| {
        format!(
            " ({} plan, {} used of {:?})",
            d.plan.as_str(),
            d.used,
            d.limit
        )
    });
    Status::resource_exhausted(format!(
        "quota_exceeded: monthly queue publish quota exceeded{usage}; the message was kept as {pending_id} and is published when the plan is raised"
    ))
}

/// A replay over its payer's monthly quota: nothing replayed, the dead letter stays.
pub fn over_quota(d: &roost_node::Denied) -> Status {
    Status::resource_exhausted(format!(
        "quota_exceeded: monthly queue publish quota exceeded ({} plan, {} used of {:?}); the dead letter stays in the DLQ",
        d.plan.as_str(),
        d.used,
        d.limit
    ))
}

/// A place for a request about to wait (long polls, streams, waiting claims), counted per
/// client address with the HTTP edge's (see `roost_node::Node::wait_slot`).
pub fn wait_slot<T>(
    node: &roost_node::Node,
    req: &tonic::Request<T>,
) -> Result<Option<roost_node::WaitSlot>, Status> {
    let Some(addr) = req.remote_addr() else {
        return Ok(None);
    };
    node.wait_slot(addr.ip()).map(Some).ok_or_else(|| {
        Status::resource_exhausted(format!(
            "too_many_waiters: this address already has {} requests waiting (long polls, streams, claims)",
            node.config().max_waiters_per_client
        ))
    })
}

/// A caller whose token does not reach what it asked for.
pub fn forbidden(code: &str, message: &str) -> Status {
    Status::permission_denied(format!("{code}: {message}"))
}

/// A field outside its limits as a status (the same field and reason as over HTTP).
pub fn invalid_field(e: &roost_state::input::Invalid) -> Status {
    invalid("invalid_field", &e.to_string())
}

/// A state-machine answer that does not fit the request: a server fault.
pub fn unexpected<T: std::fmt::Debug>(r: &T) -> Status {
    Status::internal(format!("internal: unexpected state machine response {r:?}"))
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
