//! The one module that turns protobuf requests into `roost_api`'s typed requests and its
//! replies into protobuf. Empty strings and zero numbers are proto3's
//! "not sent".

use roost_api::{
    AddTask, ClaimJobs, CreateJob, CreateWorkQueue, Doc, Error, EventItem, FinishTask, Heartbeat,
    JobPage, ListJobs, QueueWithCounts, Time,
};
use roost_api::{CreateQueue, CreatedQueue, DeadLetters, Nack, Pull, Pulled};
use roost_state::{Envelope, Job, Queue, Task};

use crate::pb;

/// A string field: empty means not sent.
fn given(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A JSON document sent as bytes: empty means not sent.
pub fn doc(field: &str, bytes: Vec<u8>, max: usize) -> Result<Option<Doc>, Error> {
    if bytes.is_empty() {
        return Ok(None);
    }
    roost_api::document(field, bytes, max).map(Some)
}

/// A stored JSON document as bytes (none: empty).
fn stored(s: Option<&str>) -> Vec<u8> {
    s.map(|s| s.as_bytes().to_vec()).unwrap_or_default()
}

/// A lease or fencing token as claims and dequeues hand it out.
fn token(t: u64) -> String {
    format!("{t:016x}")
}

/// `CreateJob`, with documents of at most `max` bytes.
pub fn create_job(r: pb::CreateJobRequest, max: usize) -> Result<CreateJob, Error> {
    Ok(CreateJob {
        job_type: r.r#type,
        payload: doc("payload", r.payload, max)?,
        max_retries: r.max_retries,
        timeout_seconds: r.timeout_seconds,
        priority: r.priority,
        run_at: r.run_at_ms.map(Time::Ms),
        webhook: given(r.webhook),
        idempotency_key: given(r.idempotency_key),
    })
}

/// `ListJobs`.
pub fn list_jobs(r: pb::ListJobsRequest) -> ListJobs {
    ListJobs {
        status: given(r.status),
        job_type: given(r.r#type),
        limit: (r.limit != 0).then_some(r.limit),
        cursor: Some(r.cursor),
    }
}

/// `ClaimJobs`.
pub fn claim_jobs(r: pb::ClaimJobsRequest) -> ClaimJobs {
    ClaimJobs {
        worker_id: r.worker_id,
        types: r.types,
        limit: r.limit,
        wait: Some(r.wait_secs),
    }
}

/// A job as the reply message (the lease token only for its claimant).
pub fn job(j: &Job) -> pb::Job {
    pb::Job {
        id: j.id.clone(),
        r#type: j.spec.job_type.clone(),
        status: j.status.as_str().to_owned(),
        progress: j.progress.into(),
        attempt: j.attempt,
        max_retries: j.spec.max_retries,
        timeout_seconds: j.spec.timeout_secs,
        priority: j.spec.priority,
        payload: j.spec.payload.as_bytes().to_vec(),
        result: stored(j.result.as_deref()),
        error: j.error.clone().unwrap_or_default(),
        worker_id: j.worker_id.clone().unwrap_or_default(),
        cancel_requested: j.cancel_requested,
        webhook: j.spec.webhook.clone().unwrap_or_default(),
        run_at_ms: j.run_at_ms,
        created_at_ms: j.created_ms,
        updated_at_ms: j.updated_ms,
        finished_at_ms: j.finished_ms.unwrap_or(0),
        token: String::new(),
        lease_expires_at_ms: 0,
    }
}

/// A claimed job, with its lease.
pub fn leased_job(j: &Job) -> pb::Job {
    let mut out = job(j);
    if let Some(l) = &j.lease {
        out.token = token(l.token);
        out.lease_expires_at_ms = l.expires_ms;
    }
    out
}

/// A page of jobs.
pub fn job_page(p: JobPage) -> pb::ListJobsReply {
    pb::ListJobsReply {
        jobs: p.jobs.iter().map(job).collect(),
        next_cursor: p.next_cursor,
        has_more: p.has_more,
    }
}

/// A heartbeat's answer.
pub fn heartbeat(h: Heartbeat) -> pb::HeartbeatReply {
    pb::HeartbeatReply {
        cancel_requested: h.cancel_requested,
        lease_expires_at_ms: h.lease_expires_ms,
    }
}

/// One event of a job's log.
pub fn event(i: EventItem) -> pb::JobEvent {
    pb::JobEvent {
        seq: i.event.seq,
        at_ms: i.event.at_ms,
        kind: i.event.kind,
        data: i.event.data.into_bytes(),
        status: i.status.as_str().to_owned(),
    }
}

/// `CreateWorkQueue`.
pub fn create_work_queue(r: pb::CreateWorkQueueRequest) -> CreateWorkQueue {
    CreateWorkQueue {
        name: r.name,
        team_id: r.team_id,
    }
}

/// `AddTask`, with a payload of at most `max` bytes.
pub fn add_task(r: pb::AddTaskRequest, max: usize) -> Result<AddTask, Error> {
    Ok(AddTask {
        name: r.name,
        priority: r.priority,
        payload: doc("payload", r.payload, max)?,
        deadline: r.deadline_ms.map(Time::Ms),
        idempotency_key: given(r.idempotency_key),
    })
}

/// `FinishTask`, with a result of at most `max` bytes.
pub fn finish_task(r: pb::FinishTaskRequest, max: usize) -> Result<FinishTask, Error> {
    Ok(FinishTask {
        token: r.token,
        result: doc("result", r.result, max)?,
        error: Some(r.error),
    })
}

/// A work queue as the reply message.
pub fn work_queue(q: &QueueWithCounts) -> pb::WorkQueue {
    pb::WorkQueue {
        id: q.queue.id.clone(),
        name: q.queue.name.clone(),
        team_id: q.queue.team.clone(),
        created_at_ms: q.queue.created_ms,
        counts: q.counts.iter().map(|(k, v)| (k.clone(), *v)).collect(),
    }
}

/// A task as seen at `now_ms`; only its assignee (the dequeue answer) sees the token.
pub fn task(t: &Task, with_token: bool, now_ms: u64) -> pb::Task {
    pb::Task {
        id: t.id.clone(),
        work_queue_id: t.queue.clone(),
        name: t.name.clone(),
        priority: t.priority.into(),
        payload: t.payload.as_bytes().to_vec(),
        deadline_ms: t.deadline_ms.unwrap_or(0),
        status: t.status.as_str().to_owned(),
        agent_id: t.agent_id.clone().unwrap_or_default(),
        token: t
            .token
            .filter(|_| with_token)
            .map(token)
            .unwrap_or_default(),
        lease_expires_at_ms: t.lease_expires_ms.unwrap_or(0),
        result: stored(t.result.as_deref()),
        error: t.error.clone().unwrap_or_default(),
        created_at_ms: t.created_ms,
        updated_at_ms: t.updated_ms,
        overdue: t.overdue(now_ms),
    }
}

/// `CreateQueue` (a zero `max_deliveries`: the default).
pub fn create_queue(r: pb::CreateQueueRequest) -> CreateQueue {
    CreateQueue {
        consumers: r.consumers,
        max_deliveries: (r.max_deliveries != 0).then_some(r.max_deliveries),
        allowed_origins: None,
    }
}

/// A created queue and its key.
pub fn created_queue(c: CreatedQueue) -> pb::CreateQueueReply {
    pb::CreateQueueReply {
        queue_id: c.queue.id.as_str().to_owned(),
        queue_api_key: c.key,
        max_deliveries: c.queue.settings.max_deliveries,
        consumers: c.queue.consumers.into_keys().collect(),
    }
}

/// A queue's state.
pub fn queue_info(queue: &Queue) -> pb::QueueInfo {
    pb::QueueInfo {
        queue_id: queue.id.as_str().to_owned(),
        head_seq: queue.head_seq,
        floor_seq: queue.floor_seq,
        message_count: queue.message_count(),
        dlq_count: queue.dlq_len,
        consumers: queue
            .consumers
            .iter()
            .map(|(c, cursor)| pb::ConsumerCursor {
                consumer_id: c.clone(),
                cursor: *cursor,
                lag: queue.head_seq.saturating_sub(*cursor),
            })
            .collect(),
        created_at_ms: queue.created_at_ms,
        max_deliveries: queue.settings.max_deliveries,
    }
}

/// `Pull` (a zero `limit`: the default).
pub fn pull(r: pb::PullRequest) -> Pull {
    Pull {
        consumer_id: r.consumer_id,
        cursor: r.cursor,
        limit: (r.limit != 0).then_some(r.limit),
        wait: Some(u64::from(r.wait_secs)),
    }
}

/// A page of a pull.
pub fn pulled(p: Pulled) -> pb::PullReply {
    pb::PullReply {
        messages: p.messages.into_iter().map(envelope).collect(),
        cursor: p.cursor,
        next_cursor: p.next_cursor,
        has_more: p.has_more,
        floor: p.floor,
    }
}

/// An envelope.
pub fn envelope(e: Envelope) -> pb::Envelope {
    pb::Envelope {
        id: e.id,
        seq: e.seq,
        source: e.source.as_str().to_owned(),
        payload: e.payload.into_bytes(),
        published_at_ms: e.published_at_ms,
    }
}

/// `Nack`.
pub fn nack(r: pb::NackRequest) -> Nack {
    Nack {
        consumer_id: r.consumer_id,
        seq: r.seq,
        error: r.error,
        dead_letter: r.dead_letter,
    }
}

/// A page of dead letters.
pub fn dead_letters(p: DeadLetters) -> pb::DeadLettersReply {
    pb::DeadLettersReply {
        messages: p
            .rows
            .into_iter()
            .map(|(row, e)| pb::DeadLetter {
                envelope: Some(envelope(e.envelope)),
                nack_count: e.nack_count,
                last_error: e.last_error,
                dead_lettered_at_ms: e.dead_lettered_at_ms,
                dlq_cursor: row,
            })
            .collect(),
        next_cursor: p.next_cursor,
        has_more: p.has_more,
    }
}
