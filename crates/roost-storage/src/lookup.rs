//! Reads for the state machine: RocksDB overlaid with the writes of the batch being applied.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rocksdb::{ColumnFamily, Direction, IteratorMode, ReadOptions, WriteBatch, DB};
use roost_state::{
    DlqEntry, Effect, Envelope, FormId, GroupId, HeldPublish, IdempotencyRecord, JobEvent, Lookup,
    LookupError, QueueId, Submission,
};

use crate::codec::{decode, encode};
use crate::{keys, Error};

/// Most envelopes one garbage collection deletes key by key (see `Effect::DeleteMessages`).
const MAX_POINT_DELETES: u64 = 4096;

/// A raw key/value pair read from RocksDB.
type Record = (Box<[u8]>, Box<[u8]>);

/// Every record with `lo <= key < hi`, in key order, read from `view` when given.
pub(crate) fn scan<'a>(
    db: &'a DB,
    cf: &ColumnFamily,
    lo: &[u8],
    hi: Vec<u8>,
    view: Option<&rocksdb::Snapshot<'_>>,
) -> impl Iterator<Item = Result<Record, Error>> + 'a {
    let mut opts = ReadOptions::default();
    opts.set_iterate_upper_bound(hi);
    if let Some(view) = view {
        opts.set_snapshot(view);
    }
    db.iterator_cf_opt(cf, opts, IteratorMode::From(lo, Direction::Forward))
        .map(|item| item.map_err(Error::from))
}

/// Writes of the current apply batch that are not in RocksDB yet.
#[derive(Default)]
pub(crate) struct Pending {
    /// Envelopes written.
    messages: BTreeMap<(QueueId, u64), Envelope>,
    /// Idempotency records written (`Some`) or deleted (`None`) in this batch.
    idempotency: HashMap<(QueueId, String), Option<IdempotencyRecord>>,
    /// Dead letters written (`Some`) or removed (`None`).
    dlq_rows: BTreeMap<(QueueId, u64), Option<DlqEntry>>,
    /// Dead-letter rows by envelope id, written or removed.
    dlq_index: HashMap<(QueueId, String), Option<u64>>,
    /// Stored envelopes at or below these seqs are deleted.
    floors: HashMap<QueueId, u64>,
    /// Queues whose stored data is deleted.
    wiped: HashSet<QueueId>,
    /// Held publishes written (removals drop them here and hide stored ones below `held_floor`).
    held: BTreeMap<(QueueId, u64), HeldPublish>,
    /// Stored held publishes at or below these rows are deleted.
    held_floors: HashMap<QueueId, u64>,
    /// Accounts whose record must be written at the end of the batch.
    pub touched_accounts: BTreeSet<String>,
    /// IP counters that must be written at the end of the batch.
    pub touched_ips: BTreeSet<String>,
    /// Whether the roster changed.
    pub touched_roster: bool,
    /// Job events written.
    job_events: BTreeMap<(String, u64), JobEvent>,
    /// Jobs deleted (with their events).
    jobs_gone: HashSet<String>,
    /// Jobs whose record must be written at the end of the batch.
    pub touched_jobs: BTreeSet<String>,
    /// Work queues whose record must be written at the end of the batch.
    pub touched_work_queues: BTreeSet<String>,
    /// Tasks whose record must be written at the end of the batch.
    pub touched_tasks: BTreeSet<String>,
    /// Submissions written.
    submissions: BTreeMap<(FormId, u64), Submission>,
    /// Queues whose metadata must be written at the end of the batch.
    pub touched: BTreeSet<QueueId>,
    /// Forms whose metadata must be written at the end of the batch.
    pub touched_forms: BTreeSet<FormId>,
}

