//! The backend of `roost mcp` (stdio): each call goes to a node's HTTP API through
//! `roost-client`. The credentials an MCP client over stdio cannot send per request come from
//! the environment the server was started with (`ROOST_TOKEN`, `ROOST_QUEUE_API_KEY`).

use std::future::Future;
use std::pin::Pin;

use roost_api::{Error, ErrorCode};
use roost_client::{wire, Client, Publish};
use serde::Serialize;
use serde_json::Value;

use crate::tools::{QueueCall, WorkspaceCall};
use crate::{Answer, Backend, Call, Caller, Failure};

/// Fields of an HTTP reply that name HTTP routes; a tool result leaves them out, as the
/// backend on a node never makes them.
const HTTP_ONLY: [&str; 6] = [
    "_links",
    "_help",
    "next_url",
    "status_url",
    "publish_url",
    "pull_url",
];

/// Calls a node over HTTP.
pub struct Remote {
    /// The node's client.
    pub client: Client,
    /// The workspace token used when the call brings none.
    pub token: Option<String>,
    /// The queue key used when a queue call names none.
    pub queue_key: Option<String>,
}

impl Backend for Remote {
    fn call(
        &self,
        call: Call,
        caller: Caller,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
        Box::pin(async move {
            match call {
                Call::Queue(call) => self.queue(call).await,
                Call::Workspace(call) => {
                    // No token reaches the node as an empty one, which it refuses as missing.
                    let token = caller
                        .token
                        .or_else(|| self.token.clone())
                        .unwrap_or_default();
                    self.workspace(call, &token).await
                }
            }
        })
    }
}

impl Remote {
    /// The key for a queue call: the call's own, else the environment's; none is sent as an
    /// empty one, which the node refuses as missing.
    fn key<'a>(&'a self, given: &'a Option<String>) -> &'a str {
        given.as_deref().or(self.queue_key.as_deref()).unwrap_or("")
    }

    async fn queue(&self, call: QueueCall) -> Answer {
        let c = &self.client;
        match call {
            QueueCall::CreateQueue(a) => result(c.create_queue(&a.request()).await),
            QueueCall::Publish(a) => {
                let key = self.key(&a.queue_api_key);
                let published =
                    c.publish(&a.queue_id, key, &a.payload, a.idempotency_key.as_deref());
                match published.await.map_err(failure)? {
                    Publish::Stored { reply, replayed } => {
                        let mut v = result(Ok::<_, roost_client::Error>(reply))?;
                        v["idempotent_replayed"] = Value::Bool(replayed);
                        Ok(v)
                    }
                    Publish::Held(held) => result(Ok::<_, roost_client::Error>(held)),
                }
            }
            QueueCall::Pull(a) => result(
                c.pull(&a.queue_id, self.key(&a.queue_api_key), &a.request())
                    .await,
            ),
            QueueCall::Ack(a) => {
                let req = wire::Ack {
                    cursor: a.cursor,
                    consumer_id: a.consumer_id,
                };
                result(c.ack(&a.queue_id, self.key(&a.queue_api_key), &req).await)
            }
            QueueCall::SubscribeForm(a) => {
                let req = wire::BindForm {
                    queue_id: a.queue_id,
                    queue_api_key: Some(self.key(&a.queue_api_key).to_owned()),
                };
                result(c.bind_form(&a.form_id, &a.form_api_key, &req).await)
            }
            QueueCall::GetQueue(a) => {
                result(c.get_queue(&a.queue_id, self.key(&a.queue_api_key)).await)
            }
            QueueCall::Nack(a) => result(
                c.nack(&a.queue_id, self.key(&a.queue_api_key), &a.request())
                    .await,
            ),
            QueueCall::DeadLetters(a) => {
                let key = self.key(&a.queue_api_key);
                result(c.dead_letters(&a.queue_id, key, a.cursor, a.limit).await)
            }
            QueueCall::Replay(a) => {
                let key = self.key(&a.queue_api_key);
                result(c.replay(&a.queue_id, key, &a.dlq_msg_id).await)
            }
        }
    }

