//! A shard's state machine: applies commands and answers queries, deterministically.
//!
//! The dispatch lives here; the queue operations are split by meaning into `messages`
//! (publish, replay, pull), `consumers` (ack, roster, garbage collection) and `dlq` (nack,
//! dead-letter pages).

mod caps;
mod consumers;
mod dlq;
mod expiry;
mod forms;
mod jobs;
mod members;
mod messages;
mod quotas;
mod stats;
mod work;

use crate::command as cmd;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::queue::INSPECTION_PREFIX;
use crate::{
    Account, Command, CommandError, DlqEntry, Envelope, Form, FormId, GroupId, HeldPublish,
    IdempotencyRecord, Job, JobEvent, LookupError, Origins, Query, QueryResult, Queue, QueueId,
    Response, Submission, Task, WorkQueue, META_GROUP,
};

/// Reads of bulk data kept by storage, needed while applying or querying.
///
/// Implementations must reflect every [`Effect`] already returned earlier in the same apply
/// batch, so consecutive commands see each other's writes.
pub trait Lookup {
    /// The idempotency record for `key` on `queue`, if one was stored.
    fn idempotency(
        &self,
        queue: &QueueId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, LookupError>;
    /// Up to `limit` envelopes of `queue` with `seq > after`, in seq order.
    fn messages(
        &self,
        queue: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, LookupError>;
    /// The dead letter of `queue` whose envelope id is `msg_id`, with its row.
    fn dlq_row(
        &self,
        queue: &QueueId,
        msg_id: &str,
    ) -> Result<Option<(u64, DlqEntry)>, LookupError>;
    /// Up to `limit` idempotency keys of `queue` recorded before `before_ms`, oldest first, as
    /// `(recorded at, key)` (a key used again later may appear with its older time too).
    fn expired_idempotency(
        &self,
        queue: &QueueId,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, LookupError>;
    /// Up to `limit` events of job `id` with `seq > after`, in order.
    fn job_events(&self, id: &str, after: u64, limit: usize) -> Result<Vec<JobEvent>, LookupError>;
    /// Up to `limit` held publishes of `queue` with `row > after`, in row order.
    fn held(
        &self,
        queue: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, HeldPublish)>, LookupError>;
    /// Up to `limit` submissions of `form` with `seq > after`, in seq order.
    fn submissions(
        &self,
        form: &FormId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Submission>, LookupError>;
    /// Up to `limit` dead letters of `queue` with `row > after`, in row order.
    fn dlq_page(
        &self,
        queue: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, DlqEntry)>, LookupError>;
}

/// A change to persist, in the order given, atomically with the applied log position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The queue's metadata changed: store [`ShardState::queue`]'s current value (or delete
    /// it when the queue is gone).
    PutQueue(QueueId),
    /// Store an envelope.
    PutMessage {
        /// Its queue.
        queue: QueueId,
        /// The envelope.
        envelope: Envelope,
    },
    /// Delete every envelope of `queue` with `seq <= through` (garbage collection); those up
    /// to `after` (the old floor) are gone already.
    DeleteMessages {
        /// The queue.
        queue: QueueId,
        /// The old floor.
        after: u64,
        /// The new floor.
        through: u64,
    },
    /// Store an idempotency record.
    PutIdempotency {
        /// Its queue.
        queue: QueueId,
        /// The client's key.
        key: String,
        /// What the key maps to.
        record: IdempotencyRecord,
    },
    /// Forget the idempotency key `key` recorded at `at_ms`; the record itself goes too when
    /// `record` (it was not replaced by a later use of the key).
    DeleteIdempotency {
        /// Its queue.
        queue: QueueId,
        /// The client's key.
        key: String,
        /// When that use of the key was recorded.
        at_ms: u64,
        /// Whether the record under `key` is this use's.
        record: bool,
    },
    /// Store a dead letter at `row`.
    PutDlq {
        /// Its queue.
        queue: QueueId,
        /// Its row number.
        row: u64,
        /// The dead letter.
        entry: DlqEntry,
    },
    /// Remove the dead letter at `row` (whose envelope id is `msg_id`).
    DeleteDlq {
        /// Its queue.
        queue: QueueId,
        /// Its row number.
        row: u64,
        /// Its envelope's id.
        msg_id: String,
    },
    /// Delete everything stored for `queue`.
    DeleteQueueData(QueueId),
    /// Store a held publish at `row`.
    PutHeld {
        /// Its queue.
        queue: QueueId,
        /// Its row.
        row: u64,
        /// The publish.
        held: HeldPublish,
    },
    /// Remove held publishes of `queue` with `row <= through`.
    DeleteHeld {
        /// The queue.
        queue: QueueId,
        /// The last row removed.
        through: u64,
    },
    /// The work queue changed or is gone.
    PutWorkQueue(String),
    /// The task changed or is gone.
    PutTask(String),
    /// The job changed: store [`ShardState::job`]'s current value.
    PutJob(String),
    /// The job expired: delete it and its events.
    DeleteJob(String),
    /// Append an event to a job's log.
    PutJobEvent {
        /// The job.
        job: String,
        /// The event.
        event: JobEvent,
    },
    /// The account's record changed: store [`ShardState::account`]'s current value.
    PutAccount(String),
    /// The roster changed: store [`ShardState::roster`] (metadata group).
    PutRoster,
    /// The IP's monthly counter changed.
    PutIpUsage(String),
    /// The form's metadata changed: store [`ShardState::form`]'s current value.
    PutForm(FormId),
    /// Store a submission.
    PutSubmission {
        /// Its form.
        form: FormId,
        /// The submission.
        submission: Submission,
    },
}

/// Group-wide values kept beside the queues; persisted with every applied batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The group's monotonic clock: the highest stamped time applied so far.
    pub clock_ms: u64,
    /// The shard count recorded by the metadata group (`None` elsewhere or before bootstrap).
    pub layout: Option<u32>,
    /// When expired idempotency keys were last swept.
    pub last_sweep_ms: u64,
    /// The seq of the newest job created in this group.
    pub job_seq: u64,
}

/// The in-memory part of one group's state: every queue's metadata and the group header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardState {
    /// Which group this state belongs to; commands for other groups are refused.
    group: GroupId,
    /// Clock and layout.
    header: Header,
    /// Queue metadata by id.
    queues: BTreeMap<QueueId, Queue>,
    /// Form metadata by id.
    forms: BTreeMap<FormId, Form>,
    /// Accounts by id (metadata group).
    accounts: BTreeMap<String, Account>,
    /// Account id by key digest, derived from `accounts`.
    account_keys: BTreeMap<[u8; 32], String>,
    /// `(month, publishes)` per source IP of unclaimed queues (metadata group).
    ip_usage: BTreeMap<String, (u32, u64)>,
    /// Jobs by id.
    jobs: BTreeMap<String, Job>,
    /// Indexes over `jobs`, derived.
    job_index: jobs::JobIndex,
    /// Work queues by id.
    work_queues: BTreeMap<String, WorkQueue>,
    /// Tasks by id.
    tasks: BTreeMap<String, Task>,
    /// Indexes over `tasks`, derived.
    work_index: work::WorkIndex,
    /// The cluster's members (metadata group).
    roster: crate::Roster,
}

/// Everything persisted of a group's in-memory state, for rebuilding it.
#[derive(Default)]
pub struct ShardParts {
    /// Clock and layout.
    pub header: Header,
    /// Queues.
    pub queues: Vec<Queue>,
    /// Forms.
    pub forms: Vec<Form>,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Per-IP counters.
    pub ip_usage: Vec<(String, (u32, u64))>,
    /// Jobs.
    pub jobs: Vec<Job>,
    /// Work queues.
    pub work_queues: Vec<WorkQueue>,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// The cluster's members (metadata group).
    pub roster: crate::Roster,
}

/// Effects of the command being applied.
type Effects = Vec<Effect>;

impl ShardState {
    /// An empty shard.
    pub fn new(group: GroupId) -> Self {
        ShardState {
            group,
            ..Default::default()
        }
    }

