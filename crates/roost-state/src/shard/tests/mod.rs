//! Unit and property tests of the shard state machine over an in-memory [`Lookup`], split by
//! meaning; this file holds the in-memory storage and the harness they share.

mod dlq;
mod forms;
mod jobs;
mod properties;
mod queues;
mod quotas;
mod work;

use std::collections::BTreeMap;

use super::*;
use crate::queue::IDEMPOTENCY_WINDOW_MS;
use crate::{
    Binding, DlqEntry, FormId, HeldPublish, Origins, QueueSettings, Retention, Source, Submission,
};

/// Bulk data kept in maps, as storage would keep it in RocksDB.
#[derive(Default)]
struct Mem {
    messages: BTreeMap<(QueueId, u64), Envelope>,
    idempotency: BTreeMap<(QueueId, String), IdempotencyRecord>,
    dlq: BTreeMap<(QueueId, u64), DlqEntry>,
    idempotency_times: std::collections::BTreeSet<(QueueId, u64, String)>,
    submissions: BTreeMap<(FormId, u64), Submission>,
    held: BTreeMap<(QueueId, u64), HeldPublish>,
    job_events: BTreeMap<(String, u64), crate::JobEvent>,
}

impl Lookup for Mem {
    fn idempotency(
        &self,
        q: &QueueId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, LookupError> {
        Ok(self.idempotency.get(&(q.clone(), key.to_owned())).cloned())
    }
    fn messages(
        &self,
        q: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, LookupError> {
        Ok(self
            .messages
            .range((q.clone(), after + 1)..=(q.clone(), u64::MAX))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }
    fn expired_idempotency(
        &self,
        q: &QueueId,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, LookupError> {
        let mut out: Vec<(u64, String)> = self
            .idempotency_times
            .iter()
            .filter(|(queue, at, _)| queue == q && *at < before_ms)
            .map(|(_, at, key)| (*at, key.clone()))
            .collect();
        out.sort();
        out.truncate(limit);
        Ok(out)
    }
    fn submissions(
        &self,
        f: &FormId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Submission>, LookupError> {
        Ok(self
            .submissions
            .range((f.clone(), after + 1)..=(f.clone(), u64::MAX))
            .take(limit)
            .map(|(_, s)| s.clone())
            .collect())
    }
    fn held(
        &self,
        q: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, HeldPublish)>, LookupError> {
        Ok(self
            .held
            .range((q.clone(), after + 1)..=(q.clone(), u64::MAX))
            .take(limit)
            .map(|((_, row), h)| (*row, h.clone()))
            .collect())
    }
    fn job_events(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::JobEvent>, LookupError> {
        Ok(self
            .job_events
            .range((id.to_owned(), after + 1)..=(id.to_owned(), u64::MAX))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }
    fn dlq_row(&self, q: &QueueId, msg_id: &str) -> Result<Option<(u64, DlqEntry)>, LookupError> {
        Ok(self
            .dlq
            .iter()
            .find(|((queue, _), e)| queue == q && e.envelope.id == msg_id)
            .map(|((_, row), e)| (*row, e.clone())))
    }
    fn dlq_page(
        &self,
        q: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, DlqEntry)>, LookupError> {
        Ok(self
            .dlq
            .range((q.clone(), after + 1)..=(q.clone(), u64::MAX))
            .take(limit)
            .map(|((_, row), e)| (*row, e.clone()))
            .collect())
    }
}

/// A shard plus its bulk data, applying effects as storage does.
struct Harness {
    state: ShardState,
    mem: Mem,
}

const KEY: [u8; 32] = [7; 32];

impl Harness {
    fn new() -> Self {
        Harness {
            state: ShardState::new(1),
            mem: Mem::default(),
        }
    }

    fn run(&mut self, stamped_ms: u64, command: Command) -> Response {
        let (resp, effects) = self
            .state
            .apply(stamped_ms, &command, &self.mem)
            .expect("lookup");
        for e in effects {
            match e {
                Effect::PutQueue(_)
                | Effect::PutForm(_)
                | Effect::PutAccount(_)
                | Effect::PutIpUsage(_) => {}
                Effect::PutJob(_) | Effect::PutWorkQueue(_) | Effect::PutTask(_) => {}
                Effect::DeleteJob(id) => {
                    self.mem.job_events.retain(|(j, _), _| *j != id);
                }
                Effect::PutJobEvent { job, event } => {
                    assert!(
                        self.mem
                            .job_events
                            .insert((job, event.seq), event)
                            .is_none(),
                        "event seq reused"
                    );
                }
                Effect::PutHeld { queue, row, held } => {
                    assert!(
                        self.mem.held.insert((queue, row), held).is_none(),
                        "held row reused"
                    );
                }
                Effect::DeleteHeld { queue, through } => {
                    self.mem
                        .held
                        .retain(|(q, row), _| *q != queue || *row > through);
                }
                Effect::PutSubmission { form, submission } => {
                    self.mem
                        .submissions
                        .insert((form, submission.seq), submission);
                }
                Effect::PutMessage { queue, envelope } => {
                    let prev = self.mem.messages.insert((queue, envelope.seq), envelope);
                    assert!(prev.is_none(), "a seq was written twice");
                }
                Effect::PutIdempotency { queue, key, record } => {
                    self.mem
                        .idempotency_times
                        .insert((queue.clone(), record.at_ms, key.clone()));
                    self.mem.idempotency.insert((queue, key), record);
                }
                Effect::DeleteIdempotency {
                    queue,
                    key,
                    at_ms,
                    record,
                } => {
                    assert!(self.mem.idempotency_times.remove(&(
                        queue.clone(),
                        at_ms,
                        key.clone()
                    )));
                    if record {
                        self.mem.idempotency.remove(&(queue, key));
                    }
                }
                Effect::DeleteMessages { queue, through } => {
                    self.mem
                        .messages
                        .retain(|(q, seq), _| *q != queue || *seq > through);
                }
                Effect::PutDlq { queue, row, entry } => {
                    assert!(
                        self.mem.dlq.insert((queue, row), entry).is_none(),
                        "row reused"
                    );
                }
                Effect::DeleteDlq { queue, row, msg_id } => {
                    let gone = self.mem.dlq.remove(&(queue, row)).expect("row exists");
                    assert_eq!(gone.envelope.id, msg_id);
                }
                Effect::DeleteQueueData(queue) => {
                    self.mem.messages.retain(|(q, _), _| *q != queue);
                    self.mem.idempotency.retain(|(q, _), _| *q != queue);
                    self.mem.dlq.retain(|(q, _), _| *q != queue);
                    self.mem.idempotency_times.retain(|(q, _, _)| *q != queue);
                }
            }
        }
        resp
    }

    fn create(&mut self) -> QueueId {
        let id = QueueId::new(1, 42);
        let resp = self.run(
            1,
            Command::CreateQueue {
                id: id.clone(),
                key_digest: KEY,
                consumers: vec!["me".into(), "_dash_view".into()],
                settings: QueueSettings::default(),
            },
        );
        assert!(matches!(resp, Response::Created { .. }));
        id
    }

    fn publish(&mut self, t: u64, q: &QueueId, body: &str, key: Option<&str>) -> Response {
        self.run(
            t,
            Command::Publish {
                queue: q.clone(),
                auth: KEY,
                id: format!("qm_{t}"),
                payload: body.into(),
                source: Source::Publish,
                idempotency: key.map(|k| (k.to_owned(), [body.len() as u8; 32])),
                hold: None,
            },
        )
    }

    fn ack(&mut self, q: &QueueId, consumer: &str, cursor: u64) -> Response {
        self.run(
            0,
            Command::Ack {
                queue: q.clone(),
                auth: KEY,
                consumer: consumer.into(),
                cursor,
            },
        )
    }

    fn pull(&self, q: &QueueId, consumer: &str, cursor: Option<u64>, limit: usize) -> QueryResult {
        let query = Query::Pull {
            queue: q.clone(),
            auth: KEY,
            consumer: consumer.into(),
            cursor,
            limit,
        };
        self.state.query(&query, &self.mem).expect("lookup")
    }
}

fn seq_of(r: &Response) -> u64 {
    match r {
        Response::Published { seq, .. } => *seq,
        other => panic!("not published: {other:?}"),
    }
}
