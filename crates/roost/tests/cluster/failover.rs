//! Three nodes: forwarding through followers, and killing the leader under concurrent publishes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::{create, publish, pull_all, Queue};
use crate::harness::Cluster;

#[tokio::test]
async fn publish_through_a_follower_is_read_everywhere() -> anyhow::Result<()> {
    let c = Cluster::start(3, 3, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let leader = c.wait_leader(q.shard(), Duration::from_secs(20)).await?;
    let follower = (1..=3).find(|n| *n != leader).unwrap_or(1);
    for i in 0..5 {
        let (status, v) = publish(&c, follower, &q, &json!({"i": i}), None).await?;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["seq"], i + 1);
    }
    // Read-your-writes from every node, leader or not.
    for node in 1..=3 {
        let msgs = pull_all(&c, node, &q, "me").await?;
        let seqs: Vec<u64> = msgs.iter().filter_map(|m| m["seq"].as_u64()).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5], "through node {node}");
    }
    // Shard leaders are spread: with three shards and three nodes, no node leads them all.
    let status = c.status(1).await?;
    let leaders: BTreeSet<u64> = (1..=3)
        .filter_map(|g| status["groups"][g]["leader"].as_u64())
        .collect();
    assert!(leaders.len() >= 2, "leaders not spread: {leaders:?}");
    // Every group shows its members: three voters, no learners.
    for g in 0..=3 {
        assert_eq!(
            status["groups"][g]["voters"],
            serde_json::json!([1, 2, 3]),
            "{status}"
        );
        assert_eq!(
            status["groups"][g]["learners"],
            serde_json::json!([]),
            "{status}"
        );
    }
    Ok(())
}

/// What a client saw acknowledged.
struct Acked {
    client: u64,
    i: u64,
    seq: u64,
    /// Whether the leader had already been killed when this publish was acknowledged.
    after_kill: bool,
}

/// Shared between the clients and the nemesis.
#[derive(Default)]
struct Progress {
    acked: AtomicU64,
    killed: AtomicBool,
}

