//! Backup and restore on real processes: `roost admin backup` under publishing load, `roost
//! restore` into the data dirs of a new three-node cluster, which serves everything
//! acknowledged before the backup exactly once; a damaged backup and a non-empty data dir are
//! refused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use crate::api::{call, create, publish, pull_all};
use crate::harness::Cluster;

const KEY: &str = "backup-operator-key!";
const SHARDS: u32 = 2;

fn top() -> String {
    format!("[admin]\noperator_key = \"{KEY}\"")
}

async fn roost(args: &[&str]) -> anyhow::Result<(bool, String)> {
    crate::harness::roost(args, KEY).await
}

/// `roost restore` of `from` into `data_dir`: success and what it printed.
async fn restore(
    from: &std::path::Path,
    data_dir: &std::path::Path,
) -> anyhow::Result<(bool, String)> {
    let (from, data_dir) = (from.to_string_lossy(), data_dir.to_string_lossy());
    roost(&[
        "restore",
        "--from",
        &from,
        "--data-dir",
        &data_dir,
        "--node-id",
        "1",
    ])
    .await
}

/// The values in a queue, each with how many times it is there.
fn counts(messages: &[Value]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for m in messages {
        let v = m["payload"]["v"].as_str().unwrap_or_default().to_owned();
        *seen.entry(v).or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn a_backup_under_load_restores_into_a_new_cluster_exactly_once() -> anyhow::Result<()> {
    let old = Cluster::start_with(3, SHARDS, &top(), "").await?;
    let q = create(&old, 1, &["c"]).await?;
    // Acknowledged before the backup: 60 messages, one dead-lettered, the rest acked to 30.
    for i in 0..60 {
        let (status, v) = publish(
            &old,
            1 + i % 3,
            &q,
            &json!({"v": format!("before-{i}")}),
            Some(&format!("k{i}")),
        )
        .await?;
        anyhow::ensure!(status == 201, "{status} {v}");
    }
    let nack = json!({"consumer_id": "c", "seq": 7, "error": "poison", "dead_letter": true});
    let (status, v) = call(&old, &q, reqwest::Method::POST, "/nack", Some(nack)).await?;
    anyhow::ensure!(status == 200, "{status} {v}");
    let ack = json!({"consumer_id": "c", "cursor": 30});
    let (status, v) = call(&old, &q, reqwest::Method::POST, "/ack", Some(ack)).await?;
    anyhow::ensure!(status == 200, "{status} {v}");

    // Publishing goes on while the backup is taken.
    let stop = AtomicBool::new(false);
    let during = async {
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) && n < 5_000 {
            let v = json!({"v": format!("during-{n}")});
            let _ = publish(&old, 1 + n % 3, &q, &v, Some(&format!("d{n}"))).await;
            n += 1;
        }
        n
    };
    let dir = tempfile::tempdir()?;
    let backup = dir.path().join("backup");
    let out = backup.to_string_lossy().into_owned();
    let taking = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let taken = roost(&["admin", "--url", old.url(2), "backup", "--out", &out]).await;
        stop.store(true, Ordering::SeqCst);
        taken
    };
    let (published_during, taken) = tokio::join!(during, taking);
    let (ok, said) = taken?;
    anyhow::ensure!(ok, "roost admin backup failed: {said}");
    anyhow::ensure!(published_during > 0, "no load during the backup");
    println!("{said}");

    // A damaged copy is refused before anything is written.
    let damaged = dir.path().join("damaged");
    crate::harness::copy_dir(&backup, &damaged)?;
    let manifest: Value = serde_json::from_slice(&std::fs::read(backup.join("manifest.json"))?)?;
    let victim = manifest["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["bytes"].as_u64().unwrap_or(0) > 0))
        .and_then(|f| f["name"].as_str())
        .ok_or_else(|| anyhow::anyhow!("no file to damage: {manifest}"))?
        .to_owned();
    let path = damaged.join("db").join(&victim);
    let mut bytes = std::fs::read(&path)?;
    bytes[0] ^= 0xff;
    std::fs::write(&path, bytes)?;
    let target = dir.path().join("refused");
    let (ok, said) = restore(&damaged, &target).await?;
    anyhow::ensure!(
        !ok && said.contains("checksum"),
        "a damaged backup was restored: {said}"
    );
    anyhow::ensure!(
        !target.join("CURRENT").exists(),
        "a refused restore wrote a database"
    );

    // The restore, for every member of the new cluster (each data dir starts as its copy).
    let seed = dir.path().join("seed");
    let (ok, said) = restore(&backup, &seed).await?;
    anyhow::ensure!(ok, "restore failed: {said}");
    let (ok, said) = restore(&backup, &seed).await?;
    anyhow::ensure!(
        !ok && said.contains("not empty"),
        "restored over a data dir: {said}"
    );
    let old_id = std::fs::read_to_string(old.node(1).data.join("cluster_id"))?;
    drop(old);

    let new = Cluster::start_from(3, &seed, SHARDS, &top()).await?;
    let messages = pull_all(&new, 2, &q, "_check").await?;
    let seen = counts(&messages);
    // Acked messages were reaped before the backup (the only consumer acked 30); the rest
    // are each there once.
    for i in 0..60 {
        let v = format!("before-{i}");
        let want = (i >= 30).then_some(&1);
        assert_eq!(seen.get(&v), want, "{v}");
    }
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");
    // Publishes during the backup are there or not, each at most once; none is invented.
    assert!(seen
        .keys()
        .all(|v| v.starts_with("before-") || v.starts_with("during-")));
    let (status, dlq) = call(&new, &q, reqwest::Method::GET, "/dlq", None).await?;
    anyhow::ensure!(status == 200, "{status} {dlq}");
    let dead: Vec<&str> = dlq["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["payload"]["v"].as_str())
        .collect();
    assert_eq!(dead, ["before-6"], "{dlq}");
    // Consumer c resumes where it acked.
    let (status, pulled) = call(
        &new,
        &q,
        reqwest::Method::GET,
        "/pull?consumer_id=c&limit=1",
        None,
    )
    .await?;
    anyhow::ensure!(status == 200, "{status} {pulled}");
    assert_eq!(pulled["messages"][0]["seq"], 31, "{pulled}");
    // A new cluster, not the old one's.
    let new_id = std::fs::read_to_string(new.node(1).data.join("cluster_id"))?;
    assert_ne!(new_id.trim(), old_id.trim());
    // And it takes writes.
    let (status, v) = publish(&new, 3, &q, &json!({"v": "after"}), None).await?;
    anyhow::ensure!(status == 201, "{status} {v}");
    Ok(())
}
