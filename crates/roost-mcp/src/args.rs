//! Each tool's arguments, named like the HTTP API's fields (the jobs and work-queue APIs spell
//! theirs in camelCase, as their HTTP bodies do). The JSON schemas clients see come from these
//! types; stored documents (payloads, results) and times keep the layer's own types, so they
//! are checked exactly as over HTTP.

use roost_api::{Doc, OriginsField, Time};
use schemars::JsonSchema;
use serde::Deserialize;

/// Any JSON document (a payload, a result).
type AnyJson = serde_json::Value;

/// `create_queue`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQueue {
    /// Consumers registered from the start (at most 100); each gets its own cursor.
    #[serde(default)]
    pub consumers: Vec<String>,
    /// Failed deliveries before a message is dead-lettered (1-100, default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub max_deliveries: Option<u32>,
    /// Browser origins allowed to call the queue with its key: "*", a comma-separated list,
    /// or an array.
    #[serde(default)]
    #[schemars(with = "Option<AnyJson>")]
    pub allowed_origins: Option<OriginsField>,
}

/// `publish_to_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
    /// The message: any JSON document.
    #[schemars(with = "AnyJson")]
    pub payload: Doc,
    /// Makes a retried publish return the first one's seq instead of publishing twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `pull_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pull {
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
    /// Who is reading; without `cursor`, the read starts at this consumer's acked cursor.
    pub consumer_id: String,
    /// Read messages with seq greater than this.
    #[serde(default)]
    pub cursor: Option<u64>,
    /// Most messages (1-1000, default 10).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
    /// Seconds to wait for a message when there is none (0-30, default 0).
    #[serde(default)]
    #[schemars(range(max = 30))]
    pub wait: Option<u64>,
}

/// `ack_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
    /// The consumer whose cursor moves.
    pub consumer_id: String,
    /// The pull's `next_cursor`; a lower cursor than the stored one changes nothing.
    pub cursor: u64,
}

/// `subscribe_form_to_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeForm {
    /// The form's id (`f_...`).
    pub form_id: String,
    /// The form's key.
    pub form_api_key: String,
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
}

/// `get_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetQueue {
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
}

/// `nack_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nack {
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
    /// Who failed to process the message.
    pub consumer_id: String,
    /// The message.
    pub seq: u64,
    /// Why (at most 4096 bytes).
    #[serde(default)]
    pub error: String,
    /// Dead-letter it now rather than after `max_deliveries` failures.
    #[serde(default)]
    pub dead_letter: bool,
}

/// `list_dead_letters`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetters {
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
    /// The previous page's `next_cursor` (default 0: from the start).
    #[serde(default)]
    pub cursor: Option<u64>,
    /// Dead letters per page (1-1000, default 50).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
}

/// `replay_dead_letter`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// The queue's id (`q_...`).
    pub queue_id: String,
    /// The queue's key, shown once when it was created (over stdio, `ROOST_QUEUE_API_KEY`
    /// when absent).
    #[serde(default)]
    pub queue_api_key: Option<String>,
    /// The dead letter's envelope id.
    pub dlq_msg_id: String,
}

/// `create_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateJob {
    /// The worker type that runs it.
    #[serde(rename = "type")]
    pub job_type: String,
    /// JSON handed to the worker (default `{}`).
    #[serde(default)]
    #[schemars(with = "Option<AnyJson>")]
    pub payload: Option<Doc>,
    /// Retries after the first attempt (0-10, default 3).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub max_retries: Option<i64>,
    /// Seconds one attempt may run (10-86400, default 300).
    #[serde(default)]
    #[schemars(range(min = 10, max = 86400))]
    pub timeout_seconds: Option<i64>,
    /// Higher runs first (-1000..=1000, default 0).
    #[serde(default)]
    #[schemars(range(min = -1000, max = 1000))]
    pub priority: Option<i64>,
    /// Not before this time (RFC 3339, or ms since the epoch).
    #[serde(default)]
    #[schemars(with = "Option<AnyJson>")]
    pub run_at: Option<Time>,
    /// Where to POST the outcome, an http(s) URL.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Makes a retried create return the first job.
    #[serde(default, rename = "idempotency_key")]
    pub idempotency_key: Option<String>,
}

/// A job or a task, by id (`get_job`, `cancel_job`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ById {
    /// Its id.
    pub id: String,
}

/// `list_jobs`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobs {
    /// Only jobs in this status (queued, running, completed, failed, cancelled).
    #[serde(default)]
    pub status: Option<String>,
    /// Only jobs of this type.
    #[serde(default, rename = "type")]
    pub job_type: Option<String>,
    /// Jobs per page (1-200, default 50).
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<u64>,
}

/// `wait_for_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitJob {
    /// The job.
    pub id: String,
    /// Seconds to wait for it to finish (0-300, default 30).
    #[serde(default)]
    #[schemars(range(max = 300))]
    pub timeout: Option<u64>,
}

/// `claim_jobs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClaimJobs {
    /// Who is claiming.
    pub worker_id: String,
    /// The job types it runs; empty: every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Most jobs to take (1-100, default 1).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// Seconds to wait for a job when none is due (0-30, default 0).
    #[serde(default)]
    #[schemars(range(max = 30))]
    pub wait: Option<u64>,
}