/// Publishes `count` messages in order, each with its own Idempotency-Key, retrying every
/// failure (connection errors, 503) on the next node until acknowledged or the deadline passes.
async fn client(
    c: &Cluster,
    q: &Queue,
    client: u64,
    count: u64,
    deadline: Instant,
    progress: &Progress,
) -> anyhow::Result<Vec<Acked>> {
    let mut acked = Vec::new();
    let mut node = client % 3 + 1;
    for i in 0..count {
        let body = json!({"client": client, "i": i});
        let key = format!("c{client}-m{i}");
        loop {
            anyhow::ensure!(
                Instant::now() < deadline,
                "client {client} gave up at message {i}"
            );
            match publish(c, node, q, &body, Some(&key)).await {
                Ok((201, v)) => {
                    let seq = v["seq"].as_u64().unwrap_or(0);
                    let after_kill = progress.killed.load(Ordering::SeqCst);
                    acked.push(Acked {
                        client,
                        i,
                        seq,
                        after_kill,
                    });
                    progress.acked.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                // 5xx (no leader yet, outcome unknown) and connection errors: retry elsewhere.
                Ok((status, _)) if status >= 500 => {}
                Ok((status, v)) => anyhow::bail!("unexpected {status}: {v}"),
                Err(_) => {}
            }
            node = node % 3 + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(acked)
}

#[tokio::test]
async fn killing_the_leader_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let leader = c.wait_leader(q.shard(), Duration::from_secs(20)).await?;
    let per_client = 100;
    let deadline = Instant::now() + Duration::from_secs(120);
    let progress = Progress::default();
    let clients = (0..4).map(|n| client(&c, &q, n, per_client, deadline, &progress));
    // Kill the shard leader once a quarter of the publishes are acknowledged.
    let killer = async {
        while progress.acked.load(Ordering::SeqCst) < per_client && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = c.kill(leader);
        progress.killed.store(true, Ordering::SeqCst);
        killed
    };
    let (results, killed) = tokio::join!(futures::future::join_all(clients), killer);
    killed?;
    let acked: Vec<Acked> = results
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(acked.len() as u64, 4 * per_client);
    let after = acked.iter().filter(|a| a.after_kill).count();
    assert!(
        after >= 2 * per_client as usize,
        "the kill came too late: {after} acks after it"
    );

    let new_leader = c.wait_leader(q.shard(), Duration::from_secs(30)).await?;
    assert_ne!(new_leader, leader);
    let survivor = (1..=3).find(|n| *n != leader).unwrap_or(1);
    let msgs = pull_all(&c, survivor, &q, "me").await?;

    // Every message appears exactly once and seqs are 1..=n with no gaps.
    let mut by_payload: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for (idx, m) in msgs.iter().enumerate() {
        let seq = m["seq"].as_u64().unwrap_or(0);
        assert_eq!(seq, idx as u64 + 1, "gap or reorder at {idx}");
        let key = (
            m["payload"]["client"].as_u64().unwrap_or(u64::MAX),
            m["payload"]["i"].as_u64().unwrap_or(u64::MAX),
        );
        assert!(
            by_payload.insert(key, seq).is_none(),
            "duplicate message {key:?}"
        );
    }
    assert_eq!(
        msgs.len(),
        acked.len(),
        "a message was stored that nobody acknowledged twice"
    );
    // Every acknowledged publish is present at the seq it was acknowledged with.
    for a in &acked {
        assert_eq!(
            by_payload.get(&(a.client, a.i)),
            Some(&a.seq),
            "acked publish lost or moved"
        );
    }
    // Each client published in order, so its seqs increase with i (real-time order).
    for client in 0..4 {
        let seqs: Vec<u64> = acked
            .iter()
            .filter(|a| a.client == client)
            .map(|a| a.seq)
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "client {client}: {seqs:?}"
        );
    }

    // The killed node comes back and catches up from the log.
    c.spawn(leader)?;
    c.wait_ready(Duration::from_secs(30)).await?;
    let msgs_again = pull_all(&c, leader, &q, "me").await?;
    assert_eq!(msgs_again.len(), msgs.len());
    Ok(())
}

#[tokio::test]
async fn idempotency_and_dead_letters_survive_leader_failover() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let leader = c.wait_leader(q.shard(), Duration::from_secs(20)).await?;
    let survivor = (1..=3).find(|n| *n != leader).unwrap_or(1);
    let (_, first) = publish(&c, survivor, &q, &json!({"n": 0}), Some("key-0")).await?;
    for n in 1..5 {
        publish(&c, survivor, &q, &json!({"n": n}), None).await?;
    }
    let nack = |node: u64, seq: u64| {
        c.http
            .post(format!("{}/q/{}/nack", c.url(node), q.id))
            .bearer_auth(&q.key)
            .json(&json!({"consumer_id": "me", "seq": seq, "error": "poison", "dead_letter": true}))
            .send()
    };
    assert_eq!(nack(survivor, 1).await?.status(), 200);

    c.kill(leader)?;
    c.wait_leader(q.shard(), Duration::from_secs(30)).await?;

    // The idempotency record moved with the log: the same key and body answer the original.
    let r = c
        .http
        .post(format!("{}/q/{}/publish", c.url(survivor), q.id))
        .bearer_auth(&q.key)
        .header("Idempotency-Key", "key-0")
        .json(&json!({"n": 0}))
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = r.json().await?;
    assert_eq!(
        (again["seq"].clone(), again["id"].clone()),
        (first["seq"].clone(), first["id"].clone())
    );
    assert_eq!(
        publish(&c, survivor, &q, &json!({"n": 99}), Some("key-0"))
            .await?
            .0,
        422
    );

    // Dead-lettering stays exactly once across the failover.
    let v: serde_json::Value = nack(survivor, 1).await?.json().await?;
    assert_eq!(
        (v["dead_lettered"].clone(), v["nack_count"].clone()),
        (json!(true), json!(2))
    );
    assert_eq!(nack(survivor, 2).await?.status(), 200);
    let dlq: serde_json::Value = c
        .http
        .get(format!("{}/q/{}/dlq", c.url(survivor), q.id))
        .bearer_auth(&q.key)
        .send()
        .await?
        .json()
        .await?;
    let seqs: Vec<u64> = dlq["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["seq"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(seqs, vec![1, 2], "{dlq}");
    Ok(())
}
