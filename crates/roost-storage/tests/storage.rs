//! Storage tests: openraft's conformance suite, and Roost's own persistence properties.

use openraft::storage::RaftStateMachine;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, EntryPayload, RaftSnapshotBuilder};
use roost_state::command as cmd;
use roost_state::{
    Batch, Command, JobSpec, JobTtl, Query, QueryResult, QueueId, QueueSettings, Response, Source,
    Topic,
};
use roost_storage::{LogStore, StateMachineStore, Storage};
use roost_types::{Entry, LogId, StorageError, TypeConfig};
use tempfile::TempDir;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = TempDir::new().map_err(|e| openraft::StorageIOError::write(&e))?;
        let storage = Storage::open(dir.path()).map_err(|e| openraft::StorageIOError::write(&e))?;
        let (log, sm) = storage
            .group(1)
            .map_err(|e| openraft::StorageIOError::write(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() -> anyhow::Result<()> {
    Suite::test_all(Builder)?;
    Ok(())
}

const KEY: [u8; 32] = [3; 32];

fn entry(index: u64, command: Command) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Batch {
            stamped_ms: 1_000 + index,
            commands: vec![command],
        }),
    }
}

fn workload(queue: &QueueId) -> Vec<Entry> {
    let mut entries = vec![entry(
        1,
        Command::CreateQueue(cmd::CreateQueue {
            id: queue.clone(),
            key_digest: KEY,
            consumers: vec!["me".into()],
            settings: QueueSettings::default(),
        }),
    )];
    for i in 0..5u64 {
        entries.push(entry(
            2 + i,
            Command::Publish(cmd::Publish {
                queue: queue.clone(),
                auth: KEY,
                id: format!("qm_{i:016x}"),
                payload: format!("{{\"i\":{i}}}"),
                source: Source::Publish,
                // The same key twice in one batch must dedupe inside the batch.
                idempotency: Some((format!("k{}", i.min(3)), [i.min(3) as u8; 32])),
                hold: None,
            }),
        ));
    }
    entries.push(entry(
        7,
        Command::Ack(cmd::Ack {
            queue: queue.clone(),
            auth: KEY,
            consumer: "me".into(),
            cursor: 2,
        }),
    ));
    entries
}

