//! The backend on a node: each call goes to the application layer in process and its reply
//! is rendered with the views the HTTP edge renders (without the HTTP edge's `_links`, URLs
//! and `_help`, which name HTTP routes).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use roost_api::views::{
    ClaimedView, CreatedView, DeadLetterPage, DeadLetterView, EnvelopeView, HeartbeatView,
    JobPageView, JobReply, JobView, NackedView, QueueInfoView, ReplayedView, StoredView, TaskList,
    TaskReply, TaskView, WorkQueueList, WorkQueueView,
};
use roost_api::{input, timestamp, Api, Error, ErrorCode, Published, Replayed};
use serde::Serialize;
use serde_json::{json, Value};

use crate::tools::{QueueCall, WorkspaceCall};
use crate::{Answer, Backend, Call, Caller, Failure};

/// Calls the application layer of this node.
pub struct Local(pub Api);

impl Backend for Local {
    fn call(
        &self,
        call: Call,
        caller: Caller,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
        Box::pin(async move { self.run(call, caller).await.map_err(Failure::from) })
    }

    fn record(&self, tool: &str, outcome: &str, took: Duration) {
        self.0
            .node()
            .metrics()
            .request(roost_node::Edge::Mcp, tool, outcome, took);
    }
}

impl Local {
    async fn run(&self, call: Call, caller: Caller) -> Result<Value, Error> {
        match call {
            Call::Queue(call) => self.queue(call, caller).await,
            Call::Workspace(call) => self.workspace(call, caller).await,
        }
    }

    async fn queue(&self, call: QueueCall, caller: Caller) -> Result<Value, Error> {
        let api = &self.0;
        let addr = caller.addr;
        match call {
            QueueCall::CreateQueue(a) => {
                let created = api.create_queue(addr, a.request()).await?;
                framed(created.queue.id.as_str(), CreatedView::of(&created))
            }
            QueueCall::Publish(a) => {
                let q = api.queue_ref(&a.queue_id, a.queue_api_key.as_deref())?;
                let key = a.idempotency_key.map(input::idempotency_key).transpose()?;
                let published = api.publish(&q, addr, a.payload.as_str().as_bytes(), key);
                match published.await? {
                    Published::Stored {
                        seq,
                        id,
                        published_at_ms,
                        replayed,
                    } => {
                        let mut v = framed(
                            q.id.as_str(),
                            StoredView {
                                seq,
                                id: &id,
                                published_at: timestamp(published_at_ms),
                            },
                        )?;
                        // Over HTTP this is the `Idempotent-Replayed` header.
                        v["idempotent_replayed"] = Value::Bool(replayed);
                        Ok(v)
                    }
                    Published::Held {
                        pending_id,
                        denied: None,
                    } => framed(
                        q.id.as_str(),
                        json!({"auto_enqueued": true, "pending_publish_id": pending_id}),
                    ),
                    Published::Held {
                        pending_id,
                        denied: Some(d),
                    } => Err(Error::new(
                        ErrorCode::QuotaExceeded,
                        format!(
                            "monthly queue publish quota exceeded ({} of {} on plan {}); the message was kept as {pending_id}",
                            d.used,
                            d.limit.map_or("unlimited".into(), |l| l.to_string()),
                            d.plan.as_str()
                        ),
                        "The message replays by itself once the queue's account raises its plan; publishing it again is not needed.",
                    )),
                }
            }
            QueueCall::Pull(a) => {
                let q = api.queue_ref(&a.queue_id, a.queue_api_key.as_deref())?;
                let pulled = api.pull(&q, addr, a.request()).await?;
                let messages = pulled
                    .messages
                    .iter()
                    .map(|m| EnvelopeView::new(&q.id, m))
                    .collect::<Result<Vec<_>, _>>()?;
                framed(
                    q.id.as_str(),
                    json!({
                        "consumer_id": pulled.consumer_id,
                        "cursor": pulled.cursor,
                        "messages": render(messages)?,
                        "next_cursor": pulled.next_cursor,
                        "has_more": pulled.has_more,
                        "floor": pulled.floor,
                        "cursor_below_floor": pulled.below_floor,
                    }),
                )
            }
            QueueCall::Ack(a) => {
                let q = api.queue_ref(&a.queue_id, a.queue_api_key.as_deref())?;
                let cursor = api.ack(&q, &a.consumer_id, a.cursor).await?;
                framed(
                    q.id.as_str(),
                    json!({"ok": true, "consumer_id": a.consumer_id, "cursor": cursor}),
                )
            }
            QueueCall::SubscribeForm(a) => {
                let (form, queue) = api
                    .bind_form(
                        &a.form_id,
                        Some(&a.form_api_key),
                        &a.queue_id,
                        a.queue_api_key.as_deref(),
                    )
                    .await?;
                Ok(json!({"ok": true, "form_id": form.as_str(), "queue_id": queue.as_str()}))
            }
            QueueCall::GetQueue(a) => {
                let q = api.queue_ref(&a.queue_id, a.queue_api_key.as_deref())?;
                let queue = api.get_queue(&q).await?;
                framed(q.id.as_str(), QueueInfoView::of(&queue))
            }
            QueueCall::Nack(a) => {
                let q = api.queue_ref(&a.queue_id, a.queue_api_key.as_deref())?;
                let nacked = api.nack(&q, a.request()).await?;
                framed(q.id.as_str(), NackedView::of(nacked))
            }
            QueueCall::DeadLetters(a) => {
                let q = api.queue_ref(&a.queue_id, a.queue_api_key.as_deref())?;
                let page = api.dead_letters(&q, a.cursor, a.limit).await?;
                let messages = page
                    .rows
                    .iter()
                    .map(|(row, e)| DeadLetterView::new(&q.id, *row, e))
                    .collect::<Result<Vec<_>, _>>()?;
                let body = DeadLetterPage {
                    messages,
                    next_cursor: page.next_cursor,
                    has_more: page.has_more,
                };
                framed(q.id.as_str(), body)
            }
            QueueCall::Replay(a) => {
                let q = api.queue_ref(&a.queue_id, a.queue_api_key.as_deref())?;
                match api.replay(&q, addr, &a.dlq_msg_id).await? {
                    Replayed::Done(envelope) => framed(
                        q.id.as_str(),
                        ReplayedView {
                            ok: true,
                            replayed: EnvelopeView::new(&q.id, &envelope)?,
                        },
                    ),
                    Replayed::OverQuota(d) => Err(Error::new(
                        ErrorCode::QuotaExceeded,
                        format!(
                            "monthly queue publish quota exceeded ({} used on plan {}); a replay counts as a publish",
                            d.used,
                            d.plan.as_str()
                        ),
                        "The dead letter stays in the DLQ: replay it after the plan is raised or the month turns.",
                    )),
                }
            }
        }
    }

