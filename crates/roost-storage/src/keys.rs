//! The byte layout of everything Roost keeps in RocksDB. No other module builds keys.
//!
//! Every key starts with the Raft group id (big-endian u32) so that groups never overlap and a
//! group's data is one contiguous range. Integers are big-endian so byte order is numeric order.
//!
//! Column family `raft` (Raft's own log and hard state):
//! - `group | 0x00 | name`  → vote, last purged log id
//! - `group | 0x01 | index` → log entry
//!
//! Column family `sm` (applied state):
//! - `group | 0x00`                      → applied position, membership, group clock
//! - `group | 0x01 | queue`              → queue metadata
//! - `group | 0x02 | len | queue | seq`  → envelope
//! - `group | 0x03 | len | queue | key`  → idempotency record
//! - `group | 0x04 | len | queue | row`  → dead letter
//! - `group | 0x05 | len | queue | id`   → row of the dead letter with envelope `id`
//! - `group | 0x06 | len | queue | at | key` → (empty) idempotency keys by time, for expiry
//! - `group | 0x07 | form`               → form metadata
//! - `group | 0x08 | len | form | seq`   → form submission
//! - `group | 0x09 | len | queue | row`  → publish held back by a quota
//! - `group | 0x0a | account`            → account (metadata group)
//! - `group | 0x0b | ip`                 → monthly publish counter of an IP (metadata group)
//! - `group | 0x0c | job`                → job
//! - `group | 0x0d | len | job | seq`    → job event
//! - `group | 0x0e | id`                 → work queue
//! - `group | 0x0f | id`                 → work-queue task
//! - `group | 0x10`                      → the cluster's roster (metadata group)
//!
//! Column family `snap` (the group's latest snapshot):
//! - `group | 0x00` → its metadata
//! - `group | 0x01` → its data

use roost_state::{FormId, GroupId, QueueId};

/// Column family of Raft logs and hard state.
pub const CF_RAFT: &str = "raft";
/// Column family of applied state.
pub const CF_SM: &str = "sm";
/// Column family of built or installed snapshots.
pub const CF_SNAP: &str = "snap";

const RAFT_META: u8 = 0x00;
const RAFT_LOG: u8 = 0x01;
const SM_META: u8 = 0x00;
const SM_QUEUE: u8 = 0x01;
const SM_MESSAGE: u8 = 0x02;
const SM_IDEMPOTENCY: u8 = 0x03;
const SM_DLQ: u8 = 0x04;
const SM_DLQ_INDEX: u8 = 0x05;
const SM_IDEMPOTENCY_BY_TIME: u8 = 0x06;
const SM_FORM: u8 = 0x07;
const SM_SUBMISSION: u8 = 0x08;
const SM_HELD: u8 = 0x09;
const SM_ACCOUNT: u8 = 0x0a;
const SM_IP_USAGE: u8 = 0x0b;
const SM_JOB: u8 = 0x0c;
const SM_JOB_EVENT: u8 = 0x0d;
const SM_WORK_QUEUE: u8 = 0x0e;
const SM_TASK: u8 = 0x0f;
const SM_ROSTER: u8 = 0x10;
const SNAP_META: u8 = 0x00;
const SNAP_DATA: u8 = 0x01;
/// Every tag holding per-queue records.
const QUEUE_SCOPED: [u8; 6] = [
    SM_MESSAGE,
    SM_IDEMPOTENCY,
    SM_DLQ,
    SM_DLQ_INDEX,
    SM_IDEMPOTENCY_BY_TIME,
    SM_HELD,
];