fn pulled_seqs(sm: &StateMachineStore, queue: &QueueId) -> (u64, Vec<u64>) {
    let q = Query::Pull {
        queue: queue.clone(),
        auth: KEY,
        consumer: "me".into(),
        cursor: None,
        limit: 100,
    };
    match sm.reader().query(&q).expect("query") {
        QueryResult::Pulled {
            messages, cursor, ..
        } => (cursor, messages.iter().map(|m| m.seq).collect()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn applied_state_survives_reopen_and_dedupes_within_a_batch() -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let queue = QueueId::new(1, 9);
    {
        let storage = Storage::open(dir.path())?;
        let (_log, mut sm) = storage.group(1)?;
        let responses = sm.apply(workload(&queue)).await?;
        let replayed = responses
            .iter()
            .flatten()
            .filter(|r| matches!(r, Response::Published { replayed: true, .. }))
            .count();
        assert_eq!(replayed, 1, "{responses:?}");
    }
    let storage = Storage::open(dir.path())?;
    let (_log, mut sm) = storage.group(1)?;
    let (applied, _) = sm.applied_state().await?;
    assert_eq!(applied.map(|l| l.index), Some(7));
    assert_eq!(pulled_seqs(&sm, &queue), (2, vec![3, 4]));
    // Another group on the same database sees nothing of group 1.
    let (_log, mut other) = storage.group(2)?;
    assert_eq!(other.applied_state().await?.0, None);
    Ok(())
}

#[tokio::test]
async fn snapshot_moves_the_full_state_to_another_node() -> anyhow::Result<()> {
    let (a_dir, b_dir) = (TempDir::new()?, TempDir::new()?);
    let queue = QueueId::new(1, 9);
    let a = Storage::open(a_dir.path())?;
    let (_log, mut sm_a) = a.group(1)?;
    sm_a.apply(workload(&queue)).await?;
    let snapshot = sm_a.get_snapshot_builder().await.build_snapshot().await?;

    let b = Storage::open(b_dir.path())?;
    let (log_b, mut sm_b) = b.group(1)?;
    // Stale data on the receiver must be replaced, not merged.
    let stale = QueueId::new(1, 10);
    sm_b.apply(workload(&stale)).await?;
    sm_b.install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await?;
    assert_eq!(pulled_seqs(&sm_b, &queue), (2, vec![3, 4]));
    assert_eq!(sm_b.reader().queue_count(), 1);
    let current = sm_b.get_current_snapshot().await?.expect("stored snapshot");
    assert_eq!(current.meta.last_log_id.map(|l| l.index), Some(7));
    drop((log_b, sm_b, b));
    // And the installed state is durable.
    let b = Storage::open(b_dir.path())?;
    let (_log, sm_b) = b.group(1)?;
    assert_eq!(pulled_seqs(&sm_b, &queue), (2, vec![3, 4]));
    Ok(())
}

/// Creating `queue` (one consumer, `me`) and publishing each of `payloads` to it, ids
/// `qm_<n>` in order.
fn queue_of(queue: &QueueId, payloads: impl Iterator<Item = String>) -> Vec<Command> {
    let create = Command::CreateQueue(cmd::CreateQueue {
        id: queue.clone(),
        key_digest: KEY,
        consumers: vec!["me".into()],
        settings: QueueSettings::default(),
    });
    let publishes = payloads.enumerate().map(|(i, payload)| {
        Command::Publish(cmd::Publish {
            queue: queue.clone(),
            auth: KEY,
            id: format!("qm_{i:016x}"),
            payload,
            source: Source::Publish,
            idempotency: None,
            hold: None,
        })
    });
    std::iter::once(create).chain(publishes).collect()
}

fn entries_from(first: u64, commands: Vec<Command>) -> Vec<Entry> {
    commands
        .into_iter()
        .enumerate()
        .map(|(i, c)| entry(first + i as u64, c))
        .collect()
}

fn nack(queue: &QueueId, seq: u64) -> Command {
    Command::Nack(cmd::Nack {
        queue: queue.clone(),
        auth: KEY,
        consumer: "me".into(),
        seq,
        error: "boom".into(),
        dead_letter: true,
    })
}

fn dlq(sm: &StateMachineStore, queue: &QueueId) -> Vec<u64> {
    let q = Query::Dlq {
        queue: queue.clone(),
        auth: KEY,
        after: 0,
        limit: 100,
    };
    match sm.reader().query(&q).expect("query") {
        QueryResult::DlqPage { rows, .. } => rows.iter().map(|(_, e)| e.envelope.seq).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dead_letters_gc_and_deletion_persist_within_and_across_batches() -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let queue = QueueId::new(1, 9);
    let mut commands = queue_of(&queue, (0..3).map(|i| format!("{{\"i\":{i}}}")));
    // In one batch: dead-letter seq 3, replay it (reading the pending row), dead-letter seq 2,
    // and ack 1 so the floor rises.
    commands.push(nack(&queue, 3));
    commands.push(Command::ReplayDlq(cmd::ReplayDlq {
        queue: queue.clone(),
        auth: KEY,
        dlq_msg_id: format!("qm_{:016x}", 2),
        id: "qm_replayed".into(),
    }));
    commands.push(nack(&queue, 2));
    commands.push(Command::Ack(cmd::Ack {
        queue: queue.clone(),
        auth: KEY,
        consumer: "me".into(),
        cursor: 1,
    }));
    {
        let storage = Storage::open(dir.path())?;
        let (_log, mut sm) = storage.group(1)?;
        let responses = sm.apply(entries_from(1, commands)).await?;
        assert!(
            matches!(&responses[5][0], Response::Replayed { envelope } if envelope.seq == 4),
            "{responses:?}"
        );
    }
    let storage = Storage::open(dir.path())?;
    let (log, mut sm) = storage.group(1)?;
    assert_eq!(dlq(&sm, &queue), vec![2]);
    assert_eq!(pulled_seqs(&sm, &queue), (1, vec![2, 3, 4]));
    // Deleting the queue removes every record it had.
    sm.apply(entries_from(
        9,
        vec![Command::DeleteQueue(cmd::DeleteQueue {
            queue: queue.clone(),
            auth: KEY,
        })],
    ))
    .await?;
    drop((log, sm, storage));
    let storage = Storage::open(dir.path())?;
    let (_log, sm) = storage.group(1)?;
    assert_eq!(sm.reader().queue_count(), 0);
    assert_eq!(storage.count_records(1)?, 0);
    Ok(())
}

#[tokio::test]
async fn expired_idempotency_keys_are_swept_from_disk() -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let queue = QueueId::new(1, 9);
    let storage = Storage::open(dir.path())?;
    let (_log, mut sm) = storage.group(1)?;
    sm.apply(workload(&queue)).await?;
    let before = storage.count_records(1)?;
    // A day later a tick sweeps every key (4 distinct keys: record plus time entry each).
    let day = 24 * 60 * 60 * 1000;
    let mut tick = entry(8, Command::Tick);
    if let EntryPayload::Normal(req) = &mut tick.payload {
        req.stamped_ms = 2_000 + day;
    }
    sm.apply(vec![tick]).await?;
    assert_eq!(storage.count_records(1)?, before - 8);
    Ok(())
}

/// Building a snapshot of a large state must not occupy the async runtime: on a
/// single-threaded runtime, a ticking task keeps running while the build is in progress.
#[tokio::test(flavor = "current_thread")]
async fn snapshot_build_leaves_the_runtime_free() -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let queue = QueueId::new(1, 11);
    let storage = Storage::open(dir.path())?;
    let (_log, mut sm) = storage.group(1)?;
    let pad = "x".repeat(200);
    let commands = queue_of(
        &queue,
        (0..60_000).map(|i| format!("{{\"i\":{i},\"pad\":\"{pad}\"}}")),
    );
    sm.apply(vec![Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), 1),
        payload: EntryPayload::Normal(Batch {
            stamped_ms: 1_000,
            commands,
        }),
    }])
    .await?;

    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::task::yield_now().await;
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    // Let the ticker start, then build; a build on this thread would stop it dead.
    tokio::task::yield_now().await;
    let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
    let snapshot = sm.get_snapshot_builder().await.build_snapshot().await?;
    let during = ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
    ticker.abort();
    assert!(
        during > 0,
        "the runtime did not run anything else during the build"
    );
    assert_eq!(snapshot.meta.last_log_id.map(|l| l.index), Some(1));
    Ok(())
}