/// `heartbeat_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatJob {
    /// The job.
    pub id: String,
    /// The lease token its claim returned.
    pub token: String,
    /// Progress in percent (0-100).
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub progress: Option<i64>,
}

/// `complete_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteJob {
    /// The job.
    pub id: String,
    /// The lease token its claim returned.
    pub token: String,
    /// The outcome, any JSON document.
    #[serde(default)]
    #[schemars(with = "Option<AnyJson>")]
    pub result: Option<Doc>,
}

/// `fail_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailJob {
    /// The job.
    pub id: String,
    /// The lease token its claim returned.
    pub token: String,
    /// What went wrong.
    #[serde(default)]
    pub error: String,
    /// Whether another attempt may succeed (default true).
    #[serde(default)]
    pub retryable: Option<bool>,
}

/// `create_work_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWorkQueue {
    /// Its name (1-200 characters).
    pub name: String,
    /// The team whose agents take its tasks (1-128 characters).
    pub team_id: String,
}

/// `list_work_queues`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// `add_task`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTask {
    /// The work queue.
    pub id: String,
    /// What to do (1-500 characters).
    pub name: String,
    /// 1-5, 5 the most urgent (default 3).
    #[serde(default)]
    #[schemars(range(min = 1, max = 5))]
    pub priority: Option<i64>,
    /// JSON for the agent (default `{}`).
    #[serde(default)]
    #[schemars(with = "Option<AnyJson>")]
    pub payload: Option<Doc>,
    /// When it is due (RFC 3339, or ms since the epoch).
    #[serde(default)]
    #[schemars(with = "Option<AnyJson>")]
    pub deadline: Option<Time>,
    /// Makes a retried add return the first task.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `list_tasks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasks {
    /// The work queue.
    pub id: String,
    /// Only tasks in this status (pending, claimed, completed, failed).
    #[serde(default)]
    pub status: Option<String>,
}

/// `dequeue_task`, `steal_task`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeTask {
    /// The work queue.
    pub id: String,
    /// The agent taking the task.
    #[serde(rename = "agentId")]
    pub agent_id: String,
}

/// `complete_task`, `fail_task`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishTask {
    /// The task.
    pub id: String,
    /// The token its dequeue returned; without it, the finish is not fenced.
    #[serde(default)]
    pub token: Option<String>,
    /// The result of a completed task.
    #[serde(default)]
    #[schemars(with = "Option<AnyJson>")]
    pub result: Option<Doc>,
    /// Why a task failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// The requests the HTTP API takes, which the layer takes too: both backends send these.
mod requests {
    use roost_client::wire;

    impl super::CreateQueue {
        /// The queue to create.
        pub fn request(self) -> wire::CreateQueue {
            wire::CreateQueue {
                consumers: self.consumers,
                max_deliveries: self.max_deliveries,
                allowed_origins: self.allowed_origins,
            }
        }
    }

    impl super::Pull {
        /// The pull.
        pub fn request(&self) -> wire::Pull {
            wire::Pull {
                consumer_id: self.consumer_id.clone(),
                cursor: self.cursor,
                limit: self.limit,
                wait: self.wait,
            }
        }
    }

    impl super::Nack {
        /// The nack.
        pub fn request(&self) -> wire::Nack {
            wire::Nack {
                consumer_id: self.consumer_id.clone(),
                seq: self.seq,
                error: self.error.clone(),
                dead_letter: self.dead_letter,
            }
        }
    }

    impl super::CreateJob {
        /// The job to create.
        pub fn request(self) -> wire::CreateJob {
            wire::CreateJob {
                job_type: self.job_type,
                payload: self.payload,
                max_retries: self.max_retries,
                timeout_seconds: self.timeout_seconds,
                priority: self.priority,
                run_at: self.run_at,
                webhook: self.webhook,
                idempotency_key: self.idempotency_key,
            }
        }
    }

    impl super::ListJobs {
        /// The page asked for.
        pub fn request(self) -> wire::ListJobs {
            wire::ListJobs {
                status: self.status,
                job_type: self.job_type,
                limit: self.limit,
                cursor: self.cursor,
            }
        }
    }

    impl super::ClaimJobs {
        /// The claim.
        pub fn request(self) -> wire::ClaimJobs {
            wire::ClaimJobs {
                worker_id: self.worker_id,
                types: self.types,
                limit: self.limit,
                wait: self.wait,
            }
        }
    }

    impl super::CreateWorkQueue {
        /// The work queue to create.
        pub fn request(self) -> wire::CreateWorkQueue {
            wire::CreateWorkQueue {
                name: self.name,
                team_id: self.team_id,
            }
        }
    }

    impl super::AddTask {
        /// The work queue and the task to add to it.
        pub fn request(self) -> (String, wire::AddTask) {
            let req = wire::AddTask {
                name: self.name,
                priority: self.priority,
                payload: self.payload,
                deadline: self.deadline,
                idempotency_key: self.idempotency_key,
            };
            (self.id, req)
        }
    }

    impl super::FinishTask {
        /// The task and how it ends.
        pub fn request(self) -> (String, wire::FinishTask) {
            let req = wire::FinishTask {
                token: self.token,
                result: self.result,
                error: self.error,
            };
            (self.id, req)
        }
    }
}