    /// Rebuilds a shard from persisted parts.
    pub fn from_parts(group: GroupId, parts: ShardParts) -> Self {
        let account_keys = parts
            .accounts
            .iter()
            .flat_map(|a| a.key_digests.iter().map(|k| (*k, a.id.clone())))
            .collect();
        ShardState {
            group,
            header: parts.header,
            queues: parts
                .queues
                .into_iter()
                .map(|q| (q.id.clone(), q))
                .collect(),
            forms: parts.forms.into_iter().map(|f| (f.id.clone(), f)).collect(),
            accounts: parts
                .accounts
                .into_iter()
                .map(|a| (a.id.clone(), a))
                .collect(),
            account_keys,
            ip_usage: parts.ip_usage.into_iter().collect(),
            job_index: {
                let mut index = jobs::JobIndex::default();
                for job in &parts.jobs {
                    index.insert(job);
                }
                index
            },
            jobs: parts.jobs.into_iter().map(|j| (j.id.clone(), j)).collect(),
            work_queues: parts
                .work_queues
                .into_iter()
                .map(|q| (q.id.clone(), q))
                .collect(),
            work_index: {
                let mut index = work::WorkIndex::default();
                for t in &parts.tasks {
                    index.insert(t);
                }
                index
            },
            tasks: parts.tasks.into_iter().map(|t| (t.id.clone(), t)).collect(),
            roster: parts.roster,
        }
    }