#[tokio::test]
async fn each_applied_batch_announces_what_it_changed() -> anyhow::Result<()> {
    use std::sync::{Arc, Mutex};
    let dir = TempDir::new()?;
    let heard: Arc<Mutex<Vec<Vec<Topic>>>> = Arc::default();
    let sink = Arc::clone(&heard);
    let storage = Storage::open(dir.path())?.announce_to(Arc::new(move |t: &[Topic]| {
        sink.lock().expect("lock").push(t.to_vec())
    }));
    let (_log, mut sm) = storage.group(1)?;
    let (a, b) = (QueueId::new(1, 1), QueueId::new(1, 2));
    let mut entries = workload(&a);
    entries.truncate(2); // create a, publish to a
    sm.apply(entries).await?;
    let job = |index, workspace: &str| {
        entry(
            index,
            Command::CreateJob(cmd::CreateJob {
                id: format!("job_{index}"),
                workspace: workspace.into(),
                spec: JobSpec {
                    job_type: "t".into(),
                    payload: "{}".into(),
                    max_retries: 0,
                    timeout_secs: 60,
                    priority: 0,
                    run_at_ms: None,
                    webhook: None,
                },
                idempotency: None,
                ttl: JobTtl {
                    completed_ms: 60_000,
                    failed_ms: 60_000,
                    cancelled_ms: 60_000,
                },
            }),
        )
    };
    sm.apply([job(3, "ws-x")]).await?;
    // A refused publish (no such queue) changes nothing and announces nothing.
    let mut refused = workload(&b);
    refused.truncate(2);
    sm.apply([refused.remove(1)].map(|mut e| {
        e.log_id.index = 4;
        e
    }))
    .await?;
    let heard = heard.lock().expect("lock").clone();
    assert_eq!(
        heard,
        vec![vec![Topic::Queue(a)], vec![Topic::Workspace("ws-x".into())]]
    );
    Ok(())
}

