//! Queues: every operation and its refusals.

use std::time::Duration;

use roost_api::{
    CreateQueue, ErrorCode, Nack, OriginsField, Published, Pull, QueueRef, Replayed, Settings,
};
use roost_state::{Origins, QueueCaps};

use crate::harness::{env, env_with, queue, refused};

fn pull(consumer: &str) -> Pull {
    Pull {
        consumer_id: consumer.into(),
        ..Pull::default()
    }
}

/// Publishes `payload`, expecting it stored; answers its seq.
async fn publish(env: &crate::harness::Env, q: &QueueRef, payload: &str) -> anyhow::Result<u64> {
    match env.api.publish(q, None, payload.as_bytes(), None).await? {
        Published::Stored { seq, .. } => Ok(seq),
        other => anyhow::bail!("not stored: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_is_created_with_a_key_and_refuses_other_keys() -> anyhow::Result<()> {
    let env = env().await?;
    let created = env
        .api
        .create_queue(
            None,
            CreateQueue {
                consumers: vec!["me".into()],
                ..CreateQueue::default()
            },
        )
        .await?;
    let key = &created.key;
    assert!(key.starts_with("qk_") && key.len() == 3 + 64, "{key}");
    assert!(key[3..].bytes().all(|b| b.is_ascii_hexdigit()));
    let id = created.queue.id.as_str().to_owned();
    let q = env.api.queue_ref(&id, Some(key))?;
    assert_eq!(env.api.get_queue(&q).await?.consumers.len(), 1);

    refused(env.api.queue_ref(&id, None), ErrorCode::MissingApiKey);
    refused(env.api.queue_ref(&id, Some(" ")), ErrorCode::MissingApiKey);
    refused(
        env.api.queue_ref("q_nope", Some(key)),
        ErrorCode::QueueNotFound,
    );
    let other_shard = id.replacen("q_01", "q_09", 1).replacen("q_02", "q_09", 1);
    refused(
        env.api.queue_ref(&other_shard, Some(key)),
        ErrorCode::QueueNotFound,
    );
    let wrong = env.api.queue_ref(&id, Some("qk_wrong"))?;
    refused(env.api.get_queue(&wrong).await, ErrorCode::InvalidApiKey);
    refused(
        env.api.publish(&wrong, None, b"{}", None).await,
        ErrorCode::InvalidApiKey,
    );
    assert_eq!(
        env.api.get_queue(&q).await?.head_seq,
        0,
        "nothing was stored"
    );

    env.api.delete_queue(&q).await?;
    refused(env.api.get_queue(&q).await, ErrorCode::QueueNotFound);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_creates_are_refused_and_keyless_creates_are_limited_per_address() -> anyhow::Result<()>
{
    let settings = Settings {
        creates_per_minute: 2,
        ..Settings::default()
    };
    let env = env_with(settings, None).await?;
    let create = |consumers: Vec<String>, max_deliveries, origins| CreateQueue {
        consumers,
        max_deliveries,
        allowed_origins: origins,
    };
    let cases = [
        (
            create(vec!["a b".into()], None, None),
            ErrorCode::InvalidConsumerId,
        ),
        (
            create(vec!["c".into(); 101], None, None),
            ErrorCode::TooManyConsumersInRequest,
        ),
        (
            create(vec![], Some(0), None),
            ErrorCode::InvalidMaxDeliveries,
        ),
        (
            create(vec![], Some(101), None),
            ErrorCode::InvalidMaxDeliveries,
        ),
        (
            create(
                vec![],
                None,
                Some(OriginsField::One("not an origin".into())),
            ),
            ErrorCode::InvalidOrigin,
        ),
    ];
    for (req, code) in cases {
        refused(env.api.create_queue(None, req).await, code);
    }
    let star = create(vec![], None, Some(OriginsField::Many(vec!["*".into()])));
    let any = env.api.create_queue(None, star).await?;
    assert_eq!(any.queue.settings.allowed_origins, Origins::Any);

    let addr = Some("10.9.8.7".parse()?);
    env.api.create_queue(addr, CreateQueue::default()).await?;
    env.api.create_queue(addr, CreateQueue::default()).await?;
    refused(
        env.api.create_queue(addr, CreateQueue::default()).await,
        ErrorCode::RateLimited,
    );
    env.api
        .create_queue(Some("10.9.8.6".parse()?), CreateQueue::default())
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_published_pulled_and_acked_byte_for_byte() -> anyhow::Result<()> {
    let env = env().await?;
    let q = queue(&env, &[], None).await?;

    let body = br#"{"n": 1e400, "s": "\u00e9"}"#;
    let first = env.api.publish(&q, None, body, Some("k1".into())).await?;
    let Published::Stored { seq, replayed, .. } = first else {
        anyhow::bail!("{first:?}");
    };
    assert_eq!((seq, replayed), (1, false));
    let again = env.api.publish(&q, None, body, Some("k1".into())).await?;
    assert!(
        matches!(
            again,
            Published::Stored {
                seq: 1,
                replayed: true,
                ..
            }
        ),
        "{again:?}"
    );
    refused(
        env.api.publish(&q, None, b"[2]", Some("k1".into())).await,
        ErrorCode::IdempotencyKeyReused,
    );
    refused(
        env.api.publish(&q, None, b"{", None).await,
        ErrorCode::InvalidJson,
    );
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    refused(
        env.api.publish(&q, None, deep.as_bytes(), None).await,
        ErrorCode::InvalidJson,
    );
    let big = format!("\"{}\"", "x".repeat(256 * 1024));
    refused(
        env.api.publish(&q, None, big.as_bytes(), None).await,
        ErrorCode::PayloadTooLarge,
    );
    refused(
        env.api.publish(&q, None, b"{}", Some("a key".into())).await,
        ErrorCode::InvalidIdempotencyKey,
    );

    let page = env.api.pull(&q, None, pull("me")).await?;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].payload.as_bytes(), body);
    assert_eq!((page.cursor, page.next_cursor, page.limit), (0, 1, 10));
    for (limit, wait, code) in [
        (Some(0), None, ErrorCode::InvalidLimit),
        (Some(1001), None, ErrorCode::InvalidLimit),
        (None, Some(31), ErrorCode::InvalidWait),
    ] {
        let bad = Pull {
            limit,
            wait,
            ..pull("me")
        };
        refused(env.api.pull(&q, None, bad).await, code);
    }
    refused(
        env.api.pull(&q, None, pull("")).await,
        ErrorCode::InvalidConsumerId,
    );

    assert_eq!(env.api.ack(&q, "me", 1).await?, 1);
    assert_eq!(
        env.api.ack(&q, "me", 0).await?,
        1,
        "a lower cursor changes nothing"
    );
    refused(env.api.ack(&q, "me", 9).await, ErrorCode::CursorPastHead);
    refused(
        env.api.ack(&q, "no way", 1).await,
        ErrorCode::InvalidConsumerId,
    );

    // A long poll ends when a message arrives.
    let (api, q2) = (env.api.clone(), q.clone());
    let waiting = tokio::spawn(async move {
        let req = Pull {
            wait: Some(10),
            ..pull("me")
        };
        api.pull(&q2, Some("10.0.0.1".parse()?), req)
            .await
            .map_err(anyhow::Error::from)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    publish(&env, &q, "[2]").await?;
    let page = tokio::time::timeout(Duration::from_secs(5), waiting).await???;
    assert_eq!(page.messages.first().map(|m| m.seq), Some(2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_go_to_the_dead_letter_queue_and_replay_from_it() -> anyhow::Result<()> {
    let env = env().await?;
    let q = queue(&env, &["me"], Some(2)).await?;
    let seq = publish(&env, &q, r#"{"job": 1}"#).await?;
    let nack = |dead_letter| Nack {
        consumer_id: "me".into(),
        seq,
        error: "boom".into(),
        dead_letter,
    };
    let first = env.api.nack(&q, nack(false)).await?;
    assert_eq!((first.nack_count, first.dead_lettered), (1, false));
    let second = env.api.nack(&q, nack(false)).await?;
    assert!(
        second.dead_lettered,
        "max_deliveries failures dead-letter it"
    );
    refused(
        env.api
            .nack(
                &q,
                Nack {
                    seq: 99,
                    ..nack(false)
                },
            )
            .await,
        ErrorCode::SeqOutOfRange,
    );
    refused(
        env.api
            .nack(
                &q,
                Nack {
                    error: "e".repeat(4097),
                    ..nack(false)
                },
            )
            .await,
        ErrorCode::InvalidError,
    );

    let page = env.api.dead_letters(&q, None, None).await?;
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].1.last_error, "boom");
    refused(
        env.api.dead_letters(&q, None, Some(1001)).await,
        ErrorCode::InvalidLimit,
    );
    let id = page.rows[0].1.envelope.id.clone();
    let Replayed::Done(envelope) = env.api.replay(&q, None, &id).await? else {
        anyhow::bail!("over quota without quotas");
    };
    assert_eq!(envelope.payload, r#"{"job": 1}"#);
    assert!(envelope.seq > seq);
    refused(
        env.api.replay(&q, None, "qm_nope").await,
        ErrorCode::DlqMessageNotFound,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_and_origins_are_capped_per_request_and_per_queue() -> anyhow::Result<()> {
    let settings = Settings {
        queue_caps: QueueCaps {
            max_consumers: 2,
            max_origins: 1,
        },
        ..Settings::default()
    };
    let env = env_with(settings, None).await?;
    let q = queue(&env, &[], None).await?;
    let names = |n: usize| (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>();

    let cursors = env.api.change_consumers(&q, &names(2), &[]).await?;
    assert_eq!(cursors.len(), 2);
    refused(
        env.api.change_consumers(&q, &["c9".into()], &[]).await,
        ErrorCode::TooManyConsumers,
    );
    refused(
        env.api.change_consumers(&q, &names(101), &[]).await,
        ErrorCode::TooManyConsumersInRequest,
    );
    let cursors = env.api.change_consumers(&q, &[], &["c0".into()]).await?;
    assert_eq!(cursors.keys().collect::<Vec<_>>(), ["c1"]);

    let origin = "https://app.example".to_owned();
    let origins = env
        .api
        .change_origins(&q, std::slice::from_ref(&origin), &[])
        .await?;
    assert!(origins.allows(&origin));
    assert!(env.api.queue_origins(q.id.as_str()).await?.allows(&origin));
    refused(
        env.api
            .change_origins(&q, &["https://b.example".into()], &[])
            .await,
        ErrorCode::TooManyOrigins,
    );
    refused(
        env.api.change_origins(&q, &["*".into()], &[]).await,
        ErrorCode::WildcardNotAllowed,
    );
    refused(
        env.api.change_origins(&q, &["ftp:/x".into()], &[]).await,
        ErrorCode::InvalidOrigin,
    );
    refused(
        env.api.queue_origins("q_nope").await,
        ErrorCode::QueueNotFound,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_publishes_in_order_each_message_as_if_alone() -> anyhow::Result<()> {
    let env = env().await?;
    let q = queue(&env, &["c"], None).await?;
    let first = publish(&env, &q, r#"{"before":true}"#).await?;
    let bodies: Vec<String> = (0..50).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
    let messages: Vec<(&[u8], Option<String>)> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (b.as_bytes(), (i % 10 == 0).then(|| format!("k{i}"))))
        .collect();
    let results = env.api.publish_batch(&q, None, &messages).await?;
    let seqs: Vec<u64> = results
        .iter()
        .map(|r| match r {
            Ok(Published::Stored {
                seq,
                replayed: false,
                ..
            }) => Ok(*seq),
            other => Err(anyhow::anyhow!("not stored: {other:?}")),
        })
        .collect::<Result<_, _>>()?;
    let expected: Vec<u64> = (first + 1..=first + 50).collect();
    assert_eq!(seqs, expected, "the batch's order, in consecutive seqs");
    let pulled = env
        .api
        .pull(
            &q,
            None,
            Pull {
                limit: Some(100),
                ..pull("c")
            },
        )
        .await?;
    let payloads: Vec<&str> = pulled.messages[1..]
        .iter()
        .map(|m| m.payload.as_str())
        .collect();
    assert_eq!(payloads, bodies);

    // Each key is its own: a repeat answers the first publish, a reused key with another body
    // is refused, and the rest of the batch goes in.
    let again = [
        (bodies[0].as_bytes(), Some("k0".to_owned())),
        (br#"{"other":1}"#.as_slice(), Some("k10".to_owned())),
        (br#"{"new":1}"#.as_slice(), None),
    ];
    let results = env.api.publish_batch(&q, None, &again).await?;
    assert!(
        matches!(results[0], Ok(Published::Stored { seq, replayed: true, .. }) if seq == first + 1),
        "{results:?}"
    );
    refused(results[1].clone(), ErrorCode::IdempotencyKeyReused);
    assert!(
        matches!(results[2], Ok(Published::Stored { seq, replayed: false, .. }) if seq == first + 51),
        "{results:?}"
    );

    // A bad message refuses the whole batch, naming it, and nothing is published.
    let bad = [
        (br#"{"ok":1}"#.as_slice(), None),
        (b"{not json".as_slice(), None),
    ];
    let e = refused(
        env.api.publish_batch(&q, None, &bad).await,
        ErrorCode::InvalidJson,
    );
    assert!(e.message.starts_with("messages[1]"), "{e:?}");
    let bad_key = [(br#"{"ok":1}"#.as_slice(), Some("no spaces".to_owned()))];
    refused(
        env.api.publish_batch(&q, None, &bad_key).await,
        ErrorCode::InvalidIdempotencyKey,
    );
    refused(
        env.api.publish_batch(&q, None, &[]).await,
        ErrorCode::InvalidField,
    );
    let too_many = vec![(br#"{}"#.as_slice(), None); roost_api::MAX_BATCH + 1];
    refused(
        env.api.publish_batch(&q, None, &too_many).await,
        ErrorCode::InvalidField,
    );
    assert_eq!(env.api.get_queue(&q).await?.head_seq, first + 51);

    // A refusal every message shares is the batch's.
    let wrong = env.api.queue_ref(q.id.as_str(), Some("qk_wrong"))?;
    let two = [(br#"{}"#.as_slice(), None), (br#"{}"#.as_slice(), None)];
    refused(
        env.api.publish_batch(&wrong, None, &two).await,
        ErrorCode::InvalidApiKey,
    );
    assert_eq!(env.api.get_queue(&q).await?.head_seq, first + 51);
    Ok(())
}
