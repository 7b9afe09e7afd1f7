//! The one place that maps error codes to gRPC statuses. A status carries its code twice: in
//! the `roost-error-code` metadata, for programs, and as the message's prefix (`code: why`),
//! which clients of earlier versions read.

use roost_api::{Error, ErrorCode};
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::pb;

/// The metadata key holding a failure's stable code.
pub const CODE_KEY: &str = "roost-error-code";

/// The one mapping of error codes to gRPC codes. Exhaustive: a new code does not compile until
/// it has a gRPC code here.
pub fn grpc_code(code: ErrorCode) -> Code {
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
        | C::BadRequest
        | C::PayloadTooLarge
        | C::HeadersTooLarge
        | C::UriTooLong
        | C::BodyTimeout => Code::InvalidArgument,
        C::MethodNotAllowed | C::RouteNotFound => Code::Unimplemented,
        C::InvalidApiKey
        | C::MissingApiKey
        | C::MissingQueueKey
        | C::InvalidToken
        | C::InvalidOperatorKey
        | C::InvalidAccountKey => Code::Unauthenticated,
        C::TeamForbidden | C::OriginNotAllowed => Code::PermissionDenied,
        C::QueueNotFound
        | C::FormNotFound
        | C::JobNotFound
        | C::NotFound
        | C::AccountNotFound
        | C::DlqMessageNotFound
        | C::MemberNotFound
        | C::BackupNotFound
        | C::QuotasDisabled => Code::NotFound,
        C::QueueExists => Code::AlreadyExists,
        C::QueueClaimed
        | C::StaleToken
        | C::JobStateConflict
        | C::CursorPastHead
        | C::SeqOutOfRange
        | C::IdempotencyKeyReused
        | C::InvalidRequest
        | C::WildcardNotAllowed
        | C::MemberRemoved
        | C::MemberConflict
        | C::QuorumAtRisk => Code::FailedPrecondition,
        C::QuotaExceeded
        | C::TooManyConsumers
        | C::TooManyOrigins
        | C::RateLimited
        | C::TooManyWaiters
        | C::TooManyConnections => Code::ResourceExhausted,
        C::Unavailable | C::OutcomeUnknown | C::NotReady | C::LayoutMismatch => Code::Unavailable,
        C::Internal => Code::Internal,
    }
}

/// `e` as a status.
pub fn status(e: Error) -> Status {
    let mut s = Status::new(grpc_code(e.code), format!("{}: {}", e.code, e.message));
    s.metadata_mut()
        .insert(CODE_KEY, MetadataValue::from_static(e.code.as_str()));
    s
}

/// Bad input as a status.
pub fn invalid(code: ErrorCode, message: &str) -> Status {
    status(Error::new(code, message, ""))
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
    invalid(
        ErrorCode::QuotaExceeded,
        &format!("monthly queue publish quota exceeded{usage}; the message was kept as {pending_id} and is published when the plan is raised"),
    )
}

/// A replay over its payer's monthly quota: nothing replayed, the dead letter stays.
pub fn over_quota(d: &roost_node::Denied) -> Status {
    invalid(
        ErrorCode::QuotaExceeded,
        &format!(
            "monthly queue publish quota exceeded ({} plan, {} used of {:?}); the dead letter stays in the DLQ",
            d.plan.as_str(),
            d.used,
            d.limit
        ),
    )
}

/// A status as an in-stream error (streams go on after one message fails).
pub fn as_error(s: &Status) -> pb::Error {
    let (prefix, message) = s
        .message()
        .split_once(": ")
        .unwrap_or(("internal", s.message()));
    // Statuses tonic makes itself (a transport failure) carry no code of ours.
    let code = s
        .metadata()
        .get(CODE_KEY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(prefix);
    pb::Error {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_travels_in_metadata_with_a_non_ok_code() {
        for &code in ErrorCode::ALL {
            let s = status(Error::new(code, "why", ""));
            assert_ne!(s.code(), Code::Ok, "{code}");
            assert_eq!(
                s.metadata().get(CODE_KEY).and_then(|v| v.to_str().ok()),
                Some(code.as_str())
            );
            assert_eq!(as_error(&s).code, code.as_str());
            assert_eq!(as_error(&s).message, "why");
        }
        assert_eq!(grpc_code(ErrorCode::StaleToken), Code::FailedPrecondition);
        assert_eq!(grpc_code(ErrorCode::QuotaExceeded), Code::ResourceExhausted);
    }
}