    async fn workspace(&self, call: WorkspaceCall, token: &str) -> Answer {
        let c = &self.client;
        match call {
            WorkspaceCall::CreateJob(a) => result(c.create_job(token, &a.request()).await),
            WorkspaceCall::GetJob(a) => result(c.get_job(token, &a.id).await),
            WorkspaceCall::ListJobs(a) => result(c.list_jobs(token, &a.request()).await),
            WorkspaceCall::CancelJob(a) => result(c.cancel_job(token, &a.id).await),
            WorkspaceCall::WaitJob(a) => result(c.wait_job(token, &a.id, a.timeout).await),
            WorkspaceCall::ClaimJobs(a) => result(c.claim_jobs(token, &a.request()).await),
            WorkspaceCall::HeartbeatJob(a) => {
                let req = wire::JobHeartbeat {
                    token: a.token,
                    progress: a.progress,
                };
                result(c.heartbeat_job(token, &a.id, &req).await)
            }
            WorkspaceCall::CompleteJob(a) => {
                let req = wire::CompleteJob {
                    token: a.token,
                    result: a.result,
                };
                result(c.complete_job(token, &a.id, &req).await)
            }
            WorkspaceCall::FailJob(a) => {
                let req = wire::FailJob {
                    token: a.token,
                    error: a.error,
                    retryable: a.retryable.unwrap_or(true),
                };
                result(c.fail_job(token, &a.id, &req).await)
            }
            WorkspaceCall::CreateWorkQueue(a) => {
                result(c.create_work_queue(token, &a.request()).await)
            }
            WorkspaceCall::ListWorkQueues(_) => result(c.list_work_queues(token).await),
            WorkspaceCall::AddTask(a) => {
                let (id, req) = a.request();
                result(c.add_task(token, &id, &req).await)
            }
            WorkspaceCall::ListTasks(a) => {
                result(c.list_tasks(token, &a.id, a.status.as_deref()).await)
            }
            WorkspaceCall::DequeueTask(a) => taken(c.dequeue(token, &a.id, &a.agent_id).await),
            WorkspaceCall::StealTask(a) => taken(c.steal(token, &a.id, &a.agent_id).await),
            WorkspaceCall::CompleteTask(a) => {
                let (id, req) = a.request();
                result(c.complete_task(token, &id, &req).await)
            }
            WorkspaceCall::FailTask(a) => {
                let (id, req) = a.request();
                result(c.fail_task(token, &id, &req).await)
            }
        }
    }
}

/// A taken task, or `{"task": null}` when there was none (HTTP's 204).
fn taken(reply: Result<Option<wire::TaskReply>, roost_client::Error>) -> Answer {
    match reply.map_err(failure)? {
        Some(t) => result(Ok::<_, roost_client::Error>(t)),
        None => Ok(serde_json::json!({"task": null})),
    }
}

/// A reply as the tool result (without the fields that name HTTP routes), or the failure.
fn result<T: Serialize>(reply: Result<T, roost_client::Error>) -> Answer {
    let mut v = serde_json::to_value(reply.map_err(failure)?)
        .map_err(|e| Failure::from(Error::internal(format!("rendering a reply: {e}"))))?;
    if let Value::Object(fields) = &mut v {
        for field in HTTP_ONLY {
            fields.remove(field);
        }
    }
    Ok(v)
}

/// A failed call as a tool failure: the node's own error when it answered with one.
fn failure(e: roost_client::Error) -> Failure {
    match e {
        roost_client::Error::Api { body, .. } => Failure {
            error: body.error,
            code: body.code,
            help: body.help,
        },
        roost_client::Error::Transport(_) => Failure::from(Error::new(
            ErrorCode::Unavailable,
            e.to_string(),
            "The node at --url did not answer: check that it runs and that the URL is right, then call again.",
        )),
        roost_client::Error::Request(why) => Failure::from(Error::new(
            ErrorCode::InvalidRequest,
            why,
            "Send the arguments as the tool's inputSchema describes them.",
        )),
        other => Failure::from(Error::new(
            ErrorCode::Internal,
            other.to_string(),
            "The node's answer was not what this client expects: check that --url names a Roost node of the same version.",
        )),
    }
}