impl Pending {
    /// Adds `effect` to `batch` and remembers it for later reads in the same batch.
    pub fn record(
        &mut self,
        effect: Effect,
        batch: &mut WriteBatch,
        cf: &ColumnFamily,
        group: GroupId,
    ) -> Result<(), Error> {
        match effect {
            Effect::PutQueue(id) => {
                self.touched.insert(id);
            }
            Effect::PutMessage { queue, envelope } => {
                batch.put_cf(
                    cf,
                    keys::message(group, &queue, envelope.seq),
                    encode(&envelope)?,
                );
                self.messages.insert((queue, envelope.seq), envelope);
            }
            Effect::DeleteMessages {
                queue,
                after,
                through,
            } => {
                // Point deletes for what an ack lets go: a range tombstone in the memtable is
                // re-fragmented by every iterator RocksDB opens until the next flush, and with
                // one per ack that was a fifth of a drain's CPU (BENCHMARKS.md §21). A larger
                // reap (retention, a consumer removed) stays one range tombstone.
                if through.saturating_sub(after) <= MAX_POINT_DELETES {
                    for seq in after.saturating_add(1)..=through {
                        batch.delete_cf(cf, keys::message(group, &queue, seq));
                    }
                } else {
                    let (lo, hi) = (
                        keys::message(group, &queue, after.saturating_add(1)),
                        keys::message(group, &queue, through.saturating_add(1)),
                    );
                    batch.delete_range_cf(cf, lo, hi);
                }
                self.messages
                    .retain(|(q, seq), _| *q != queue || *seq > through);
                let floor = self.floors.entry(queue).or_insert(0);
                *floor = (*floor).max(through);
            }
            Effect::PutIdempotency { queue, key, record } => {
                batch.put_cf(cf, keys::idempotency(group, &queue, &key), encode(&record)?);
                let by_time = keys::idempotency_by_time(group, &queue, record.at_ms, &key);
                batch.put_cf(cf, by_time, []);
                self.idempotency.insert((queue, key), Some(record));
            }
            Effect::DeleteIdempotency {
                queue,
                key,
                at_ms,
                record,
            } => {
                batch.delete_cf(cf, keys::idempotency_by_time(group, &queue, at_ms, &key));
                if record {
                    batch.delete_cf(cf, keys::idempotency(group, &queue, &key));
                    self.idempotency.insert((queue, key), None);
                }
            }
            Effect::PutWorkQueue(id) => {
                self.touched_work_queues.insert(id);
            }
            Effect::PutTask(id) => {
                self.touched_tasks.insert(id);
            }
            Effect::PutJob(id) => {
                self.touched_jobs.insert(id);
            }
            Effect::DeleteJob(id) => {
                batch.delete_range_cf(
                    cf,
                    keys::job_event(group, &id, 0),
                    keys::job_events_end(group, &id),
                );
                self.job_events.retain(|(j, _), _| *j != id);
                self.touched_jobs.insert(id.clone());
                self.jobs_gone.insert(id);
            }
            Effect::PutJobEvent { job, event } => {
                batch.put_cf(cf, keys::job_event(group, &job, event.seq), encode(&event)?);
                self.job_events.insert((job, event.seq), event);
            }
            Effect::PutHeld { queue, row, held } => {
                batch.put_cf(cf, keys::held(group, &queue, row), encode(&held)?);
                self.held.insert((queue, row), held);
            }
            Effect::DeleteHeld { queue, through } => {
                let end = keys::held(group, &queue, through.saturating_add(1));
                batch.delete_range_cf(cf, keys::held(group, &queue, 0), end);
                self.held
                    .retain(|(q, row), _| *q != queue || *row > through);
                let floor = self.held_floors.entry(queue).or_insert(0);
                *floor = (*floor).max(through);
            }
            Effect::PutAccount(id) => {
                self.touched_accounts.insert(id);
            }
            Effect::PutRoster => {
                self.touched_roster = true;
            }
            Effect::PutIpUsage(ip) => {
                self.touched_ips.insert(ip);
            }
            Effect::PutForm(id) => {
                self.touched_forms.insert(id);
            }
            Effect::PutSubmission { form, submission } => {
                let key = keys::submission(group, &form, submission.seq);
                batch.put_cf(cf, key, encode(&submission)?);
                self.submissions.insert((form, submission.seq), submission);
            }
            Effect::PutDlq { queue, row, entry } => {
                let id = entry.envelope.id.clone();
                batch.put_cf(cf, keys::dlq_row(group, &queue, row), encode(&entry)?);
                batch.put_cf(cf, keys::dlq_index(group, &queue, &id), row.to_be_bytes());
                self.dlq_index.insert((queue.clone(), id), Some(row));
                self.dlq_rows.insert((queue, row), Some(entry));
            }
            Effect::DeleteDlq { queue, row, msg_id } => {
                batch.delete_cf(cf, keys::dlq_row(group, &queue, row));
                batch.delete_cf(cf, keys::dlq_index(group, &queue, &msg_id));
                self.dlq_index.insert((queue.clone(), msg_id), None);
                self.dlq_rows.insert((queue, row), None);
            }
            Effect::DeleteQueueData(queue) => {
                for (lo, hi) in keys::queue_data(group, &queue) {
                    batch.delete_range_cf(cf, lo, hi);
                }
                self.messages.retain(|(q, _), _| *q != queue);
                self.idempotency.retain(|(q, _), _| *q != queue);
                self.dlq_rows.retain(|(q, _), _| *q != queue);
                self.dlq_index.retain(|(q, _), _| *q != queue);
                self.floors.remove(&queue);
                self.held.retain(|(q, _), _| *q != queue);
                self.held_floors.remove(&queue);
                self.wiped.insert(queue);
            }
        }
        Ok(())
    }
}

