//! The tool table: each tool's name, arguments, description and hints, once. Listing the
//! tools and decoding a call both come from it, so a tool cannot be listed under one name and
//! answered under another.
//!
//! Arguments are decoded here rather than by the SDK's typed extractor: a malformed call must
//! come back as a tool error with a stable code (`invalid_body`, as a malformed HTTP body), which an agent reads
//! and corrects, not as a protocol error that many clients surface as a crash.

use rmcp::handler::server::tool::schema_for_type;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use roost_api::{Error, ErrorCode};

use crate::args;
use crate::Failure;

/// Hints a client may show or act on (MCP's tool annotations).
#[derive(Clone, Copy)]
struct Hints {
    /// Changes nothing.
    read_only: bool,
    /// May undo or take away something another caller relies on.
    destructive: bool,
    /// Calling it again with the same arguments changes nothing more.
    idempotent: bool,
}

const READ: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
};
const WRITE: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: false,
};
const SETTLE: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: true,
};
const END: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: true,
};

macro_rules! tools {
    (
        queues { $( $qname:ident => $qvariant:ident($qargs:ty), $qhints:expr, $qdesc:literal; )* }
        workspace { $( $wname:ident => $wvariant:ident($wargs:ty), $whints:expr, $wdesc:literal; )* }
    ) => {
        /// A call of a queue tool (the queue's key is among its arguments).
        #[derive(Debug)]
        pub enum QueueCall {
            $( #[doc = $qdesc] $qvariant($qargs), )*
        }

        /// A call of a job or work-queue tool (for the workspace of the caller's token).
        #[derive(Debug)]
        pub enum WorkspaceCall {
            $( #[doc = $wdesc] $wvariant($wargs), )*
        }

        /// Every tool, as `tools/list` shows it.
        pub fn list() -> Vec<Tool> {
            vec![
                $( tool::<$qargs>(stringify!($qname), $qdesc, $qhints), )*
                $( tool::<$wargs>(stringify!($wname), $wdesc, $whints), )*
            ]
        }

        /// The call `name` names with `arguments` decoded; `None` for a tool that does not exist.
        pub fn decode(name: &str, arguments: JsonObject) -> Option<Result<Call, Failure>> {
            match name {
                $( stringify!($qname) => Some(parse::<$qargs>(arguments).map(|a| Call::Queue(QueueCall::$qvariant(a)))), )*
                $( stringify!($wname) => Some(parse::<$wargs>(arguments).map(|a| Call::Workspace(WorkspaceCall::$wvariant(a)))), )*
                _ => None,
            }
        }
    };
}

/// One decoded tool call.
#[derive(Debug)]
pub enum Call {
    /// A queue tool.
    Queue(QueueCall),
    /// A job or work-queue tool.
    Workspace(WorkspaceCall),
}

tools! {
    queues {
    create_queue => CreateQueue(args::CreateQueue), WRITE,
        "Create a queue. Its queue_api_key is shown only in this answer: keep it, every other queue tool needs it.";
    publish_to_queue => Publish(args::Publish), WRITE,
        "Publish one JSON message to a queue; it gets the next seq. With an idempotency_key, a retry returns the first publish instead of publishing twice.";
    pull_queue => Pull(args::Pull), READ,
        "Read up to `limit` messages after `cursor` (default: the consumer's acked cursor). Pulling never advances anything: ack next_cursor when done.";
    ack_queue => Ack(args::Ack), SETTLE,
        "Move a consumer's cursor to `cursor` (never backwards): later pulls skip every message at or below it.";
    subscribe_form_to_queue => SubscribeForm(args::SubscribeForm), SETTLE,
        "Bind a form to a queue, proven by both keys: every later submission is published into the queue.";
    get_queue => GetQueue(args::GetQueue), READ,
        "A queue's state: head and floor seq, message and dead-letter counts, each consumer's cursor and lag, settings.";
    nack_message => Nack(args::Nack), WRITE,
        "Report a failed delivery of message `seq`; after max_deliveries failures (or at once with dead_letter) it moves to the dead-letter queue.";
    list_dead_letters => DeadLetters(args::DeadLetters), READ,
        "One page of a queue's dead letters, oldest first; pass next_cursor as cursor for the next page.";
    replay_dead_letter => Replay(args::Replay), WRITE,
        "Publish a dead letter again as a new message (source dlq-replay, replayed_from keeps the original id).";
    }
    workspace {
    create_job => CreateJob(args::CreateJob), WRITE,
        "Enqueue an async job of a worker type, with its payload, retries, timeout, priority, start time and webhook.";
    get_job => GetJob(args::ById), READ,
        "A job: status, progress, attempts, result or error.";
    list_jobs => ListJobs(args::ListJobs), READ,
        "A page of the workspace's jobs, oldest first, optionally by status and type.";
    cancel_job => CancelJob(args::ById), END,
        "Cancel a job: a queued job ends at once, a running one is asked to stop at its next heartbeat.";
    wait_for_job => WaitJob(args::WaitJob), READ,
        "Wait until a job is over (completed, failed or cancelled) or `timeout` seconds pass, then return it.";
    claim_jobs => ClaimJobs(args::ClaimJobs), WRITE,
        "As a worker, lease up to `limit` due jobs of the given types; each comes with the token its heartbeat, complete and fail need.";
    heartbeat_job => HeartbeatJob(args::HeartbeatJob), SETTLE,
        "Extend a claimed job's lease and report progress; the answer says whether cancellation was asked for.";
    complete_job => CompleteJob(args::CompleteJob), SETTLE,
        "Finish a claimed job with its result.";
    fail_job => FailJob(args::FailJob), WRITE,
        "Fail a claimed job's attempt; it is retried with backoff while retries remain and `retryable` is true.";
    create_work_queue => CreateWorkQueue(args::CreateWorkQueue), WRITE,
        "Create a work queue whose tasks the agents of one team take.";
    list_work_queues => ListWorkQueues(args::Nothing), READ,
        "The work queues the caller may see, with their tasks counted by status.";
    add_task => AddTask(args::AddTask), WRITE,
        "Add a task to a work queue (`id`), with a priority from 1 to 5 (5 the most urgent).";
    list_tasks => ListTasks(args::ListTasks), READ,
        "A work queue's tasks, optionally by status.";
    dequeue_task => DequeueTask(args::TakeTask), WRITE,
        "Take the most urgent pending task of a work queue for an agent; `task` is null when none is pending.";
    steal_task => StealTask(args::TakeTask), WRITE,
        "For an agent of work queue `id`, take the most urgent pending task of the team's other work queues; `task` is null when none is pending.";
    complete_task => CompleteTask(args::FinishTask), SETTLE,
        "Finish a task (`id`) with its result, fenced by the token its dequeue returned.";
    fail_task => FailTask(args::FinishTask), WRITE,
        "Fail a task (`id`) with an error, fenced by the token its dequeue returned.";
    }
}

/// A tool whose arguments are `A`.
fn tool<A: JsonSchema + 'static>(name: &'static str, desc: &'static str, h: Hints) -> Tool {
    let hints = ToolAnnotations::new()
        .read_only(h.read_only)
        .destructive(h.destructive)
        .idempotent(h.idempotent)
        .open_world(false);
    Tool::new(name, desc, schema_for_type::<A>()).with_annotations(hints)
}

/// `arguments` as `A`, or a tool error naming what is wrong with them.
fn parse<A: DeserializeOwned>(arguments: JsonObject) -> Result<A, Failure> {
    // The path names the argument at fault, which serde's own message leaves out.
    serde_path_to_error::deserialize(serde_json::Value::Object(arguments)).map_err(|e| {
        Failure::from(Error::new(
            ErrorCode::InvalidBody,
            format!("the arguments do not fit this tool: {e}"),
            "Send the arguments the tool's inputSchema (tools/list) names, with their types.",
        ))
    })
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<Tool> {
    list().into_iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: serde_json::Value) -> JsonObject {
        match v {
            serde_json::Value::Object(o) => o,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn every_listed_tool_decodes_under_its_name() {
        let tools = list();
        assert_eq!(tools.len(), 26);
        for t in &tools {
            assert!(
                t.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                t.name
            );
            assert_eq!(
                t.input_schema.get("type"),
                Some(&"object".into()),
                "{}",
                t.name
            );
            // Arguments that are not even an object of the right fields still name the tool.
            let decoded = decode(&t.name, JsonObject::new());
            assert!(decoded.is_some(), "{} is listed but not decoded", t.name);
        }
        assert!(decode("drop_everything", JsonObject::new()).is_none());
    }

    #[test]
    fn malformed_arguments_are_a_tool_failure_with_a_stable_code() {
        let args = object(serde_json::json!({"queue_id": "q_x", "consumer_id": 7}));
        let Some(Err(f)) = decode("pull_queue", args) else {
            panic!("a number as consumer_id decoded");
        };
        assert_eq!(f.code, "invalid_body");
        assert!(f.error.contains("consumer_id"), "{}", f.error);
        let typo =
            object(serde_json::json!({"queue_id": "q_x", "payload": 1, "idempotencyKey": "k"}));
        let Some(Err(f)) = decode("publish_to_queue", typo) else {
            panic!("an unknown argument was ignored");
        };
        assert_eq!(f.code, "invalid_body");
    }

    #[test]
    fn hints_say_which_tools_change_nothing() {
        let hint = |name: &str| {
            find(name)
                .and_then(|t| t.annotations)
                .unwrap_or_else(|| panic!("{name} has no annotations"))
        };
        assert_eq!(hint("pull_queue").read_only_hint, Some(true));
        assert_eq!(hint("publish_to_queue").read_only_hint, Some(false));
        assert_eq!(hint("cancel_job").destructive_hint, Some(true));
        assert_eq!(hint("ack_queue").idempotent_hint, Some(true));
    }
}