    /// A work queue.
    pub fn work_queue(&self, id: &str) -> Option<&WorkQueue> {
        self.work_queues.get(id)
    }

    /// A task.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    /// A job.
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.get(id)
    }

    /// An account (metadata group).
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Every account, in id order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// `(month, publishes)` of an IP (metadata group).
    pub fn ip_usage(&self, ip: &str) -> Option<(u32, u64)> {
        self.ip_usage.get(ip).copied()
    }

    /// A form's metadata.
    pub fn form(&self, id: &FormId) -> Option<&Form> {
        self.forms.get(id)
    }

    /// Every form, in id order.
    pub fn forms(&self) -> impl Iterator<Item = &Form> {
        self.forms.values()
    }

    /// The group header (clock, layout).
    pub fn header(&self) -> Header {
        self.header
    }

    /// The cluster's members (metadata group).
    pub fn roster(&self) -> &crate::Roster {
        &self.roster
    }

    /// A queue's metadata.
    pub fn queue(&self, id: &QueueId) -> Option<&Queue> {
        self.queues.get(id)
    }

    /// Every queue, in id order.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// Applies one command of a log entry stamped at `stamped_ms`. A refusal is a normal
    /// [`Response`]; only a storage failure is an error, and then nothing of the entry may be
    /// persisted.
    pub fn apply(
        &mut self,
        stamped_ms: u64,
        command: &Command,
        lookup: &dyn Lookup,
    ) -> Result<(Response, Vec<Effect>), LookupError> {
        self.header.clock_ms = self.header.clock_ms.max(stamped_ms);
        let now = self.header.clock_ms;
        let mut fx = Vec::new();
        if let Some(shard) = command.shard() {
            if shard != self.group {
                // Job and work ids live in their workspace's shard: one naming another shard
                // cannot be the caller's, so it is simply not found.
                let refusal = match command {
                    Command::Heartbeat(_)
                    | Command::CompleteJob(_)
                    | Command::FailJob(_)
                    | Command::CancelJob(_)
                    | Command::RetryJob(_) => CommandError::JobNotFound,
                    Command::DeleteWorkQueue(_) | Command::AddTask(_) | Command::Dequeue(_) => {
                        CommandError::WorkNotFound("work queue".into())
                    }
                    Command::TaskHeartbeat(_) | Command::FinishTask(_) => {
                        CommandError::WorkNotFound("task".into())
                    }
                    _ => {
                        CommandError::Invalid(format!("shard {shard} is not group {}", self.group))
                    }
                };
                return Ok((Response::Refused(refusal), fx));
            }
        }
        let result = match command {
            Command::Capped(cmd::Capped { caps, command }) => match self.breaks_caps(caps, command)
            {
                Some(refusal) => refuse(refusal),
                None => return self.apply(stamped_ms, command, lookup),
            },
            Command::Noop => Ok(Ok(Response::Done)),
            Command::KeepHeld(cmd::KeepHeld { command }) => match &**command {
                publish @ Command::Publish(_) => {
                    self.apply_publish(now, publish, false, lookup, &mut fx)
                }
                other => return self.apply(stamped_ms, other, lookup),
            },
            Command::Refund(cmd::Refund { payer, month }) => self.refund(payer, *month, &mut fx),
            Command::RefundHeld(cmd::RefundHeld {
                payer,
                month,
                bytes,
            }) => self.refund_held(payer, *month, *bytes, &mut fx),
            Command::ChargeHold(cmd::ChargeHold {
                payer,
                limits,
                bytes,
                max_held_bytes,
            }) => self.charge_hold(now, payer, *limits, *bytes, *max_held_bytes, &mut fx),
            Command::DrainHeldChunk(cmd::DrainHeldChunk { queue, max }) => {
                self.drain_held_chunk(now, queue, *max, lookup, &mut fx)
            }
            Command::ExpireUnused(cmd::ExpireUnused { unused_for_ms }) => {
                Ok(Ok(self.expire_unused(now, *unused_for_ms, &mut fx)))
            }
            Command::InitLayout(cmd::InitLayout { shards }) => self.init_layout(*shards),
            Command::SeedMembers(cmd::SeedMembers { members }) => {
                self.seed_members(members, &mut fx)
            }
            Command::AddMember(cmd::AddMember {
                id,
                peer_addr,
                http_addr,
            }) => self.add_member(*id, peer_addr, http_addr, &mut fx),
            Command::RemoveMember(cmd::RemoveMember { id }) => self.remove_member(*id, &mut fx),
            Command::MemberStarted(cmd::MemberStarted { id, incarnation }) => {
                self.member_started(*id, *incarnation, &mut fx)
            }
            Command::Tick => {
                self.tick_jobs(now, &mut fx);
                self.tick_work(now, &mut fx);
                self.tick(now, lookup, &mut fx).map(|()| Ok(Response::Done))
            }
            Command::CreateJob(cmd::CreateJob {
                id,
                workspace,
                spec,
                idempotency,
                ttl,
            }) => self.create_job(
                now,
                id,
                workspace,
                spec,
                idempotency.as_ref(),
                *ttl,
                &mut fx,
            ),
            Command::ClaimJobs(cmd::ClaimJobs {
                workspace,
                worker_id,
                types,
                lease_ms,
                tokens,
            }) => self.claim_jobs(now, workspace, worker_id, types, *lease_ms, tokens, &mut fx),
            Command::Heartbeat(cmd::Heartbeat {
                workspace,
                job,
                token,
                progress,
                lease_ms,
            }) => self.heartbeat(now, workspace, job, *token, *progress, *lease_ms, &mut fx),
            Command::CompleteJob(cmd::CompleteJob {
                workspace,
                job,
                token,
                result,
            }) => self.complete_job(now, workspace, job, *token, result, &mut fx),
            Command::FailJob(cmd::FailJob {
                workspace,
                job,
                token,
                error,
                retryable,
            }) => self.fail_job(now, workspace, job, *token, error, *retryable, &mut fx),
            Command::CancelJob(cmd::CancelJob { workspace, job }) => {
                self.cancel_job(now, workspace, job, &mut fx)
            }
            Command::WebhookAttempted(cmd::WebhookAttempted {
                job,
                generation,
                attempt,
                outcome,
                give_up,
            }) => {
                self.webhook_attempted(now, job, *generation, *attempt, outcome, *give_up, &mut fx)
            }
            Command::CreateWorkQueue(cmd::CreateWorkQueue {
                id,
                workspace,
                name,
                team,
            }) => self.create_work_queue(now, id, workspace, name, team, &mut fx),
            Command::DeleteWorkQueue(cmd::DeleteWorkQueue { workspace, id }) => {
                self.delete_work_queue(workspace, id, &mut fx)
            }
            Command::AddTask(cmd::AddTask {
                id,
                workspace,
                queue,
                name,
                priority,
                payload,
                deadline_ms,
                idempotency,
            }) => self.add_task(
                now,
                id,
                workspace,
                queue,
                name,
                *priority,
                payload,
                *deadline_ms,
                idempotency.as_ref(),
                &mut fx,
            ),
            Command::Dequeue(cmd::Dequeue {
                workspace,
                queue,
                agent,
                token,
                lease_ms,
                steal,
            }) => self.dequeue(
                now, workspace, queue, agent, *token, *lease_ms, *steal, &mut fx,
            ),
            Command::TaskHeartbeat(cmd::TaskHeartbeat {
                workspace,
                task,
                token,
                lease_ms,
            }) => self.task_heartbeat(now, workspace, task, *token, *lease_ms, &mut fx),
            Command::FinishTask(cmd::FinishTask {
                workspace,
                task,
                token,
                outcome,
            }) => self.finish_task(now, workspace, task, *token, outcome, &mut fx),
            Command::RetryJob(cmd::RetryJob { workspace, job }) => {
                self.retry_job(now, workspace, job, &mut fx)
            }
            Command::CreateQueue(cmd::CreateQueue {
                id,
                key_digest,
                consumers,
                settings,
            }) => self.create(now, id, key_digest, consumers, settings, &mut fx),
            Command::DeleteQueue(cmd::DeleteQueue { queue, auth }) => {
                self.delete(queue, auth, &mut fx)
            }
            publish @ Command::Publish(_) => {
                self.apply_publish(now, publish, true, lookup, &mut fx)
            }
            Command::DrainHeld(cmd::DrainHeld { queue }) => {
                self.drain_held_chunk(now, queue, u64::MAX, lookup, &mut fx)
            }
            Command::SetOwner(cmd::SetOwner { queue, auth, owner }) => {
                self.set_owner(queue, auth, owner, &mut fx)
            }
            Command::CreateAccount(cmd::CreateAccount { id, plan }) => {
                self.create_account(now, id, *plan, &mut fx)
            }
            Command::AddAccountKey(cmd::AddAccountKey {
                account,
                key_digest,
            }) => self.add_account_key(account, key_digest, &mut fx),
            Command::SetPlan(cmd::SetPlan { account, plan }) => {
                self.set_plan(account, *plan, &mut fx)
            }
            Command::Claim(cmd::Claim { key_digest, queue }) => {
                self.claim(key_digest, queue, &mut fx)
            }
            Command::Charge(cmd::Charge { payer, limits }) => {
                self.charge(now, payer, *limits, &mut fx)
            }
            Command::DrainDone(cmd::DrainDone { account, upgrade }) => {
                self.drain_done(account, *upgrade, &mut fx)
            }
            Command::Ack(cmd::Ack {
                queue,
                auth,
                consumer,
                cursor,
            }) => self.ack(now, queue, auth, consumer, *cursor, lookup, &mut fx),
            Command::SetConsumers(cmd::SetConsumers {
                queue,
                auth,
                add,
                remove,
            }) => self.set_consumers(now, queue, auth, add, remove, lookup, &mut fx),
            Command::Nack(cmd::Nack {
                queue,
                auth,
                seq,
                error,
                dead_letter,
                ..
            }) => self.nack(now, queue, auth, *seq, error, *dead_letter, lookup, &mut fx),
            Command::ReplayDlq(cmd::ReplayDlq {
                queue,
                auth,
                dlq_msg_id,
                id,
            }) => self.replay(now, queue, auth, dlq_msg_id, id, lookup, &mut fx),
            Command::SetOrigins(cmd::SetOrigins {
                queue,
                auth,
                add,
                remove,
            }) => self.set_origins(queue, auth, add, remove, &mut fx),
            Command::CreateForm(cmd::CreateForm {
                id,
                key_digest,
                name,
            }) => self.create_form(now, id, key_digest, name, &mut fx),
            Command::Submit(cmd::Submit { form, id, payload }) => {
                self.submit(now, form, id, payload, &mut fx)
            }
            Command::BindForm(cmd::BindForm {
                form,
                auth,
                binding,
            }) => self.bind_form(form, auth, binding, &mut fx),
            Command::MirrorDone(cmd::MirrorDone {
                form,
                through,
                failed,
                queue,
            }) => self.mirror_done(form, *through, failed.as_deref(), queue, &mut fx),
        };
        // A refusal must change nothing: operations decide before they mutate, and any effect
        // gathered before the refusal is dropped.
        Ok(match result? {
            Ok(response) => (response, fx),
            Err(refusal) => (Response::Refused(refusal), Vec::new()),
        })
    }

