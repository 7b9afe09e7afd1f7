//! The client gRPC API: unary publish, a publish stream with many in flight, pull, ack, and a
//! pull stream that follows the queue.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context;
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
    // A wait past 30 s is refused, as over HTTP.
    let too_long = client
        .pull(authed(
            pb::PullRequest {
                queue_id: q.id.clone(),
                consumer_id: "me".into(),
                wait_secs: 31,
                ..Default::default()
            },
            &q.key,
        )?)
        .await
        .expect_err("wait past 30 s");
    assert_eq!(too_long.code(), tonic::Code::InvalidArgument);
    assert!(
        too_long.message().starts_with("invalid_wait: "),
        "{too_long:?}"
    );
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

    // The stream now waits on node 2; when the client goes, so does the wait.
    let waiters = || async {
        let status: serde_json::Value = c
            .http
            .get(format!("{}/cluster", c.url(2)))
            .send()
            .await?
            .json()
            .await?;
        status["waiters"].as_u64().context("waiters")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while waiters().await? == 0 {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the stream is not waiting"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(follow);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while waiters().await? > 0 {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "a cancelled pull stream still waits"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The publish stream's window under a client that reads nothing for a while: more publishes
/// than the window, a refusal among them, every one answered once, and the stream ends after
/// the last reply. A stream without a key fails at once.
#[tokio::test]
async fn a_publish_stream_past_its_window_answers_every_publish_once() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    // A small receive window, so the replies the client leaves unread fill the server's side.
    let channel = tonic::transport::Endpoint::from_shared(c.node(1).grpc.clone())?
        .initial_stream_window_size(Some(4096))
        .connect()
        .await?;
    let mut client = QueuesClient::new(channel);
    let keyless = client
        .publish_stream(tonic::Request::new(futures::stream::iter(Vec::<
            pb::PublishRequest,
        >::new())))
        .await
        .expect_err("no key");
    assert_eq!(keyless.code(), tonic::Code::Unauthenticated, "{keyless:?}");

    const N: u64 = 20_000;
    let requests = (1..=N).map(move |i| pb::PublishRequest {
        // One request names no queue of this key: refused on its own.
        queue_id: if i == 7 { "nope".into() } else { q.id.clone() },
        payload: format!("{{\"n\":{i}}}").into_bytes(),
        correlation: i,
        ..Default::default()
    });
    let mut replies = client
        .publish_stream(authed(futures::stream::iter(requests), &q.key)?)
        .await?
        .into_inner();
    // Read nothing for a while: the server stops reading once its window is full.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut correlations, mut refused) = (BTreeSet::new(), Vec::new());
    while let Some(r) = tokio::time::timeout(Duration::from_secs(60), replies.next()).await? {
        let r = r?;
        assert!(correlations.insert(r.correlation), "answered twice: {r:?}");
        if r.error.is_some() {
            refused.push(r.correlation);
        }
    }
    assert_eq!(correlations, (1..=N).collect());
    assert_eq!(refused, vec![7]);
    Ok(())
}

#[tokio::test]
async fn queue_management_and_dead_letters_over_grpc() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let mut client = QueuesClient::connect(c.node(3).grpc.clone()).await?;

    // Bad input is refused with the HTTP API's code and creates nothing.
    let bad = client
        .create_queue(pb::CreateQueueRequest {
            consumers: vec!["has space".into()],
            max_deliveries: 0,
        })
        .await
        .expect_err("invalid consumer id");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("invalid_consumer_id:"), "{bad:?}");
    let bad = client
        .create_queue(pb::CreateQueueRequest {
            consumers: vec![],
            max_deliveries: 101,
        })
        .await
        .expect_err("too many deliveries");
    assert!(bad.message().starts_with("invalid_max_deliveries:"));

    let made = client
        .create_queue(pb::CreateQueueRequest {
            consumers: vec!["a".into()],
            max_deliveries: 2,
        })
        .await?
        .into_inner();
    assert!(made.queue_api_key.starts_with("qk_"));
    assert_eq!(made.consumers, vec!["a"]);
    let (id, key) = (made.queue_id.clone(), made.queue_api_key.clone());
    let q = |id: &str| pb::QueueRef {
        queue_id: id.to_owned(),
    };

    // The queue is usable over HTTP too: one key, one queue.
    let http = reqwest::Client::new()
        .post(format!("{}/q/{id}/publish", c.node(1).http))
        .bearer_auth(&key)
        .body(r#"{"job":1}"#)
        .send()
        .await?;
    assert!(http.status().is_success(), "{}", http.status());
    for i in 2..=3 {
        client
            .publish(authed(
                pb::PublishRequest {
                    queue_id: id.clone(),
                    payload: format!("{{\"job\":{i}}}").into_bytes(),
                    ..Default::default()
                },
                &key,
            )?)
            .await?;
    }
    let info = client.get_queue(authed(q(&id), &key)?).await?.into_inner();
    assert_eq!(
        (info.head_seq, info.message_count, info.max_deliveries),
        (3, 3, 2)
    );
    assert_eq!(info.consumers[0].consumer_id, "a");
    assert_eq!(info.consumers[0].lag, 3);
    let denied = client
        .get_queue(authed(q(&id), "qk_wrong")?)
        .await
        .expect_err("wrong key");
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);

    // Roster: b joins at the head.
    let roster = client
        .set_consumers(authed(
            pb::SetConsumersRequest {
                queue_id: id.clone(),
                add: vec!["b".into()],
                remove: vec![],
            },
            &key,
        )?)
        .await?
        .into_inner();
    let b = roster
        .consumers
        .iter()
        .find(|c| c.consumer_id == "b")
        .expect("b registered");
    assert_eq!((b.cursor, b.lag), (3, 0));

    // Two failures dead-letter seq 1 (max_deliveries 2); an explicit dead_letter moves seq 2.
    let first = client
        .nack(authed(nack(&id, 1, false), &key)?)
        .await?
        .into_inner();
    assert_eq!((first.nack_count, first.dead_lettered), (1, false));
    let second = client
        .nack(authed(nack(&id, 1, false), &key)?)
        .await?
        .into_inner();
    assert!(second.dead_lettered);
    client.nack(authed(nack(&id, 2, true), &key)?).await?;
    let past = client
        .nack(authed(nack(&id, 99, false), &key)?)
        .await
        .expect_err("past head");
    assert!(past.message().starts_with("seq_out_of_range:"), "{past:?}");

    let page = client
        .list_dead_letters(authed(
            pb::DeadLettersRequest {
                queue_id: id.clone(),
                cursor: 0,
                limit: 1,
            },
            &key,
        )?)
        .await?
        .into_inner();
    assert_eq!(page.messages.len(), 1);
    assert!(page.has_more);
    let dead = page.messages[0].envelope.clone().expect("envelope");
    assert_eq!(dead.seq, 1);
    assert_eq!(page.messages[0].nack_count, 2);
    let rest = client
        .list_dead_letters(authed(
            pb::DeadLettersRequest {
                queue_id: id.clone(),
                cursor: page.next_cursor,
                limit: 0,
            },
            &key,
        )?)
        .await?
        .into_inner();
    assert_eq!(rest.messages.len(), 1);
    assert!(!rest.has_more);

    let replayed = client
        .replay_dead_letter(authed(
            pb::ReplayRequest {
                queue_id: id.clone(),
                dlq_msg_id: dead.id.clone(),
            },
            &key,
        )?)
        .await?
        .into_inner();
    assert_eq!((replayed.seq, replayed.source.as_str()), (4, "dlq-replay"));
    assert_eq!(replayed.payload, dead.payload);

    let gone = client
        .delete_queue(authed(q(&id), &key)?)
        .await?
        .into_inner();
    assert!(gone.deleted);
    let missing = client
        .get_queue(authed(q(&id), &key)?)
        .await
        .expect_err("deleted");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    Ok(())
}

