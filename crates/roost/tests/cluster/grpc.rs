//! The client gRPC API: unary publish, a publish stream with many in flight, pull, ack, and a
//! pull stream that follows the queue.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use roost_grpc::pb;
use roost_grpc::pb::queues_client::QueuesClient;

use crate::api::create;
use crate::harness::Cluster;

fn authed<T>(msg: T, key: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse()?);
    Ok(req)
}

#[tokio::test]
async fn publish_stream_pull_and_ack_over_grpc() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let mut client = QueuesClient::connect(c.node(2).grpc.clone()).await?;

    let one = client
        .publish(authed(
            pb::PublishRequest {
                queue_id: q.id.clone(),
                payload: br#"{"n":0}"#.to_vec(),
                ..Default::default()
            },
            &q.key,
        )?)
        .await?
        .into_inner();
    assert_eq!(one.seq, 1);
    let denied = client
        .publish(authed(
            pb::PublishRequest {
                queue_id: q.id.clone(),
                payload: b"{}".to_vec(),
                ..Default::default()
            },
            "qk_wrong",
        )?)
        .await
        .expect_err("wrong key");
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);

    // 200 publishes in flight on one stream, every one acknowledged with a distinct seq.
    let requests: Vec<pb::PublishRequest> = (1..=200u64)
        .map(|i| pb::PublishRequest {
            queue_id: q.id.clone(),
            payload: format!("{{\"n\":{i}}}").into_bytes(),
            idempotency_key: format!("k{i}"),
            correlation: i,
        })
        .collect();
    let mut replies = client
        .publish_stream(authed(futures::stream::iter(requests), &q.key)?)
        .await?
        .into_inner();
    let mut seqs = BTreeSet::new();
    let mut correlations = BTreeSet::new();
    while let Some(r) = tokio::time::timeout(Duration::from_secs(30), replies.next()).await? {
        let r = r?;
        assert!(r.error.is_none(), "{r:?}");
        seqs.insert(r.seq);
        correlations.insert(r.correlation);
        if correlations.len() == 200 {
            break;
        }
    }
    assert_eq!(seqs, (2..=201).collect());

    let page = client
        .pull(authed(
            pb::PullRequest {
                queue_id: q.id.clone(),
                consumer_id: "me".into(),
                limit: 1000,
                ..Default::default()
            },
            &q.key,
        )?)
        .await?
        .into_inner();
    assert_eq!(page.messages.len(), 201);
    assert_eq!(page.messages[0].payload, br#"{"n":0}"#.to_vec());
    let acked = client
        .ack(authed(
            pb::AckRequest {
                queue_id: q.id.clone(),
                consumer_id: "me".into(),
                cursor: 201,
            },
            &q.key,
        )?)
        .await?
        .into_inner();
    assert_eq!(acked.cursor, 201);

    // The pull stream follows the queue: a message published later arrives on it.
    let mut follow = client
        .pull_stream(authed(
            pb::PullRequest {
                queue_id: q.id.clone(),
                consumer_id: "me".into(),
                ..Default::default()
            },
            &q.key,
        )?)
        .await?
        .into_inner();
    let mut publisher = QueuesClient::connect(c.node(3).grpc.clone()).await?;
    publisher
        .publish(authed(
            pb::PublishRequest {
                queue_id: q.id.clone(),
                payload: br#"{"late":true}"#.to_vec(),
                ..Default::default()
            },
            &q.key,
        )?)
        .await?;
    let got = tokio::time::timeout(Duration::from_secs(15), follow.next())
        .await?
        .transpose()?;
    assert_eq!(got.map(|e| e.seq), Some(202));
    Ok(())
}