    /// Answers a read from the applied state.
    pub fn query(&self, query: &Query, lookup: &dyn Lookup) -> Result<QueryResult, LookupError> {
        let result = match query {
            Query::Pull {
                queue,
                auth,
                consumer,
                cursor,
                limit,
            } => self.pull(queue, auth, consumer, *cursor, *limit, lookup),
            Query::Info { queue, auth } => Ok(self
                .authorized(queue, auth)
                .map(|q| QueryResult::Info { queue: q.clone() })),
            Query::Dlq {
                queue,
                auth,
                after,
                limit,
            } => self.dlq_page(queue, auth, *after, *limit, lookup),
            Query::Submissions {
                form,
                auth,
                after,
                limit,
            } => self.submission_page(form, auth, *after, *limit, lookup),
            Query::MirrorOutbox { limit } => self.outbox(*limit, lookup).map(Ok),
            Query::AccountByKey { key_digest } => Ok(Ok(QueryResult::Account(
                self.account_keys
                    .get(key_digest)
                    .and_then(|id| self.accounts.get(id))
                    .cloned(),
            ))),
            Query::Account { id } => Ok(Ok(QueryResult::Account(self.accounts.get(id).cloned()))),
            Query::DrainWork => Ok(Ok(self.drain_work())),
            Query::WorkQueues { workspace } => Ok(self.work_queues_of(workspace, None)),
            Query::WebhooksDue { until_ms, limit } => Ok(Ok(self.webhooks_due(*until_ms, *limit))),
            Query::ClaimableJobs {
                workspace,
                types,
                now_ms,
            } => Ok(Ok(self.any_claimable(*now_ms, workspace, types))),
            Query::WorkQueue { workspace, id } => Ok(self.work_queues_of(workspace, Some(id))),
            Query::Team { workspace, id } => Ok(self.team_of(workspace, id)),
            Query::Tasks {
                workspace,
                queue,
                status,
            } => Ok(self.tasks_of(workspace, queue, *status)),
            Query::Job { workspace, id } => Ok(self
                .job_in(workspace, id)
                .map(|j| QueryResult::Job(Box::new(j.clone())))),
            Query::Jobs {
                workspace,
                status,
                job_type,
                after,
                limit,
            } => Ok(Ok(self.job_page(
                workspace,
                *status,
                job_type.as_deref(),
                *after,
                *limit,
            ))),
            Query::JobEvents {
                workspace,
                id,
                after,
                limit,
            } => match self.job_in(workspace, id) {
                Ok(job) => Ok(Ok(QueryResult::JobEvents {
                    job: Box::new(job.clone()),
                    events: lookup.job_events(id, *after, *limit)?,
                })),
                Err(e) => Ok(Err(e)),
            },
            Query::Roster => Ok(Ok(QueryResult::Roster(self.roster.clone()))),
            Query::Owner { queue } => Ok(Ok(QueryResult::Owner(
                self.queues.get(queue).and_then(|q| q.owner.clone()),
            ))),
            Query::Origins { queue } => Ok(Ok(QueryResult::Origins(
                self.queues
                    .get(queue)
                    .map(|q| q.settings.allowed_origins.clone()),
            ))),
            Query::QueueStats { limit } => {
                Ok(Ok(QueryResult::QueueStats(self.queue_stats(*limit))))
            }
            Query::WorkloadStats => Ok(Ok(QueryResult::WorkloadStats(self.workload_stats()))),
        }?;
        Ok(result.unwrap_or_else(QueryResult::Refused))
    }