fn nack(queue: &str, seq: u64, dead_letter: bool) -> pb::NackRequest {
    pb::NackRequest {
        queue_id: queue.to_owned(),
        consumer_id: "a".into(),
        seq,
        error: "boom".into(),
        dead_letter,
    }
}

#[tokio::test]
async fn a_publish_batch_over_grpc_answers_each_message_in_order() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let leader = c.wait_leader(q.shard(), Duration::from_secs(10)).await?;
    let follower = (1..=3).find(|n| *n != leader).context("a follower")?;
    let mut client = QueuesClient::connect(c.node(follower).grpc.clone()).await?;
    let message = |payload: &str, key: &str| pb::BatchMessage {
        payload: payload.as_bytes().to_vec(),
        idempotency_key: key.into(),
    };
    let batch = |messages: Vec<pb::BatchMessage>| pb::PublishBatchRequest {
        queue_id: q.id.clone(),
        messages,
    };
    let first: Vec<pb::BatchMessage> = (0..30)
        .map(|i| message(&format!(r#"{{"i":{i}}}"#), &format!("k{i}")))
        .collect();
    let answer = client.publish_batch(authed(batch(first), &q.key)?).await?;
    // Sent through a follower: the reply names the leader it was forwarded to.
    let hint = answer
        .metadata()
        .get("roost-leader")
        .and_then(|v| v.to_str().ok());
    assert_eq!(hint, Some(leader.to_string().as_str()));
    let replies = answer.into_inner().replies;
    let seqs: Vec<(u64, u64)> = replies.iter().map(|r| (r.correlation, r.seq)).collect();
    assert_eq!(seqs, (0..30).map(|i| (i, i + 1)).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.error.is_none() && !r.replayed));

    // A repeat answers its first publish, a reused key is refused alone, the rest goes in.
    let second = vec![
        message(r#"{"i":0}"#, "k0"),
        message(r#"{"i":"other"}"#, "k1"),
        message(r#"{"new":1}"#, ""),
    ];
    // At the leader itself: no hint.
    let mut at_leader = QueuesClient::connect(c.node(leader).grpc.clone()).await?;
    let answer = at_leader
        .publish_batch(authed(batch(second), &q.key)?)
        .await?;
    assert!(answer.metadata().get("roost-leader").is_none());
    let replies = answer.into_inner().replies;
    assert_eq!((replies[0].seq, replies[0].replayed), (1, true));
    let refused = replies[1].error.as_ref().context("k1 refused")?;
    assert_eq!(refused.code, "idempotency_key_reused");
    assert_eq!((replies[2].correlation, replies[2].seq), (2, 31));

    // A malformed message refuses the whole batch; so does a wrong key. Nothing is published.
    let bad = client
        .publish_batch(authed(
            batch(vec![message("{}", ""), message("{", "")]),
            &q.key,
        )?)
        .await
        .expect_err("malformed");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().starts_with("invalid_json: messages[1]"),
        "{bad:?}"
    );
    let wrong = client
        .publish_batch(authed(batch(vec![message("{}", "")]), "qk_wrong")?)
        .await
        .expect_err("wrong key");
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    let info = client
        .get_queue(authed(
            pb::QueueRef {
                queue_id: q.id.clone(),
            },
            &q.key,
        )?)
        .await?
        .into_inner();
    assert_eq!(info.head_seq, 31);
    Ok(())
}
