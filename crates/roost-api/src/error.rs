//! The one error-code table. Every failure a client can see carries an [`ErrorCode`]; each edge
//! maps codes to its own statuses in one exhaustive `match`, so a new code cannot ship without
//! a status on every edge.

use std::borrow::Cow;

use roost_node::NodeError;
use roost_state::CommandError;

use crate::input::Invalid;

/// Declares the codes once: the enum, [`ErrorCode::ALL`] and the wire strings cannot disagree.
macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident => $wire:literal, )*) => {
        /// Why a request failed, as a stable code. Persisted nowhere: codes may be added
        /// freely, but their wire strings ([`ErrorCode::as_str`]) are a contract with clients
        /// and never change. Two causes share a string where clients already know one code for
        /// both (a request carrying too many consumers, a queue at its cap).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every code, for the edges' mapping tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$name, )* ];

            /// The code as clients see it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $wire, )*
                }
            }
        }
    };
}

codes! {
    // Malformed or out-of-bounds input.
    /// A field is outside its limits (the error names the field and the reason).
    InvalidField => "invalid_field",
    /// A body or document is not JSON (or nests deeper than 128).
    InvalidJson => "invalid_json",
    /// A form submission's body is neither JSON nor a urlencoded form.
    InvalidBody => "invalid_body",
    /// The request body could not be read.
    BodyReadFailed => "body_read_failed",
    /// A form submission carried no fields.
    EmptySubmission => "empty_submission",
    /// An idempotency key that is not 1-255 visible ASCII characters.
    InvalidIdempotencyKey => "invalid_idempotency_key",
    /// A page size out of its range.
    InvalidLimit => "invalid_limit",
    /// A cursor that is not a whole number.
    InvalidCursor => "invalid_cursor",
    /// A long-poll wait out of its range.
    InvalidWait => "invalid_wait",
    /// A job wait's timeout out of its range.
    InvalidTimeout => "invalid_timeout",
    /// A consumer id of the wrong shape.
    InvalidConsumerId => "invalid_consumer_id",
    /// A pull that names no consumer.
    MissingConsumerId => "missing_consumer_id",
    /// A queue's max_deliveries out of its range.
    InvalidMaxDeliveries => "invalid_max_deliveries",
    /// A nack's error text too long.
    InvalidError => "invalid_error",
    /// An account plan that does not exist.
    InvalidPlan => "invalid_plan",
    /// A form name of the wrong shape.
    InvalidName => "invalid_name",
    /// An allowed origin that is not an origin.
    InvalidOrigin => "invalid_origin",
    /// A queue-key request from a browser with no Origin.
    MissingOrigin => "missing_origin",
    /// A Host header that cannot be linked to.
    InvalidHost => "invalid_host",
    /// More consumers in one request than a request may carry.
    TooManyConsumersInRequest => "too_many_consumers",
    /// More origins in one request than a request may carry.
    TooManyOriginsInRequest => "too_many_origins",
    /// A request the protocol layer could not parse.
    BadRequest => "bad_request",
    /// A body or document over its size limit.
    PayloadTooLarge => "payload_too_large",
    /// Too many or too large request headers.
    HeadersTooLarge => "headers_too_large",
    /// A request URI too long to read.
    UriTooLong => "uri_too_long",
    /// A body that did not arrive in time.
    BodyTimeout => "body_timeout",
    /// A method the path does not serve.
    MethodNotAllowed => "method_not_allowed",
    /// A path the API does not have.
    RouteNotFound => "route_not_found",
    // Credentials.
    /// A queue or form key that does not match.
    InvalidApiKey => "invalid_api_key",
    /// A request that needs a key and sent none.
    MissingApiKey => "missing_api_key",
    /// A form binding that names a queue without its key.
    MissingQueueKey => "missing_queue_key",
    /// A workspace token that is missing, malformed, expired or not signed by this cluster.
    InvalidToken => "invalid_token",
    /// An operator request with the wrong key.
    InvalidOperatorKey => "invalid_operator_key",
    /// An account request with the wrong key.
    InvalidAccountKey => "invalid_account_key",
    /// A token scoped to other teams.
    TeamForbidden => "team_forbidden",
    /// A browser origin the queue does not allow.
    OriginNotAllowed => "origin_not_allowed",
    // Things that are not there.
    /// No such queue.
    QueueNotFound => "queue_not_found",
    /// No such form.
    FormNotFound => "form_not_found",
    /// No such job in the caller's workspace.
    JobNotFound => "job_not_found",
    /// No such work queue or task in the caller's workspace.
    NotFound => "not_found",
    /// No such account.
    AccountNotFound => "account_not_found",
    /// No such dead letter.
    DlqMessageNotFound => "dlq_message_not_found",
    /// No member has that node id.
    MemberNotFound => "member_not_found",
    /// No such backup (or file of one) on this node.
    BackupNotFound => "backup_not_found",
    /// Quotas are not configured on this cluster.
    QuotasDisabled => "quotas_disabled",
    // State conflicts.
    /// A queue id collision.
    QueueExists => "queue_exists",
    /// A queue claimed by another account.
    QueueClaimed => "queue_claimed",
    /// A lease token that is no longer the current one.
    StaleToken => "stale_token",
    /// A job in a state that does not allow the operation.
    JobStateConflict => "job_state_conflict",
    /// A queue at its cap of registered consumers.
    TooManyConsumers => "too_many_consumers",
    /// A queue at its cap of allowed origins.
    TooManyOrigins => "too_many_origins",
    /// A node id that was removed from the cluster, which can never be used again.
    MemberRemoved => "member_removed",
    /// A member that conflicts with the roster (another address, an address in use, the last
    /// member, or a node id another data dir served under).
    MemberConflict => "member_conflict",
    /// A member removed while some group would be left without a quorum of live voters.
    QuorumAtRisk => "quorum_at_risk",
    /// An ack past the newest message.
    CursorPastHead => "cursor_past_head",
    /// A nack of a seq that is not stored.
    SeqOutOfRange => "seq_out_of_range",
    /// An idempotency key reused with a different body.
    IdempotencyKeyReused => "idempotency_key_reused",
    /// A request the state machine cannot interpret.
    InvalidRequest => "invalid_request",
    /// A wildcard where the queue's origins must be listed.
    WildcardNotAllowed => "wildcard_not_allowed",
    /// Over the payer's monthly publish quota.
    QuotaExceeded => "quota_exceeded",
    // Load.
    /// Too many requests from this address.
    RateLimited => "rate_limited",
    /// Too many waiting requests from this address.
    TooManyWaiters => "too_many_waiters",
    /// Too many connections to this node.
    TooManyConnections => "too_many_connections",
    // The cluster.
    /// No leader reachable in time; nothing was applied.
    Unavailable => "unavailable",
    /// The write may or may not have been applied.
    OutcomeUnknown => "outcome_unknown",
    /// The node is not ready to serve.
    NotReady => "not_ready",
    /// The node's data dir was made for another layout.
    LayoutMismatch => "layout_mismatch",
    /// A server fault.
    Internal => "internal",
}

