//! A node that was down while the log was compacted catches up by snapshot install.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::{create, publish, pull_all};
use crate::harness::Cluster;

#[tokio::test]
async fn restarted_node_installs_a_snapshot_and_serves_after_catching_up() -> anyhow::Result<()> {
    // Snapshot every 20 entries and keep only 5 behind it, so a node that misses 150 entries
    // cannot catch up from the log alone.
    let raft = "snapshot_after_entries = 20\nkeep_entries_after_snapshot = 5";
    let c = Cluster::start(3, 1, raft).await?;
    let q = create(&c, 1, &["me"]).await?;
    let leader = c.wait_leader(q.shard(), Duration::from_secs(20)).await?;
    let (_, first) = publish(&c, leader, &q, &json!({"i": 0}), Some("first")).await?;
    for i in 1..10 {
        assert_eq!(
            publish(&c, leader, &q, &json!({"i": i}), None).await?.0,
            201
        );
    }
    let lagging = (1..=3).find(|n| *n != leader).unwrap_or(1);
    let before = c.status(lagging).await?;
    let lagging_last = before["groups"][1]["last_log_index"].as_u64().unwrap_or(0);
    c.kill(lagging)?;

    for i in 10..160 {
        let (status, v) = publish(&c, leader, &q, &json!({"i": i}), None).await?;
        assert_eq!(status, 201, "{v}");
    }
    // The leader has purged entries the lagging node never received.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = c.status(leader).await?;
        if s["groups"][1]["purged_index"].as_u64().unwrap_or(0) > lagging_last {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "leader never purged: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    c.spawn(lagging)?;
    c.wait_ready(Duration::from_secs(30)).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let leader_applied = c.status(leader).await?["groups"][1]["applied_index"].as_u64();
        let s = c.status(lagging).await?;
        let g = &s["groups"][1];
        if g["applied_index"].as_u64() >= leader_applied && g["queues"] == 1 {
            assert!(
                g["snapshot_index"].as_u64().unwrap_or(0) > lagging_last,
                "no snapshot: {g}"
            );
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "lagging node did not catch up: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Now lose the old leader: the caught-up node and the third one must serve everything.
    c.kill(leader)?;
    c.wait_leader(q.shard(), Duration::from_secs(30)).await?;
    let msgs = pull_all(&c, lagging, &q, "me").await?;
    let seen: Vec<u64> = msgs
        .iter()
        .filter_map(|m| m["payload"]["i"].as_u64())
        .collect();
    assert_eq!(seen, (0..160).collect::<Vec<_>>());
    // Idempotency records travelled in the snapshot too.
    let (status, again) = publish(&c, lagging, &q, &json!({"i": 0}), Some("first")).await?;
    assert_eq!((status, again["seq"].clone()), (201, first["seq"].clone()));
    Ok(())
}
