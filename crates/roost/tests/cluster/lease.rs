//! The leader lease: a steady leader answers reads without a round of heartbeats, and a
//! leader cut off from its quorum stops answering them before the majority can elect
//! another leader and write.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::{create, publish, Queue};
use crate::harness::Cluster;
use crate::metrics::scrape;

/// A read through the cut-off leader: when it was sent, what it saw (`None`: no answer).
type Read = (Instant, Option<Vec<Value>>);

/// One pull of up to 100 messages through `node`, given up after `within`: the messages'
/// values, or `None` when the node did not answer 200 in time.
async fn pull(c: &Cluster, node: u64, q: &Queue, within: Duration) -> Option<Vec<Value>> {
    let url = format!(
        "{}/q/{}/pull?consumer_id=c&cursor=0&limit=100",
        c.url(node),
        q.id
    );
    let sent = c.http.get(url).bearer_auth(&q.key).timeout(within).send();
    let resp = sent.await.ok().filter(|r| r.status() == 200)?;
    let v: Value = resp.json().await.ok()?;
    let msgs = v["messages"].as_array()?;
    Some(msgs.iter().map(|m| m["payload"].clone()).collect())
}

/// A queue holding `{"n": 1}`, and its shard's leader.
async fn one_message(c: &Cluster) -> anyhow::Result<(Queue, u64)> {
    let q = create(c, 1, &["c"]).await?;
    let leader = c.wait_leader(q.shard(), Duration::from_secs(20)).await?;
    let (status, _) = publish(c, leader, &q, &json!({"n": 1}), None).await?;
    anyhow::ensure!(status == 201, "publish through the leader: {status}");
    Ok((q, leader))
}

#[tokio::test]
async fn a_steady_leader_answers_reads_by_its_lease() -> anyhow::Result<()> {
    let c = Cluster::start(3, 1, "").await?;
    let (q, leader) = one_message(&c).await?;
    let checks = |s: &crate::metrics::Scrape, by| s.sum("roost_read_checks_total", &[("by", by)]);
    let before = scrape(&c, leader).await?;
    for _ in 0..20 {
        let got = pull(&c, leader, &q, Duration::from_secs(10)).await;
        assert_eq!(got, Some(vec![json!({"n": 1})]));
    }
    let after = scrape(&c, leader).await?;
    let by_lease = checks(&after, "lease") - checks(&before, "lease");
    let by_quorum = checks(&after, "quorum") - checks(&before, "quorum");
    // Heartbeats renew the lease every 100 ms and it lasts 600 ms; only a machine that
    // stalls the nodes that long makes a read fall back to a round of heartbeats.
    assert!(
        by_lease >= 15.0,
        "20 sequential reads on a steady leader: {by_lease} by lease, {by_quorum} by quorum"
    );
    Ok(())
}

#[tokio::test]
async fn a_leader_cut_off_serves_no_read_after_the_majority_has_written() -> anyhow::Result<()> {
    let c = Cluster::start_isolated(3, 1, "").await?;
    let (q, old) = one_message(&c).await?;
    let others: Vec<u64> = (1..=3).filter(|n| *n != old).collect();
    let net = c.net()?;
    net.partition(&[old])?;
    let cut = Instant::now();

    // Reads through the old leader, each recorded with when it was sent and what it saw.
    let reads: Arc<Mutex<Vec<Read>>> = Arc::default();
    let written: Arc<Mutex<Option<Instant>>> = Arc::default();
    let reader = {
        let (c, q, reads, written) = (&c, &q, reads.clone(), written.clone());
        async move {
            // Bounded: until two seconds after the majority's write, at most 30 s in all.
            let deadline = cut + Duration::from_secs(30);
            while Instant::now() < deadline {
                let done = *written.lock().unwrap_or_else(|e| e.into_inner());
                if done.is_some_and(|w| w.elapsed() > Duration::from_secs(2)) {
                    break;
                }
                let sent = Instant::now();
                let got = pull(c, old, q, Duration::from_millis(300)).await;
                reads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((sent, got));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // The majority elects a leader of its own and writes through it.
    let writer = async {
        let deadline = cut + Duration::from_secs(25);
        while Instant::now() < deadline {
            for node in &others {
                let leads = c.leader_of(*node, q.shard()).await.ok().flatten();
                if leads.is_some_and(|l| l != old) {
                    let (status, _) = publish(&c, *node, &q, &json!({"n": 2}), None).await?;
                    if status == 201 {
                        *written.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the majority wrote nothing within 25 s of the cut")
    };
    let (_, wrote) = tokio::join!(reader, writer);
    net.heal()?;
    wrote?;
    let written = written
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or_else(|| anyhow::anyhow!("no write recorded"))?;
    let reads = reads.lock().unwrap_or_else(|e| e.into_inner());
    let stale: Vec<_> = reads
        .iter()
        .filter(|(sent, got)| *sent > written && got.is_some())
        .collect();
    assert!(
        stale.is_empty(),
        "the cut-off leader answered {} read(s) sent after the majority's write was acknowledged \
         ({:?} after the cut), the first saw {:?}",
        stale.len(),
        written - cut,
        stale[0].1
    );
    let answered = reads.iter().filter(|(_, got)| got.is_some()).count();
    assert!(
        reads.len() > answered,
        "the old leader never stopped answering: {answered} reads"
    );
    Ok(())
}