impl ErrorCode {
    /// The code of a wire string, for clients reading an error back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed operation: its code, what went wrong, and one sentence telling the caller what to
/// do next (HTTP shows it as `_help`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// What to do next.
    pub help: Cow<'static, str>,
}

impl Error {
    /// An error with all parts given.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        help: impl Into<Cow<'static, str>>,
    ) -> Self {
        Error {
            code,
            message: message.into(),
            help: help.into(),
        }
    }

    /// A field outside its limits.
    pub fn invalid_field(field: &str, why: &str) -> Self {
        Self::new(
            ErrorCode::InvalidField,
            format!("{field}: {why}"),
            format!("Fix {field} and send the request again."),
        )
    }

    /// A state-machine answer that does not fit the request: a server fault.
    pub fn unexpected<T: std::fmt::Debug>(answer: &T) -> Self {
        Self::internal(format!("unexpected state machine response {answer:?}"))
    }

    /// A server fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::Internal,
            message,
            "This is a server fault; retry, and report it if it persists.",
        )
    }

    /// The unknown (or malformed) queue id.
    pub fn queue_not_found() -> Self {
        Self::new(
            ErrorCode::QueueNotFound,
            "queue not found",
            "Check the queue id; create a queue with POST /q/create.",
        )
    }
}

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Error::invalid_field(e.field, e.why)
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        let text = e.to_string();
        let (code, message, help): (ErrorCode, String, &'static str) = match e {
            CommandError::QueueNotFound => return Error::queue_not_found(),
            CommandError::Unauthorized => (
                ErrorCode::InvalidApiKey,
                text,
                "Send the queue_api_key returned by POST /q/create as 'Authorization: Bearer <key>'.",
            ),
            CommandError::QueueExists => (
                ErrorCode::QueueExists,
                text,
                "Retry the create; a new id will be chosen.",
            ),
            CommandError::CursorPastHead { .. } => (
                ErrorCode::CursorPastHead,
                text,
                "Ack only cursors you have pulled: use next_cursor from GET /q/{id}/pull.",
            ),
            CommandError::WorkNotFound(_) => (
                ErrorCode::NotFound,
                text,
                "Check the id; work queues and tasks of other workspaces are not visible.",
            ),
            CommandError::JobNotFound => (
                ErrorCode::JobNotFound,
                text,
                "Check the job id; jobs of other workspaces are not visible.",
            ),
            CommandError::StaleToken => (
                ErrorCode::StaleToken,
                text,
                "This attempt is over (reclaimed, timed out or finished); stop working on it and claim again.",
            ),
            CommandError::JobState(_) => (
                ErrorCode::JobStateConflict,
                text,
                "Check the job's status with GET /jobs/{id}; only pending or running jobs can be cancelled, only failed or cancelled ones retried.",
            ),
            CommandError::AccountNotFound => (
                ErrorCode::AccountNotFound,
                text,
                "Check the account id, or the account key you sent.",
            ),
            CommandError::QueueClaimed => (
                ErrorCode::QueueClaimed,
                text,
                "This queue belongs to another account; use that account's key, or none.",
            ),
            CommandError::FormNotFound => (
                ErrorCode::FormNotFound,
                text,
                "Check the form id; create a form with POST /new.",
            ),
            CommandError::FormUnauthorized => (
                ErrorCode::InvalidApiKey,
                text,
                "Send the form_api_key returned by POST /new as 'Authorization: Bearer <key>'.",
            ),
            CommandError::SeqOutOfRange { .. } => (
                ErrorCode::SeqOutOfRange,
                text,
                "Nack a seq you pulled; messages at or below the floor were garbage-collected.",
            ),
            CommandError::DlqMessageNotFound => (
                ErrorCode::DlqMessageNotFound,
                text,
                "List dead letters with GET /q/{id}/dlq and pass an envelope id from there.",
            ),
            CommandError::IdempotencyMismatch => (
                ErrorCode::IdempotencyKeyReused,
                text,
                "Use a new Idempotency-Key for a different message body.",
            ),
            CommandError::HeldFull { .. } => (
                ErrorCode::QuotaExceeded,
                format!("{text}; this message was not kept"),
                "Raise the plan (held publishes are then published), or wait for the next month.",
            ),
            CommandError::TooManyConsumers { .. } => (
                ErrorCode::TooManyConsumers,
                text,
                "Unregister consumers you no longer use (POST /q/{id}/consumers {remove}), or use another queue.",
            ),
            CommandError::TooManyOrigins { .. } => (
                ErrorCode::TooManyOrigins,
                text,
                "Remove origins you no longer use, or allow * by re-creating the queue.",
            ),
            CommandError::MemberNotFound => (
                ErrorCode::MemberNotFound,
                text,
                "List the members with GET /admin/cluster/nodes.",
            ),
            CommandError::MemberRemoved(_) => (
                ErrorCode::MemberRemoved,
                text,
                "Start the node with a new id and --join, then add that id.",
            ),
            CommandError::MemberConflict(_) => (
                ErrorCode::MemberConflict,
                text,
                "Check the member list with GET /admin/cluster/nodes and use a new id and free addresses.",
            ),
            CommandError::IdReused(_) => (
                ErrorCode::MemberConflict,
                text,
                "Add a new node with a new id, then remove the old id.",
            ),
            CommandError::Invalid(m) => (
                ErrorCode::InvalidRequest,
                m,
                "Correct the request as the error says and send it again.",
            ),
        };
        Error::new(code, message, help)
    }
}