/// [`Lookup`] over RocksDB plus, while applying, the current batch's pending writes.
pub(crate) struct DbLookup<'a> {
    /// The node's database.
    pub db: &'a DB,
    /// The group read.
    pub group: GroupId,
    /// Writes of the batch being applied (`None` for queries).
    pub pending: Option<&'a Pending>,
}

fn lookup_err(e: impl std::fmt::Display) -> LookupError {
    LookupError(e.to_string())
}

impl DbLookup<'_> {
    fn cf(&self) -> Result<&ColumnFamily, LookupError> {
        self.db
            .cf_handle(keys::CF_SM)
            .ok_or_else(|| lookup_err("no sm column family"))
    }

    /// Whether stored data of `queue` was deleted in this batch.
    fn wiped(&self, queue: &QueueId) -> bool {
        self.pending.is_some_and(|p| p.wiped.contains(queue))
    }

    /// Up to `limit` stored records with `from <= key < end`, by the number ending each key.
    fn numbered<T: serde::de::DeserializeOwned>(
        &self,
        from: &[u8],
        end: Vec<u8>,
        limit: usize,
        what: &'static str,
    ) -> Result<BTreeMap<u64, T>, LookupError> {
        scan(self.db, self.cf()?, from, end, None)
            .take(limit)
            .map(|item| {
                let (k, v) = item.map_err(lookup_err)?;
                let n = keys::trailing_number(&k)
                    .ok_or_else(|| lookup_err(format!("corrupt {what} key")))?;
                Ok((n, decode(what, &v).map_err(lookup_err)?))
            })
            .collect()
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: Vec<u8>,
        what: &'static str,
    ) -> Result<Option<T>, LookupError> {
        match self.db.get_pinned_cf(self.cf()?, key).map_err(lookup_err)? {
            Some(b) => decode(what, &b).map(Some).map_err(lookup_err),
            None => Ok(None),
        }
    }
}