    fn init_layout(&mut self, shards: u32) -> Outcome {
        if self.group != META_GROUP {
            return refuse(CommandError::Invalid(
                "the layout lives in the metadata group".into(),
            ));
        }
        Ok(Ok(Response::Layout {
            shards: *self.header.layout.get_or_insert(shards),
        }))
    }

    fn create(
        &mut self,
        now: u64,
        id: &QueueId,
        key_digest: &[u8; 32],
        consumers: &[String],
        settings: &crate::QueueSettings,
        fx: &mut Effects,
    ) -> Outcome {
        if self.queues.contains_key(id) {
            return refuse(CommandError::QueueExists);
        }
        let queue = Queue {
            id: id.clone(),
            key_digest: *key_digest,
            created_at_ms: now,
            head_seq: 0,
            floor_seq: 0,
            consumers: consumers
                .iter()
                .filter(|c| !c.starts_with(INSPECTION_PREFIX))
                .map(|c| (c.clone(), 0))
                .collect(),
            nacks: BTreeMap::new(),
            dlq_next_row: 1,
            dlq_len: 0,
            owner: None,
            held_next_row: 1,
            held_len: 0,
            settings: settings.clone(),
        };
        self.queues.insert(id.clone(), queue.clone());
        fx.push(Effect::PutQueue(id.clone()));
        Ok(Ok(Response::Created { queue }))
    }