#[tokio::test]
async fn a_restored_checkpoint_keeps_the_data_and_clock_and_forgets_the_cluster(
) -> anyhow::Result<()> {
    use openraft::storage::RaftLogStorage;
    use openraft::Vote;
    let (live, restored) = (TempDir::new()?, TempDir::new()?);
    let queue = QueueId::new(1, 9);
    let storage = Storage::open(live.path())?;
    let (mut log, mut sm) = storage.group(1)?;
    sm.apply(workload(&queue)).await?;
    log.save_vote(&Vote::new_committed(3, 1)).await?;
    let (_meta_log, mut meta) = storage.group(0)?;
    let members = [(1, ("p1:1".to_owned(), "h1:1".to_owned()))].into();
    let seed = Command::SeedMembers(cmd::SeedMembers { members });
    meta.apply(vec![entry(1, seed)]).await?;
    assert!(!meta.reader().roster().is_empty());
    let clock = sm.reader().clock_ms();
    let into = restored.path().join("db");
    storage.checkpoint(&into)?;
    drop((log, sm, meta, storage));

    let found = roost_storage::backup::prepare_restore(&into)?;
    assert_eq!(found.groups, vec![0, 1]);
    let storage = Storage::open(&into)?;
    let (mut log, mut sm) = storage.group(1)?;
    assert_eq!(
        log.read_vote().await?,
        None,
        "the old cluster's vote is gone"
    );
    assert_eq!(log.get_log_state().await?.last_log_id, None);
    let (applied, membership) = sm.applied_state().await?;
    assert_eq!(applied, None);
    assert_eq!(membership.membership().voter_ids().count(), 0);
    assert_eq!(pulled_seqs(&sm, &queue), (2, vec![3, 4]), "the data stays");
    assert_eq!(sm.reader().clock_ms(), clock, "the group clock stays");
    let (_meta_log, meta) = storage.group(0)?;
    assert!(
        meta.reader().roster().is_empty(),
        "the new cluster seeds its own roster"
    );
    Ok(())
}

#[tokio::test]
async fn acked_messages_leave_disk_key_by_key_or_as_one_range() -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let queue = QueueId::new(1, 11);
    let commands = queue_of(&queue, (0..4300).map(|_| "{}".to_owned()));
    let ack = |cursor| {
        Command::Ack(cmd::Ack {
            queue: queue.clone(),
            auth: KEY,
            consumer: "me".into(),
            cursor,
        })
    };
    {
        let storage = Storage::open(dir.path())?;
        let (_log, mut sm) = storage.group(1)?;
        sm.apply(entries_from(1, commands)).await?;
        let stored = storage.count_records(1)?;
        // A small reap deletes its two envelopes one by one, a large one (4,198, past the
        // point-delete limit) as a range; neither touches what lies above the new floor.
        sm.apply(entries_from(4302, vec![ack(2)])).await?;
        assert_eq!(storage.count_records(1)?, stored - 2);
        sm.apply(entries_from(4303, vec![ack(4200)])).await?;
        assert_eq!(storage.count_records(1)?, stored - 4200);
    }
    let storage = Storage::open(dir.path())?;
    let (_log, sm) = storage.group(1)?;
    assert_eq!(
        pulled_seqs(&sm, &queue),
        (4200, (4201..=4300).collect::<Vec<_>>())
    );
    Ok(())
}