impl From<NodeError> for Error {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Unavailable(_) => Error::new(
                ErrorCode::Unavailable,
                e.to_string(),
                "The cluster has no reachable leader for this queue right now; retry shortly.",
            ),
            NodeError::Indeterminate(_) => Error::new(
                ErrorCode::OutcomeUnknown,
                e.to_string(),
                "The write may or may not have happened; retry with the same Idempotency-Key to be safe.",
            ),
            NodeError::NoSuchGroup(_) => Error::queue_not_found(),
            NodeError::Backup(_) => Error::new(
                ErrorCode::Unavailable,
                e.to_string(),
                "A backup needs every member up and every group led; take it again when GET /admin/cluster/nodes shows them live.",
            ),
            other => Error::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(seen.insert(c), "{c:?} listed twice");
            let back = ErrorCode::parse(c.as_str()).expect("parses");
            assert_eq!(back.as_str(), c.as_str());
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn refusals_keep_their_wire_codes() {
        let code = |e: CommandError| Error::from(e).code.as_str();
        assert_eq!(code(CommandError::Unauthorized), "invalid_api_key");
        assert_eq!(code(CommandError::FormUnauthorized), "invalid_api_key");
        assert_eq!(code(CommandError::StaleToken), "stale_token");
        assert_eq!(
            code(CommandError::HeldFull { max_bytes: 1 }),
            "quota_exceeded"
        );
        assert_eq!(code(CommandError::WorkNotFound("task".into())), "not_found");
        assert_eq!(code(CommandError::MemberNotFound), "member_not_found");
        assert_eq!(code(CommandError::MemberRemoved(2)), "member_removed");
        assert_eq!(code(CommandError::IdReused(2)), "member_conflict");
    }
}