impl Lookup for DbLookup<'_> {
    fn idempotency(
        &self,
        queue: &QueueId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, LookupError> {
        if let Some(rec) = self
            .pending
            .and_then(|p| p.idempotency.get(&(queue.clone(), key.to_owned())))
        {
            return Ok(rec.clone());
        }
        if self.wiped(queue) {
            return Ok(None);
        }
        self.get(
            keys::idempotency(self.group, queue, key),
            "idempotency record",
        )
    }

    fn messages(
        &self,
        queue: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, LookupError> {
        let floor = self
            .pending
            .and_then(|p| p.floors.get(queue))
            .copied()
            .unwrap_or(0);
        let after = after.max(floor);
        let mut out: BTreeMap<u64, Envelope> = BTreeMap::new();
        if !self.wiped(queue) {
            let from = keys::message(self.group, queue, after.saturating_add(1));
            out = self.numbered(
                &from,
                keys::messages_end(self.group, queue),
                limit,
                "envelope",
            )?;
        }
        if let Some(p) = self.pending {
            let range = (queue.clone(), after.saturating_add(1))..=(queue.clone(), u64::MAX);
            out.extend(p.messages.range(range).map(|((_, s), e)| (*s, e.clone())));
        }
        Ok(out.into_values().take(limit).collect())
    }

    fn job_events(&self, id: &str, after: u64, limit: usize) -> Result<Vec<JobEvent>, LookupError> {
        let mut events: BTreeMap<u64, JobEvent> = BTreeMap::new();
        if !self.pending.is_some_and(|p| p.jobs_gone.contains(id)) {
            let from = keys::job_event(self.group, id, after.saturating_add(1));
            let end = keys::job_events_end(self.group, id);
            events = self.numbered(&from, end, limit, "job event")?;
        }
        if let Some(p) = self.pending {
            let range = (id.to_owned(), after.saturating_add(1))..=(id.to_owned(), u64::MAX);
            events.extend(p.job_events.range(range).map(|((_, s), e)| (*s, e.clone())));
        }
        Ok(events.into_values().take(limit).collect())
    }

    fn held(
        &self,
        queue: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, HeldPublish)>, LookupError> {
        let floor = self
            .pending
            .and_then(|p| p.held_floors.get(queue))
            .copied()
            .unwrap_or(0);
        let after = after.max(floor);
        let mut rows: BTreeMap<u64, HeldPublish> = BTreeMap::new();
        if !self.wiped(queue) {
            let from = keys::held(self.group, queue, after.saturating_add(1));
            rows = self.numbered(
                &from,
                keys::held_end(self.group, queue),
                limit,
                "held publish",
            )?;
        }
        if let Some(p) = self.pending {
            let range = (queue.clone(), after.saturating_add(1))..=(queue.clone(), u64::MAX);
            rows.extend(p.held.range(range).map(|((_, row), h)| (*row, h.clone())));
        }
        Ok(rows.into_iter().take(limit).collect())
    }

    fn submissions(
        &self,
        form: &FormId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Submission>, LookupError> {
        let from = keys::submission(self.group, form, after.saturating_add(1));
        let end = keys::submissions_end(self.group, form);
        let mut out: BTreeMap<u64, Submission> = self.numbered(&from, end, limit, "submission")?;
        if let Some(p) = self.pending {
            let range = (form.clone(), after.saturating_add(1))..=(form.clone(), u64::MAX);
            out.extend(
                p.submissions
                    .range(range)
                    .map(|((_, s), e)| (*s, e.clone())),
            );
        }
        Ok(out.into_values().take(limit).collect())
    }

    fn expired_idempotency(
        &self,
        queue: &QueueId,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, LookupError> {
        // Sweeps run in ticks; keys written earlier in the same batch are never expired yet.
        if self.wiped(queue) {
            return Ok(Vec::new());
        }
        let (lo, hi) = keys::idempotency_before(self.group, queue, before_ms);
        scan(self.db, self.cf()?, &lo, hi, None)
            .take(limit)
            .map(|item| {
                let (k, _) = item.map_err(lookup_err)?;
                keys::parse_idempotency_by_time(self.group, queue, &k)
                    .ok_or_else(|| lookup_err("corrupt idempotency time key"))
            })
            .collect()
    }

    fn dlq_row(
        &self,
        queue: &QueueId,
        msg_id: &str,
    ) -> Result<Option<(u64, DlqEntry)>, LookupError> {
        let pending_row = self
            .pending
            .and_then(|p| p.dlq_index.get(&(queue.clone(), msg_id.to_owned())));
        let row = match pending_row {
            Some(row) => *row,
            None if self.wiped(queue) => None,
            None => match self
                .db
                .get_pinned_cf(self.cf()?, keys::dlq_index(self.group, queue, msg_id))
                .map_err(lookup_err)?
            {
                Some(b) => Some(u64::from_be_bytes(
                    b.as_ref()
                        .try_into()
                        .map_err(|_| lookup_err("corrupt dead-letter index"))?,
                )),
                None => None,
            },
        };
        let Some(row) = row else {
            return Ok(None);
        };
        if let Some(entry) = self
            .pending
            .and_then(|p| p.dlq_rows.get(&(queue.clone(), row)))
        {
            return Ok(entry.clone().map(|e| (row, e)));
        }
        Ok(self
            .get(keys::dlq_row(self.group, queue, row), "dead letter")?
            .map(|e| (row, e)))
    }

    fn dlq_page(
        &self,
        queue: &QueueId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, DlqEntry)>, LookupError> {
        let mut rows: BTreeMap<u64, DlqEntry> = BTreeMap::new();
        let pending: Vec<(u64, Option<DlqEntry>)> = self
            .pending
            .map(|p| {
                p.dlq_rows
                    .range((queue.clone(), after.saturating_add(1))..=(queue.clone(), u64::MAX))
                    .map(|((_, row), e)| (*row, e.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if !self.wiped(queue) {
            // Read enough stored rows that pending removals cannot shorten the page.
            let (lo, hi) = keys::dlq_rows_after(self.group, queue, after);
            rows = self.numbered(&lo, hi, limit + pending.len(), "dead letter")?;
        }
        for (row, entry) in pending {
            match entry {
                Some(e) => rows.insert(row, e),
                None => rows.remove(&row),
            };
        }
        Ok(rows.into_iter().take(limit).collect())
    }
}
