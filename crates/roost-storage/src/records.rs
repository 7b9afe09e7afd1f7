//! Every stored value decoded as its type and encoded again. A value that does not come back
//! byte for byte means the type changed its encoding: what is on users' disks would read as
//! something else. Tested against a data dir an earlier release wrote (`fixtures/`).

use roost_state::{
    Account, DlqEntry, Envelope, Form, HeldPublish, IdempotencyRecord, Job, JobEvent, Queue,
    Roster, Submission, Task, WorkQueue,
};
use roost_types::{Entry, LogId, SnapshotMeta, Vote};
use serde::{de::DeserializeOwned, Serialize};

use crate::codec::{decode, encode};
use crate::keys::Record;
use crate::state_machine::{AppliedMeta, SnapshotData};
use crate::Error;

/// `bytes` decoded as a `T` and encoded again.
fn again<T: Serialize + DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<Vec<u8>, Error> {
    encode(&decode::<T>(what, bytes)?)
}

/// The value `bytes` of kind `record`, decoded and encoded again.
pub(crate) fn reencode(record: Record, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    match record {
        Record::Vote => again::<Vote>("vote", bytes),
        Record::LastPurged => again::<LogId>("last purged", bytes),
        Record::LogEntry => again::<Entry>("log entry", bytes),
        Record::AppliedMeta => again::<AppliedMeta>("applied meta", bytes),
        Record::Queue => again::<Queue>("queue", bytes),
        Record::Envelope => again::<Envelope>("envelope", bytes),
        Record::Idempotency => again::<IdempotencyRecord>("idempotency record", bytes),
        Record::DeadLetter => again::<DlqEntry>("dead letter", bytes),
        // Raw bytes, not postcard: a big-endian row, and an empty marker.
        Record::DeadLetterRow | Record::IdempotencyByTime => Ok(bytes.to_vec()),
        Record::Form => again::<Form>("form", bytes),
        Record::Submission => again::<Submission>("submission", bytes),
        Record::Held => again::<HeldPublish>("held publish", bytes),
        Record::Account => again::<Account>("account", bytes),
        Record::IpUsage => again::<(u32, u64)>("ip usage", bytes),
        Record::Job => again::<Job>("job", bytes),
        Record::JobEvent => again::<JobEvent>("job event", bytes),
        Record::WorkQueue => again::<WorkQueue>("work queue", bytes),
        Record::Task => again::<Task>("task", bytes),
        Record::Roster => again::<Roster>("roster", bytes),
        Record::SnapshotMeta => again::<SnapshotMeta>("snapshot meta", bytes),
        Record::SnapshotData => again::<SnapshotData>("snapshot", bytes),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rocksdb::{IteratorMode, Options, DB};
    use roost_state::{
        CommandError, FormId, JobStatus, Origins, Plan, Query, QueryResult, QueueId, Response,
        TaskStatus,
    };

    use super::*;
    use crate::keys::{record, CF_RAFT, CF_SM, CF_SNAP};

    /// Copies the fixture's data dir (RocksDB writes to what it opens).
    fn fixture() -> tempfile::TempDir {
        let from =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/datadir-1/data");
        let dir = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(&from).expect("fixture") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
        }
        dir
    }

    /// The fixture's database, open.
    fn open(dir: &tempfile::TempDir) -> DB {
        DB::open_cf(&Options::default(), dir.path(), [CF_RAFT, CF_SM, CF_SNAP]).expect("open")
    }

    /// The first value of kind `kind` in the fixture, decoded.
    fn first<T: DeserializeOwned>(db: &DB, kind: Record) -> T {
        let cf = db.cf_handle(CF_SM).expect("column family");
        for item in db.iterator_cf(cf, IteratorMode::Start) {
            let (key, value) = item.expect("read");
            if record(CF_SM, &key) == Some(kind) {
                return decode("sample", &value).expect("decodes");
            }
        }
        panic!("the fixture has no {kind:?}")
    }

    /// One answer of every kind, in the order the kinds were added, made of the fixture's
    /// records: answers travel between peers (forwarded commands), so their bytes are a format.
    fn responses(db: &DB) -> Vec<Response> {
        let job: Job = first(db, Record::Job);
        let task: Task = first(db, Record::Task);
        vec![
            Response::Done,
            Response::Layout { shards: 4 },
            Response::Created {
                queue: first(db, Record::Queue),
            },
            Response::Published {
                seq: 5,
                id: "qm_1".into(),
                published_at_ms: 1_700_000_000_000,
                replayed: true,
            },
            Response::Held {
                pending_id: "pp_1".into(),
            },
            Response::Drained { count: 3 },
            Response::Owner {
                owner: "acct_1".into(),
            },
            Response::AccountState {
                account: first(db, Record::Account),
            },
            Response::Charged {
                allowed: false,
                plan: Plan::Pro,
                used: 10,
                limit: Some(100),
            },
            Response::JobState {
                job: Box::new(job.clone()),
                created: true,
            },
            Response::Claimed { jobs: vec![job] },
            Response::WorkQueueState {
                queue: first(db, Record::WorkQueue),
            },
            Response::TaskState {
                task: Box::new(task.clone()),
                created: false,
            },
            Response::Dequeued {
                task: Some(Box::new(task)),
            },
            Response::HeartbeatAck {
                expires_ms: 9,
                cancel_requested: true,
            },
            Response::Acked { cursor: 3 },
            Response::Consumers {
                consumers: [("a".to_owned(), 1), ("b".to_owned(), 2)].into(),
            },
            Response::Nacked {
                seq: 2,
                nack_count: 1,
                dead_lettered: true,
            },
            Response::Replayed {
                envelope: first(db, Record::Envelope),
            },
            Response::FormCreated {
                form: first(db, Record::Form),
            },
            Response::Submitted {
                id: "sub_1".into(),
                seq: 1,
                mirrored: true,
            },
            Response::FormState {
                form: first(db, Record::Form),
            },
            Response::Origins {
                origins: Origins::List(["https://a.example".to_owned()].into()),
            },
            Response::Refused(CommandError::HeldFull { max_bytes: 16 }),
            Response::Roster(roster()),
        ]
    }

    /// One read of every kind, in the order the kinds were added: reads are forwarded to
    /// leaders, so their bytes are a format.
    fn queries() -> Vec<Query> {
        let q = || QueueId::new(2, 7);
        let ws = || "w".to_owned();
        vec![
            Query::Pull {
                queue: q(),
                auth: [1; 32],
                consumer: "me".into(),
                cursor: Some(3),
                limit: 10,
            },
            Query::Info {
                queue: q(),
                auth: [2; 32],
            },
            Query::Dlq {
                queue: q(),
                auth: [3; 32],
                after: 1,
                limit: 50,
            },
            Query::AccountByKey {
                key_digest: [4; 32],
            },
            Query::Account {
                id: "acct_1".into(),
            },
            Query::DrainWork,
            Query::Owner { queue: q() },
            Query::Job {
                workspace: ws(),
                id: "job_1".into(),
            },
            Query::Jobs {
                workspace: ws(),
                status: Some(JobStatus::Running),
                job_type: Some("t".into()),
                after: 2,
                limit: 200,
            },
            Query::JobEvents {
                workspace: ws(),
                id: "job_1".into(),
                after: 0,
                limit: 100,
            },
            Query::WebhooksDue {
                until_ms: 9,
                limit: 64,
            },
            Query::WorkQueues { workspace: ws() },
            Query::WorkQueue {
                workspace: ws(),
                id: "wq_1".into(),
            },
            Query::Tasks {
                workspace: ws(),
                queue: "wq_1".into(),
                status: Some(TaskStatus::Assigned),
            },
            Query::Submissions {
                form: FormId::new(1, 3),
                auth: [5; 32],
                after: 0,
                limit: 1000,
            },
            Query::MirrorOutbox { limit: 16 },
            Query::Origins { queue: q() },
            Query::ClaimableJobs {
                workspace: ws(),
                types: vec!["a".into()],
                now_ms: 1,
            },
            Query::Team {
                workspace: ws(),
                id: "t_1".into(),
            },
            Query::Roster,
            Query::QueueStats { limit: 20 },
            Query::WorkloadStats,
        ]
    }

    /// One read answer of every kind, made of the fixture's records.
    fn query_results(db: &DB) -> Vec<QueryResult> {
        let job: Job = first(db, Record::Job);
        let task: Task = first(db, Record::Task);
        let envelope: Envelope = first(db, Record::Envelope);
        vec![
            QueryResult::Pulled {
                messages: vec![envelope],
                cursor: 1,
                next_cursor: 2,
                has_more: true,
                floor: 0,
                below_floor: false,
            },
            QueryResult::Info {
                queue: first(db, Record::Queue),
            },
            QueryResult::DlqPage {
                rows: vec![(1, first(db, Record::DeadLetter))],
                next_cursor: 1,
                has_more: false,
            },
            QueryResult::SubmissionPage {
                form: first(db, Record::Form),
                rows: vec![first(db, Record::Submission)],
                next_cursor: 1,
                has_more: false,
            },
            QueryResult::WorkQueues(vec![(
                first(db, Record::WorkQueue),
                [("pending".to_owned(), 1)].into(),
            )]),
            QueryResult::Tasks(vec![task]),
            QueryResult::Jobs(vec![job.clone()]),
            QueryResult::Job(Box::new(job.clone())),
            QueryResult::JobPage {
                jobs: vec![job.clone()],
                next_cursor: 4,
                has_more: true,
            },
            QueryResult::JobEvents {
                job: Box::new(job),
                events: vec![first(db, Record::JobEvent)],
            },
            QueryResult::Account(Some(first(db, Record::Account))),
            QueryResult::Owner(Some("acct_1".into())),
            QueryResult::DrainWork(vec![("acct_1".into(), 2, vec![QueueId::new(1, 1)])]),
            QueryResult::Outbox(vec![]),
            QueryResult::Origins(Some(Origins::Any)),
            QueryResult::Refused(CommandError::StaleToken),
            QueryResult::ClaimableJobs(true),
            QueryResult::Team("red".into()),
            QueryResult::Roster(roster()),
            QueryResult::QueueStats(roost_state::QueueStats {
                queues: 3,
                messages: 12,
                dlq: 1,
                deepest: vec![roost_state::QueueStat {
                    id: QueueId::new(2, 7),
                    head_seq: 15,
                    messages: 10,
                    dlq: 1,
                    held: 0,
                    consumer_count: 2,
                    consumers: vec![("slow".into(), 5), ("fast".into(), 14)],
                }],
            }),
            QueryResult::WorkloadStats(roost_state::WorkloadStats {
                jobs: [("pending".to_owned(), 2), ("running".to_owned(), 1)].into(),
                work_queues: 1,
                tasks: [("assigned".to_owned(), 3)].into(),
            }),
        ]
    }

    /// A roster with a started member, one not started yet, and a removed id.
    fn roster() -> Roster {
        let member = |n: u64, incarnation| roost_state::Member {
            peer_addr: format!("10.0.0.{n}:7000"),
            http_addr: format!("10.0.0.{n}:8080"),
            incarnation,
        };
        Roster {
            members: [(1, member(1, Some(0xfeed))), (4, member(4, None))].into(),
            removed: [2].into(),
        }
    }

    #[test]
    fn every_read_and_read_answer_kind_encodes_to_its_pinned_bytes() {
        let dir = fixture();
        let db = open(&dir);
        crate::codec::golden::check("reads.hex", include_str!("codec/reads.hex"), &queries());
        crate::codec::golden::check(
            "read_answers.hex",
            include_str!("codec/read_answers.hex"),
            &query_results(&db),
        );
    }

    #[test]
    fn every_answer_kind_encodes_to_its_pinned_bytes() {
        let dir = fixture();
        let db = open(&dir);
        crate::codec::golden::check(
            "answers.hex",
            include_str!("codec/answers.hex"),
            &responses(&db),
        );
    }

    /// The stored kinds a cluster writes only later in its life (log purges, quotas, the
    /// roster, snapshots), which the fixture of a young cluster lacks, in `Record` order.
    fn late_records() -> Vec<(Record, Vec<u8>)> {
        use openraft::{CommittedLeaderId, Membership};
        let enc = |v: &dyn erased::Encode| v.bytes();
        let log_id = LogId::new(CommittedLeaderId::new(3, 2), 41);
        let held = HeldPublish {
            pending_id: "pp_1".into(),
            id: "qm_1".into(),
            payload: "{\"a\":1}".into(),
            held_at_ms: 1_700_000_000_000,
            idempotency: Some(("k".into(), [2; 32])),
        };
        let voters = std::collections::BTreeSet::from([1, 2, 3]);
        let meta = SnapshotMeta {
            last_log_id: Some(log_id),
            last_membership: roost_types::StoredMembership::new(
                Some(log_id),
                Membership::new(vec![voters], None),
            ),
            snapshot_id: "g1-41".into(),
        };
        let header = roost_state::Header {
            clock_ms: 1_700_000_000_123,
            layout: Some(2),
            last_sweep_ms: 1_700_000_000_000,
            job_seq: 9,
        };
        let data = crate::state_machine::snapshot_sample(
            header,
            vec![(vec![0, 0, 0, 1, 1, b'q'], vec![7, 8, 9])],
        );
        vec![
            (Record::LastPurged, enc(&log_id)),
            (Record::Held, enc(&held)),
            (Record::IpUsage, enc(&(202_612u32, 7u64))),
            (Record::Roster, enc(&roster())),
            (Record::SnapshotMeta, enc(&meta)),
            (Record::SnapshotData, enc(&data)),
        ]
    }

    /// Encoding through a trait object, so samples of different types sit in one list.
    mod erased {
        pub(super) trait Encode {
            fn bytes(&self) -> Vec<u8>;
        }
        impl<T: serde::Serialize> Encode for T {
            fn bytes(&self) -> Vec<u8> {
                crate::codec::encode(self).expect("encodes")
            }
        }
    }

    #[test]
    fn the_records_a_young_cluster_lacks_encode_to_their_pinned_bytes() {
        let samples = late_records();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let actual: Vec<String> = samples.iter().map(|(_, b)| hex(b)).collect();
        if std::env::var_os("ROOST_WRITE_GOLDEN").is_some() {
            let path = format!("{}/src/codec/records.hex", env!("CARGO_MANIFEST_DIR"));
            std::fs::write(path, actual.join("\n") + "\n").expect("write the golden file");
            return;
        }
        let pinned: Vec<&str> = include_str!("codec/records.hex").lines().collect();
        assert_eq!(
            actual.len(),
            pinned.len(),
            "a record kind was added or removed"
        );
        for ((kind, bytes), (a, p)) in samples.iter().zip(actual.iter().zip(&pinned)) {
            assert_eq!(a, p, "{kind:?} encodes differently");
            let back = reencode(*kind, bytes).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(&back, bytes, "{kind:?} does not come back byte for byte");
        }
    }

    #[test]
    fn every_record_of_an_earlier_release_comes_back_byte_for_byte() {
        let dir = fixture();
        let db = open(&dir);
        let mut seen = BTreeSet::new();
        for cf_name in [CF_RAFT, CF_SM, CF_SNAP] {
            let cf = db.cf_handle(cf_name).expect("column family");
            for item in db.iterator_cf(cf, IteratorMode::Start) {
                let (key, value) = item.expect("read");
                let kind = record(cf_name, &key)
                    .unwrap_or_else(|| panic!("unknown key {key:?} in {cf_name}"));
                let back =
                    reencode(kind, &value).unwrap_or_else(|e| panic!("{kind:?} {key:?}: {e}"));
                assert_eq!(
                    back,
                    value.to_vec(),
                    "{kind:?} under {key:?} encodes differently"
                );
                seen.insert(kind);
            }
        }
        // The fixture holds every kind a running cluster writes before its first snapshot.
        let expected = BTreeSet::from([
            Record::Vote,
            Record::LogEntry,
            Record::AppliedMeta,
            Record::Queue,
            Record::Envelope,
            Record::Idempotency,
            Record::DeadLetter,
            Record::DeadLetterRow,
            Record::IdempotencyByTime,
            Record::Form,
            Record::Submission,
            Record::Account,
            Record::Job,
            Record::JobEvent,
            Record::WorkQueue,
            Record::Task,
        ]);
        let missing: Vec<_> = expected.difference(&seen).collect();
        assert!(missing.is_empty(), "the fixture has no {missing:?}");
    }
}
