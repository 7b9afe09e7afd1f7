//! Roost's client API as JSON: the requests the HTTP edge parses and the replies it renders,
//! with the HTTP field names. The server (`roost-api`, `roost-http`) and its clients
//! (`roost-client`, the CLI, the MCP server) share these definitions, and this crate depends on
//! nothing of the server, so a client never pulls in Raft or storage.
//!
//! Replies are owned and both serialize and deserialize: a client reads a reply into them and
//! can write it back as the same JSON. Stored JSON documents (payloads, results) stay
//! `RawValue`s, byte for byte.

mod doc;
mod jobs;
mod queues;
pub mod schema;
pub mod whole;
mod work;

pub use doc::{Doc, Time};
pub use jobs::{
    ClaimJobs, Claimed, CompleteJob, CreateJob, FailJob, Job, JobAccepted, JobHeartbeat,
    JobHeartbeatReply, JobPage, JobReply, ListJobs,
};
pub use queues::{
    Ack, Acked, BatchMessage, BatchResult, BindForm, ConsumerCursor, CreateQueue, DeadLetter,
    DeadLetters, Envelope, EnvelopeHead, FormBound, FormLinks, Nack, Nacked, OriginsField,
    PublishBatch, Published, PublishedBatch, Pull, Pulled, QueueCreated, QueueFrame, QueueHeld,
    QueueInfo, QueueLinks, QueueSettings, Replay, Replayed,
};
pub use work::{
    AddTask, CreateWorkQueue, FinishTask, TakeTask, Task, TaskList, TaskReply, WorkQueue,
    WorkQueueList,
};

use serde::{Deserialize, Serialize};

/// The reply header that, when the node asked forwarded the request to the leader of the Raft
/// group holding its queue or workspace, names that leader's node id: a client that knows each
/// node's URL sends its next request about the same thing there and saves the hop.
pub const LEADER_HEADER: &str = "roost-leader";

/// Every error reply: `{error, code, _help}`; `code` is stable, the other two are prose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// The stable error code.
    pub code: String,
    /// What to do about it.
    #[serde(rename = "_help")]
    pub help: String,
}