/// What a stored value is, told by its column family and key: the type it decodes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Record {
    /// A group's vote.
    Vote,
    /// A group's last purged log id.
    LastPurged,
    /// A Raft log entry.
    LogEntry,
    /// A group's applied position, membership and clock.
    AppliedMeta,
    /// A queue's metadata.
    Queue,
    /// A message.
    Envelope,
    /// An idempotency record.
    Idempotency,
    /// A dead letter.
    DeadLetter,
    /// The row of a dead letter, by its envelope id (a big-endian u64, not postcard).
    DeadLetterRow,
    /// An idempotency key by time (empty).
    IdempotencyByTime,
    /// A form's metadata.
    Form,
    /// A form submission.
    Submission,
    /// A publish held by a quota.
    Held,
    /// An account.
    Account,
    /// An address's monthly publish count.
    IpUsage,
    /// A job.
    Job,
    /// A job event.
    JobEvent,
    /// A work queue.
    WorkQueue,
    /// A work-queue task.
    Task,
    /// The cluster's roster.
    Roster,
    /// A snapshot's metadata.
    SnapshotMeta,
    /// A snapshot's data.
    SnapshotData,
}

/// What the value under `key` in column family `cf` is (`None`: no key Roost writes).
pub fn record(cf: &str, key: &[u8]) -> Option<Record> {
    let (tag, rest) = (*key.get(4)?, key.get(5..)?);
    Some(match (cf, tag) {
        (CF_RAFT, RAFT_META) if rest == b"vote" => Record::Vote,
        (CF_RAFT, RAFT_META) if rest == b"purged" => Record::LastPurged,
        (CF_RAFT, RAFT_LOG) => Record::LogEntry,
        (CF_SM, SM_META) => Record::AppliedMeta,
        (CF_SM, SM_QUEUE) => Record::Queue,
        (CF_SM, SM_MESSAGE) => Record::Envelope,
        (CF_SM, SM_IDEMPOTENCY) => Record::Idempotency,
        (CF_SM, SM_DLQ) => Record::DeadLetter,
        (CF_SM, SM_DLQ_INDEX) => Record::DeadLetterRow,
        (CF_SM, SM_IDEMPOTENCY_BY_TIME) => Record::IdempotencyByTime,
        (CF_SM, SM_FORM) => Record::Form,
        (CF_SM, SM_SUBMISSION) => Record::Submission,
        (CF_SM, SM_HELD) => Record::Held,
        (CF_SM, SM_ACCOUNT) => Record::Account,
        (CF_SM, SM_IP_USAGE) => Record::IpUsage,
        (CF_SM, SM_JOB) => Record::Job,
        (CF_SM, SM_JOB_EVENT) => Record::JobEvent,
        (CF_SM, SM_WORK_QUEUE) => Record::WorkQueue,
        (CF_SM, SM_TASK) => Record::Task,
        (CF_SM, SM_ROSTER) => Record::Roster,
        (CF_SNAP, SNAP_META) => Record::SnapshotMeta,
        (CF_SNAP, SNAP_DATA) => Record::SnapshotData,
        _ => return None,
    })
}

fn prefix(group: GroupId, tag: u8, cap: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + cap);
    k.extend_from_slice(&group.to_be_bytes());
    k.push(tag);
    k
}

/// The vote of `group`.
pub fn vote(group: GroupId) -> Vec<u8> {
    let mut k = prefix(group, RAFT_META, 4);
    k.extend_from_slice(b"vote");
    k
}

/// The last purged log id of `group`.
pub fn last_purged(group: GroupId) -> Vec<u8> {
    let mut k = prefix(group, RAFT_META, 6);
    k.extend_from_slice(b"purged");
    k
}

/// The log entry at `index` of `group`.
pub fn log(group: GroupId, index: u64) -> Vec<u8> {
    let mut k = prefix(group, RAFT_LOG, 8);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The index of a log key of `group`, or `None` for a key outside `group`'s log.
pub fn log_index(group: GroupId, key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(prefix(group, RAFT_LOG, 0).as_slice())?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// The seq or row that ends a message, dead-letter, held, job-event or submission key.
pub fn trailing_number(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[at..].try_into().ok()?))
}

/// The applied-state record of `group`.
pub fn sm_meta(group: GroupId) -> Vec<u8> {
    prefix(group, SM_META, 0)
}