    fn delete(&mut self, id: &QueueId, auth: &[u8; 32], fx: &mut Effects) -> Outcome {
        if let Err(e) = self.authorized(id, auth) {
            return refuse(e);
        }
        self.queues.remove(id);
        fx.push(Effect::DeleteQueueData(id.clone()));
        fx.push(Effect::PutQueue(id.clone()));
        Ok(Ok(Response::Done))
    }

    fn set_origins(
        &mut self,
        id: &QueueId,
        auth: &[u8; 32],
        add: &[String],
        remove: &[String],
        fx: &mut Effects,
    ) -> Outcome {
        if add.iter().any(|o| o == "*") {
            return refuse(CommandError::Invalid(
                "'*' can only be set when the queue is created".into(),
            ));
        }
        let q = match self.authorized_mut(id, auth) {
            Ok(q) => q,
            Err(e) => return refuse(e),
        };
        let origins = &mut q.settings.allowed_origins;
        if *origins != Origins::Any {
            let mut set = match std::mem::take(origins) {
                Origins::List(set) => set,
                _ => Default::default(),
            };
            set.extend(add.iter().cloned());
            for r in remove {
                set.remove(r);
            }
            *origins = if set.is_empty() {
                Origins::None
            } else {
                Origins::List(set)
            };
        }
        let origins = origins.clone();
        fx.push(Effect::PutQueue(id.clone()));
        Ok(Ok(Response::Origins { origins }))
    }

