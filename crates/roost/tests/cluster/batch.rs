//! `POST /q/{id}/publish/batch` on three nodes: curl through a follower (the batch forwarded
//! to the shard's leader) and `roost-client` at the leader, the order kept in consecutive seqs,
//! each message's own outcome, and refusals that change nothing.

use anyhow::Context;
use roost_client::wire::{BatchMessage, BatchResult, Doc, PublishBatch, Pull};
use roost_client::Client;
use serde_json::{json, Value};

use crate::api::create;
use crate::harness::Cluster;

/// `curl -X POST` of `body` to `url` with `key`: the status and the JSON reply.
async fn curl(url: &str, key: &str, body: &str) -> anyhow::Result<(u16, Value)> {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "-X", "POST", url, "-H"])
        .arg(format!("Authorization: Bearer {key}"))
        .args(["-H", "Content-Type: application/json", "-d", body])
        .args(["-w", "\n%{http_code}"])
        .output()
        .await
        .context("running curl")?;
    anyhow::ensure!(out.status.success(), "curl: {out:?}");
    let text = String::from_utf8(out.stdout)?;
    let (json, status) = text.rsplit_once('\n').context("no status line")?;
    Ok((status.trim().parse()?, serde_json::from_str(json)?))
}

/// The seqs of stored results, in order; fails on any other outcome.
fn stored(results: &[BatchResult]) -> anyhow::Result<Vec<u64>> {
    results
        .iter()
        .map(|r| match r {
            BatchResult::Stored { seq, .. } => Ok(*seq),
            other => anyhow::bail!("not stored: {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_keeps_its_order_through_a_follower_and_refuses_as_a_whole() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["c"]).await?;
    let leader = c
        .wait_leader(q.shard(), std::time::Duration::from_secs(10))
        .await?;
    let follower = (1..=3).find(|n| *n != leader).context("a follower")?;

    // Through a follower with curl: 100 messages, forwarded, in order.
    let messages: Vec<Value> = (0..100)
        .map(|i| json!({"payload": {"i": i}, "idempotency_key": format!("k{i}")}))
        .collect();
    let url = format!("{}/q/{}/publish/batch", c.url(follower), q.id);
    let (status, reply) = curl(&url, &q.key, &json!({ "messages": messages }).to_string()).await?;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["stored"], 100);
    assert_eq!(reply["queue_id"], q.id.as_str());
    let results: Vec<BatchResult> = serde_json::from_value(reply["results"].clone())?;
    assert_eq!(stored(&results)?, (1..=100).collect::<Vec<u64>>());

    // At the leader with the typed client: repeats answer their first publish, a reused key
    // with another payload is refused on its own, the rest goes in after.
    let client = Client::new(c.url(leader))?;
    let msg = |payload: &str, key: Option<&str>| -> anyhow::Result<BatchMessage> {
        Ok(BatchMessage {
            payload: Doc::parse(payload)?,
            idempotency_key: key.map(str::to_owned),
        })
    };
    let batch = PublishBatch {
        messages: vec![
            msg(r#"{"i":0}"#, Some("k0"))?,
            msg(r#"{"i":"changed"}"#, Some("k1"))?,
            msg(r#"{"new":true}"#, None)?,
        ],
    };
    let reply = client.publish_batch(&q.id, &q.key, &batch).await?;
    assert_eq!(reply.stored, 2);
    match &reply.results[..] {
        [BatchResult::Stored {
            seq: 1,
            idempotent_replayed: true,
            ..
        }, BatchResult::Refused(refused), BatchResult::Stored {
            seq: 101,
            idempotent_replayed: false,
            ..
        }] if refused.code == "idempotency_key_reused" => {}
        other => anyhow::bail!("unexpected outcomes {other:?}"),
    }
    let pull = Pull {
        consumer_id: "c".into(),
        cursor: Some(0),
        limit: Some(1000),
        ..Pull::default()
    };
    let pulled = client.pull(&q.id, &q.key, &pull).await?;
    let payloads: Vec<&str> = pulled.messages.iter().map(|m| m.payload.get()).collect();
    let mut expected: Vec<String> = (0..100).map(|i| json!({"i": i}).to_string()).collect();
    expected.push(r#"{"new":true}"#.into());
    assert_eq!(payloads, expected);

    // Refusals of the whole batch, with nothing published: a bad message (named), no messages,
    // a wrong key, a body that is not the batch.
    let bad = json!({"messages": [{"payload": {"ok": 1}}, {"payload": {"ok": 2}, "idempotency_key": "has space"}]});
    for (body, key, code, want) in [
        (
            bad.to_string(),
            q.key.as_str(),
            "invalid_idempotency_key",
            400,
        ),
        (
            json!({"messages": []}).to_string(),
            &q.key,
            "invalid_field",
            400,
        ),
        (
            json!({"messages": [{"payload": 1}]}).to_string(),
            "qk_wrong",
            "invalid_api_key",
            401,
        ),
        (
            json!({"payload": 1}).to_string(),
            &q.key,
            "invalid_json",
            400,
        ),
    ] {
        let (status, reply) = curl(&url, key, &body).await?;
        assert_eq!(
            (status, reply["code"].as_str()),
            (want, Some(code)),
            "{body}: {reply}"
        );
        assert!(reply["_help"].is_string(), "{reply}");
    }
    let (_, reply) = curl(&url, &q.key, &bad.to_string()).await?;
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("messages[1]")),
        "{reply}"
    );
    let info = client.get_queue(&q.id, &q.key).await?;
    assert_eq!(info.head_seq, 101);
    Ok(())
}