/// The metadata of `queue`.
pub fn queue(group: GroupId, queue: &QueueId) -> Vec<u8> {
    let mut k = prefix(group, SM_QUEUE, queue.as_str().len());
    k.extend_from_slice(queue.as_str().as_bytes());
    k
}

/// The held publish at `row` of `queue`.
pub fn held(group: GroupId, queue: &QueueId, row: u64) -> Vec<u8> {
    let mut k = queue_scoped(group, SM_HELD, queue, 8);
    k.extend_from_slice(&row.to_be_bytes());
    k
}

/// The end (exclusive) of `queue`'s held publishes.
pub fn held_end(group: GroupId, queue: &QueueId) -> Vec<u8> {
    let mut k = held(group, queue, u64::MAX);
    k.push(0);
    k
}

/// The work queue `id`.
pub fn work_queue(group: GroupId, id: &str) -> Vec<u8> {
    let mut k = prefix(group, SM_WORK_QUEUE, id.len());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The range of every work queue in `group`.
pub fn work_queues(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (
        prefix(group, SM_WORK_QUEUE, 0),
        prefix(group, SM_WORK_QUEUE + 1, 0),
    )
}

/// The task `id`.
pub fn task(group: GroupId, id: &str) -> Vec<u8> {
    let mut k = prefix(group, SM_TASK, id.len());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The range of every task in `group`.
pub fn tasks(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (prefix(group, SM_TASK, 0), prefix(group, SM_TASK + 1, 0))
}

/// The job `id`.
pub fn job(group: GroupId, id: &str) -> Vec<u8> {
    let mut k = prefix(group, SM_JOB, id.len());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The range of every job in `group`.
pub fn jobs(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (prefix(group, SM_JOB, 0), prefix(group, SM_JOB + 1, 0))
}

/// Event `seq` of job `id`.
pub fn job_event(group: GroupId, id: &str, seq: u64) -> Vec<u8> {
    let mut k = prefix(group, SM_JOB_EVENT, 1 + id.len() + 8);
    // Job ids are short ASCII, well under 256 bytes.
    k.push(id.len() as u8);
    k.extend_from_slice(id.as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The end (exclusive) of job `id`'s events.
pub fn job_events_end(group: GroupId, id: &str) -> Vec<u8> {
    let mut k = job_event(group, id, u64::MAX);
    k.push(0);
    k
}

/// The account `id`.
pub fn account(group: GroupId, id: &str) -> Vec<u8> {
    let mut k = prefix(group, SM_ACCOUNT, id.len());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The range of every account in `group`.
pub fn accounts(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (
        prefix(group, SM_ACCOUNT, 0),
        prefix(group, SM_ACCOUNT + 1, 0),
    )
}

/// The cluster's roster (metadata group).
pub fn roster(group: GroupId) -> Vec<u8> {
    prefix(group, SM_ROSTER, 0)
}

/// The counter of `ip`.
pub fn ip_usage(group: GroupId, ip: &str) -> Vec<u8> {
    let mut k = prefix(group, SM_IP_USAGE, ip.len());
    k.extend_from_slice(ip.as_bytes());
    k
}

/// The range of every IP counter in `group`.
pub fn ip_usages(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (
        prefix(group, SM_IP_USAGE, 0),
        prefix(group, SM_IP_USAGE + 1, 0),
    )
}

/// The IP of an IP-counter key of `group`.
pub fn parse_ip_usage(group: GroupId, key: &[u8]) -> Option<String> {
    let rest = key.strip_prefix(prefix(group, SM_IP_USAGE, 0).as_slice())?;
    String::from_utf8(rest.to_vec()).ok()
}

/// The metadata of `form`.
pub fn form(group: GroupId, form: &FormId) -> Vec<u8> {
    let mut k = prefix(group, SM_FORM, form.as_str().len());
    k.extend_from_slice(form.as_str().as_bytes());
    k
}

/// The range holding every form's metadata in `group`.
pub fn forms(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (prefix(group, SM_FORM, 0), prefix(group, SM_FORM + 1, 0))
}

/// The submission `seq` of `form`.
pub fn submission(group: GroupId, form: &FormId, seq: u64) -> Vec<u8> {
    let f = form.as_str().as_bytes();
    let mut k = prefix(group, SM_SUBMISSION, 1 + f.len() + 8);
    // Form ids are short ASCII, well under 256 bytes.
    k.push(f.len() as u8);
    k.extend_from_slice(f);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The end (exclusive) of `form`'s submissions.
pub fn submissions_end(group: GroupId, form: &FormId) -> Vec<u8> {
    let mut k = submission(group, form, u64::MAX);
    k.push(0);
    k
}

/// The range holding every queue's metadata in `group`.
pub fn queues(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (prefix(group, SM_QUEUE, 0), prefix(group, SM_QUEUE + 1, 0))
}

fn queue_scoped(group: GroupId, tag: u8, queue: &QueueId, cap: usize) -> Vec<u8> {
    let q = queue.as_str().as_bytes();
    let mut k = prefix(group, tag, 1 + q.len() + cap);
    // Queue ids are short ASCII, well under 256 bytes.
    k.push(q.len() as u8);
    k.extend_from_slice(q);
    k
}

/// The envelope `seq` of `queue`.
pub fn message(group: GroupId, queue: &QueueId, seq: u64) -> Vec<u8> {
    let mut k = queue_scoped(group, SM_MESSAGE, queue, 8);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The end (exclusive) of `queue`'s envelopes.
pub fn messages_end(group: GroupId, queue: &QueueId) -> Vec<u8> {
    let mut k = queue_scoped(group, SM_MESSAGE, queue, 9);
    k.extend_from_slice(&u64::MAX.to_be_bytes());
    k.push(0);
    k
}

/// The dead letter at `row` of `queue`.
pub fn dlq_row(group: GroupId, queue: &QueueId, row: u64) -> Vec<u8> {
    let mut k = queue_scoped(group, SM_DLQ, queue, 8);
    k.extend_from_slice(&row.to_be_bytes());
    k
}

/// The range of `queue`'s dead letters with `row > after`.
pub fn dlq_rows_after(group: GroupId, queue: &QueueId, after: u64) -> (Vec<u8>, Vec<u8>) {
    let start = dlq_row(group, queue, after.saturating_add(1));
    let mut end = queue_scoped(group, SM_DLQ, queue, 9);
    end.extend_from_slice(&u64::MAX.to_be_bytes());
    end.push(0);
    (start, end)
}

/// The row of the dead letter whose envelope is `msg_id`.
pub fn dlq_index(group: GroupId, queue: &QueueId, msg_id: &str) -> Vec<u8> {
    let mut k = queue_scoped(group, SM_DLQ_INDEX, queue, msg_id.len());
    k.extend_from_slice(msg_id.as_bytes());
    k
}

/// Every range holding records of `queue` (envelopes, idempotency records, dead letters).
pub fn queue_data(group: GroupId, queue: &QueueId) -> Vec<(Vec<u8>, Vec<u8>)> {
    QUEUE_SCOPED
        .iter()
        .map(|tag| {
            let lo = queue_scoped(group, *tag, queue, 0);
            let mut hi = lo.clone();
            // Every key of the queue under `tag` starts with `lo`; 0xff.. sorts after them all.
            hi.extend_from_slice(&[0xff; 9]);
            (lo, hi)
        })
        .collect()
}

/// The time-ordered entry of `key`, recorded at `at_ms`, on `queue`.
pub fn idempotency_by_time(group: GroupId, queue: &QueueId, at_ms: u64, key: &str) -> Vec<u8> {
    let mut k = queue_scoped(group, SM_IDEMPOTENCY_BY_TIME, queue, 8 + key.len());
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

/// The range of `queue`'s time-ordered idempotency entries recorded before `before_ms`.
pub fn idempotency_before(group: GroupId, queue: &QueueId, before_ms: u64) -> (Vec<u8>, Vec<u8>) {
    let lo = queue_scoped(group, SM_IDEMPOTENCY_BY_TIME, queue, 0);
    let mut hi = lo.clone();
    hi.extend_from_slice(&before_ms.to_be_bytes());
    (lo, hi)
}

/// Splits a time-ordered idempotency key of `queue` into `(at_ms, key)`.
pub fn parse_idempotency_by_time(
    group: GroupId,
    queue: &QueueId,
    key: &[u8],
) -> Option<(u64, String)> {
    let prefix = queue_scoped(group, SM_IDEMPOTENCY_BY_TIME, queue, 0);
    let rest = key.strip_prefix(prefix.as_slice())?;
    let (at, name) = rest.split_at_checked(8)?;
    let at = u64::from_be_bytes(at.try_into().ok()?);
    Some((at, String::from_utf8(name.to_vec()).ok()?))
}

/// The idempotency record for `key` on `queue`.
pub fn idempotency(group: GroupId, queue: &QueueId, key: &str) -> Vec<u8> {
    let mut k = queue_scoped(group, SM_IDEMPOTENCY, queue, key.len());
    k.extend_from_slice(key.as_bytes());
    k
}

/// The range of `group`'s applied data that a snapshot carries (everything but the meta record).
pub fn snapshot_data(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    (prefix(group, SM_QUEUE, 0), prefix(group, u8::MAX, 0))
}

/// The whole range of `group` in a column family.
pub fn group_range(group: GroupId) -> (Vec<u8>, Vec<u8>) {
    let start = group.to_be_bytes().to_vec();
    let end = match group.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    };
    (start, end)
}

/// The metadata of `group`'s latest snapshot.
pub fn snapshot_meta(group: GroupId) -> Vec<u8> {
    prefix(group, SNAP_META, 0)
}

/// The data of `group`'s latest snapshot.
pub fn snapshot_data_blob(group: GroupId) -> Vec<u8> {
    prefix(group, SNAP_DATA, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_numerically_and_stay_in_their_group() {
        assert!(log(1, 255) < log(1, 256));
        assert!(log(1, u64::MAX) < log(2, 0));
        assert_eq!(log_index(1, &log(1, 77)), Some(77));
        assert_eq!(log_index(2, &log(1, 77)), None);
    }

    #[test]
    fn queue_data_ranges_cover_the_queue_and_nothing_else() {
        let (q, other) = (QueueId::new(1, 5), QueueId::new(1, 6));
        let ranges = queue_data(1, &q);
        let inside = |k: &[u8]| {
            ranges
                .iter()
                .any(|(lo, hi)| lo.as_slice() <= k && k < hi.as_slice())
        };
        assert!(inside(&message(1, &q, u64::MAX)));
        assert!(inside(&idempotency(1, &q, "some-key")));
        assert!(inside(&dlq_row(1, &q, 3)));
        assert!(inside(&dlq_index(1, &q, "qm_0123456789abcdef")));
        assert!(!inside(&message(1, &other, 1)));
        assert!(!inside(&queue(1, &q)));
        assert!(dlq_row(1, &q, 2) < dlq_rows_after(1, &q, 1).1);
        assert!(dlq_row(1, &q, 1) < dlq_rows_after(1, &q, 1).0);
    }

    #[test]
    fn message_keys_sort_by_seq_within_a_queue() {
        let q = QueueId::new(1, 5);
        assert!(message(1, &q, 9) < message(1, &q, 10));
        assert!(message(1, &q, u64::MAX) < messages_end(1, &q));
        let (lo, hi) = snapshot_data(1);
        assert!(lo <= message(1, &q, 0) && message(1, &q, 0) < hi);
        assert!(lo <= queue(1, &q) && idempotency(1, &q, "k") < hi);
        assert!(sm_meta(1) < lo);
    }
}
