//! Storage tests: openraft's conformance suite, and Roost's own persistence properties.

use openraft::storage::RaftStateMachine;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, EntryPayload, RaftSnapshotBuilder};
use roost_state::{Command, Query, QueryResult, QueueId, QueueSettings, Request, Response};
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
        payload: EntryPayload::Normal(Request {
            stamped_ms: 1_000 + index,
            command,
        }),
    }
}

fn workload(queue: &QueueId) -> Vec<Entry> {
    let mut entries = vec![entry(
        1,
        Command::CreateQueue {
            id: queue.clone(),
            key_digest: KEY,
            consumers: vec!["me".into()],
            settings: QueueSettings::default(),
        },
    )];
    for i in 0..5u64 {
        entries.push(entry(
            2 + i,
            Command::Publish {
                queue: queue.clone(),
                auth: KEY,
                id: format!("qm_{i:016x}"),
                payload: format!("{{\"i\":{i}}}"),
                // The same key twice in one batch must dedupe inside the batch.
                idempotency: Some((format!("k{}", i.min(3)), [i.min(3) as u8; 32])),
            },
        ));
    }
    entries.push(entry(
        7,
        Command::Ack {
            queue: queue.clone(),
            auth: KEY,
            consumer: "me".into(),
            cursor: 2,
        },
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
