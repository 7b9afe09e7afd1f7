//! Bulk data in ordered maps: the reference [`Lookup`] and effect applier. The state machine's
//! property tests and the deterministic simulation run on it; storage keeps the same data in
//! RocksDB. Effects that contradict what is stored (a seq written twice, a row removed that is
//! not there) are reported, never silently absorbed.

use std::collections::{BTreeMap, BTreeSet};

use crate::shard::{Effect, Lookup};
use crate::{
    DlqEntry, Envelope, FormId, HeldPublish, IdempotencyRecord, JobEvent, LookupError, QueueId,
    Submission,
};

/// An effect that contradicts the stored data: the state machine and its storage disagree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent effect: {0}")]
pub struct Inconsistent(pub String);

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), Inconsistent> {
    if ok {
        Ok(())
    } else {
        Err(Inconsistent(what()))
    }
}

/// Bulk data kept in ordered maps, as storage keeps it in RocksDB.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    /// Envelopes by queue and seq.
    pub(crate) messages: BTreeMap<(QueueId, u64), Envelope>,
    /// Idempotency records by queue and key.
    pub(crate) idempotency: BTreeMap<(QueueId, String), IdempotencyRecord>,
    /// Dead letters by queue and row.
    pub(crate) dlq: BTreeMap<(QueueId, u64), DlqEntry>,
    /// When each idempotency key was used, for expiry in time order.
    pub(crate) idempotency_times: BTreeSet<(QueueId, u64, String)>,
    /// Form submissions by form and seq.
    submissions: BTreeMap<(FormId, u64), Submission>,
    /// Held publishes by queue and row.
    pub(crate) held: BTreeMap<(QueueId, u64), HeldPublish>,
    /// Job events by job and seq.
    pub(crate) job_events: BTreeMap<(String, u64), JobEvent>,
}

impl Lookup for MemStore {
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
    fn job_events(&self, id: &str, after: u64, limit: usize) -> Result<Vec<JobEvent>, LookupError> {
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

impl MemStore {
    /// Applies one command's effects, in order.
    pub fn apply(&mut self, effects: Vec<Effect>) -> Result<(), Inconsistent> {
        for e in effects {
            match e {
                // Metadata lives in the shard state itself.
                Effect::PutQueue(_)
                | Effect::PutForm(_)
                | Effect::PutAccount(_)
                | Effect::PutRoster
                | Effect::PutIpUsage(_)
                | Effect::PutJob(_)
                | Effect::PutWorkQueue(_)
                | Effect::PutTask(_) => {}
                Effect::DeleteJob(id) => self.job_events.retain(|(j, _), _| *j != id),
                Effect::PutJobEvent { job, event } => {
                    let seq = event.seq;
                    let fresh = self.job_events.insert((job.clone(), seq), event).is_none();
                    ensure(fresh, || format!("event {seq} of {job} written twice"))?;
                }
                Effect::PutHeld { queue, row, held } => {
                    let fresh = self.held.insert((queue, row), held).is_none();
                    ensure(fresh, || format!("held row {row} reused"))?;
                }
                Effect::DeleteHeld { queue, through } => {
                    self.held
                        .retain(|(q, row), _| *q != queue || *row > through);
                }
                Effect::PutSubmission { form, submission } => {
                    self.submissions.insert((form, submission.seq), submission);
                }
                Effect::PutMessage { queue, envelope } => {
                    let seq = envelope.seq;
                    let fresh = self.messages.insert((queue, seq), envelope).is_none();
                    ensure(fresh, || format!("seq {seq} written twice"))?;
                }
                Effect::PutIdempotency { queue, key, record } => {
                    self.idempotency_times
                        .insert((queue.clone(), record.at_ms, key.clone()));
                    self.idempotency.insert((queue, key), record);
                }
                Effect::DeleteIdempotency {
                    queue,
                    key,
                    at_ms,
                    record,
                } => {
                    let known = self
                        .idempotency_times
                        .remove(&(queue.clone(), at_ms, key.clone()));
                    ensure(known, || {
                        format!("idempotency key {key} at {at_ms} unknown")
                    })?;
                    if record {
                        self.idempotency.remove(&(queue, key));
                    }
                }
                Effect::DeleteMessages {
                    queue,
                    after,
                    through,
                } => {
                    // Storage deletes only what lies past `after`, one key at a time.
                    let left = self
                        .messages
                        .range((queue.clone(), 0)..=(queue.clone(), after))
                        .next()
                        .map(|((_, seq), _)| *seq);
                    ensure(left.is_none(), || {
                        format!("seq {left:?} kept below the old floor {after}")
                    })?;
                    self.messages
                        .retain(|(q, seq), _| *q != queue || *seq > through);
                }
                Effect::PutDlq { queue, row, entry } => {
                    let fresh = self.dlq.insert((queue, row), entry).is_none();
                    ensure(fresh, || format!("dead-letter row {row} reused"))?;
                }
                Effect::DeleteDlq { queue, row, msg_id } => {
                    let gone = self.dlq.remove(&(queue, row));
                    ensure(gone.is_some_and(|g| g.envelope.id == msg_id), || {
                        format!("dead-letter row {row} is not {msg_id}")
                    })?;
                }
                Effect::DeleteQueueData(queue) => {
                    self.messages.retain(|(q, _), _| *q != queue);
                    self.idempotency.retain(|(q, _), _| *q != queue);
                    self.dlq.retain(|(q, _), _| *q != queue);
                    self.idempotency_times.retain(|(q, _, _)| *q != queue);
                }
            }
        }
        Ok(())
    }
}