    /// The jobs and work-queue tools, which act for the workspace the caller's token names.
    async fn workspace(&self, call: WorkspaceCall, caller: Caller) -> Result<Value, Error> {
        let api = &self.0;
        let c = api.caller(caller.token.as_deref())?;
        let addr = caller.addr;
        let job = |j: &roost_state::Job| {
            render(JobReply {
                job: JobView::of(j),
            })
        };
        let task = |t: &roost_state::Task, with_token: bool| {
            render(TaskReply {
                task: TaskView::of(t, with_token, api.now_ms()),
            })
        };
        match call {
            WorkspaceCall::CreateJob(a) => {
                let mut req = a.request();
                req.idempotency_key = req
                    .idempotency_key
                    .map(input::idempotency_key)
                    .transpose()?;
                let j = api.create_job(&c, req).await?;
                render(json!({
                    "id": j.id,
                    "status": j.status.as_str(),
                    "job": render(JobView::of(&j))?,
                }))
            }
            WorkspaceCall::GetJob(a) => job(&api.get_job(&c, &a.id).await?),
            WorkspaceCall::ListJobs(a) => {
                let page = api.list_jobs(&c, a.request()).await?;
                render(JobPageView {
                    jobs: page.jobs.iter().map(JobView::of).collect(),
                    next_cursor: page.next_cursor,
                    has_more: page.has_more,
                })
            }
            WorkspaceCall::CancelJob(a) => job(&api.cancel_job(&c, &a.id).await?),
            WorkspaceCall::WaitJob(a) => job(&api.wait_job(&c, addr, &a.id, a.timeout).await?),
            WorkspaceCall::ClaimJobs(a) => {
                let jobs = api.claim_jobs(&c, addr, a.request()).await?;
                render(ClaimedView::of(&jobs))
            }
            WorkspaceCall::HeartbeatJob(a) => {
                let beat = api.heartbeat_job(&c, &a.id, &a.token, a.progress).await?;
                render(HeartbeatView::of(beat))
            }
            WorkspaceCall::CompleteJob(a) => {
                job(&api.complete_job(&c, &a.id, &a.token, a.result).await?)
            }
            WorkspaceCall::FailJob(a) => {
                let retryable = a.retryable.unwrap_or(true);
                job(&api
                    .fail_job(&c, &a.id, &a.token, a.error, retryable)
                    .await?)
            }
            WorkspaceCall::CreateWorkQueue(a) => render(WorkQueueView::of(
                &api.create_work_queue(&c, a.request()).await?,
            )),
            WorkspaceCall::ListWorkQueues(_) => {
                let queues = api.list_work_queues(&c).await?;
                render(WorkQueueList {
                    work_queues: queues.iter().map(WorkQueueView::of).collect(),
                })
            }
            WorkspaceCall::AddTask(a) => {
                let (id, mut req) = a.request();
                req.idempotency_key = req
                    .idempotency_key
                    .map(input::idempotency_key)
                    .transpose()?;
                let (t, _created) = api.add_task(&c, &id, req).await?;
                task(&t, false)
            }
            WorkspaceCall::ListTasks(a) => {
                let tasks = api.list_tasks(&c, &a.id, a.status.as_deref()).await?;
                let now = api.now_ms();
                render(TaskList {
                    tasks: tasks.iter().map(|t| TaskView::of(t, false, now)).collect(),
                })
            }
            WorkspaceCall::DequeueTask(a) => {
                match api.take_task(&c, &a.id, &a.agent_id, false).await? {
                    Some(t) => task(&t, true),
                    None => Ok(json!({"task": null})),
                }
            }
            WorkspaceCall::StealTask(a) => match api.take_task(&c, &a.id, &a.agent_id, true).await?
            {
                Some(t) => task(&t, true),
                None => Ok(json!({"task": null})),
            },
            WorkspaceCall::CompleteTask(a) => {
                let (id, req) = a.request();
                task(&api.complete_task(&c, &id, req).await?, false)
            }
            WorkspaceCall::FailTask(a) => {
                let (id, req) = a.request();
                task(&api.fail_task(&c, &id, req).await?, false)
            }
        }
    }
}

/// `body` as the JSON value a client sees.
fn render<T: Serialize>(body: T) -> Result<Value, Error> {
    serde_json::to_value(body).map_err(|e| Error::internal(format!("rendering a reply: {e}")))
}

/// `body` with the `queue_id` it is about, as every queue reply has it.
fn framed<T: Serialize>(queue_id: &str, body: T) -> Result<Value, Error> {
    let mut v = render(body)?;
    if let Value::Object(fields) = &mut v {
        fields.insert("queue_id".into(), Value::String(queue_id.to_owned()));
    }
    Ok(v)
}