    /// A publish: held when the proposer says so, else appended (releasing held publishes
    /// first only for entries from before charged publishes, see `Command::KeepHeld`).
    fn apply_publish(
        &mut self,
        now: u64,
        publish: &Command,
        release_held: bool,
        lookup: &dyn Lookup,
        fx: &mut Effects,
    ) -> Outcome {
        let Command::Publish(cmd::Publish {
            queue,
            auth,
            id,
            payload,
            source,
            idempotency,
            hold,
        }) = publish
        else {
            return refuse(CommandError::Invalid("not a publish".into()));
        };
        let msg = messages::NewMessage {
            id,
            payload,
            source,
        };
        let idem = idempotency.as_ref();
        match hold {
            Some(pending_id) => self.hold(now, queue, auth, msg, pending_id, idem, lookup, fx),
            None => self.publish(now, queue, auth, msg, idem, release_held, lookup, fx),
        }
    }

    fn authorized(&self, id: &QueueId, auth: &[u8; 32]) -> Result<&Queue, CommandError> {
        let q = self.queues.get(id).ok_or(CommandError::QueueNotFound)?;
        if bool::from(q.key_digest.ct_eq(auth)) {
            Ok(q)
        } else {
            Err(CommandError::Unauthorized)
        }
    }

    fn authorized_mut(
        &mut self,
        id: &QueueId,
        auth: &[u8; 32],
    ) -> Result<&mut Queue, CommandError> {
        self.authorized(id, auth)?;
        self.queues.get_mut(id).ok_or(CommandError::QueueNotFound)
    }
}

/// What an operation returns: a storage failure (outer), or a response or refusal (inner).
type Outcome<T = Response> = Result<Result<T, CommandError>, LookupError>;

/// Shorthand for a refusal.
fn refuse<T>(e: CommandError) -> Outcome<T> {
    Ok(Err(e))
}

#[cfg(test)]
mod tests;
