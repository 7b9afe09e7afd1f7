//! Forms: every operation and its refusals, and the mirror into a bound queue.

use std::time::Duration;

use roost_api::{CreateQueue, ErrorCode, Pull, Settings};
use serde_json::{json, Map, Value};

use crate::harness::{env, env_with, refused};

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_kept_listed_and_mirrored_into_a_bound_queue() -> anyhow::Result<()> {
    let env = env().await?;
    let form = env.api.create_form(None, "contact".into()).await?;
    assert!(form.key.starts_with("fk_") && form.key.len() == 3 + 64);
    let id = form.id.as_str().to_owned();
    let sub = env
        .api
        .submit_form(None, &id, fields(json!({"email": "a@example.com"})))
        .await?;
    assert!(sub.is_some());
    let bot = env
        .api
        .submit_form(None, &id, fields(json!({"email": "b", "_gotcha": "x"})))
        .await?;
    assert_eq!(bot, None, "a filled honeypot stores nothing");
    refused(
        env.api.submit_form(None, &id, Map::new()).await,
        ErrorCode::EmptySubmission,
    );
    refused(
        env.api
            .submit_form(None, "f_nope", fields(json!({"a": 1})))
            .await,
        ErrorCode::FormNotFound,
    );
    refused(
        env.api.create_form(None, "n".repeat(201)).await,
        ErrorCode::InvalidName,
    );

    let page = env
        .api
        .submissions(&id, Some(&form.key), None, None)
        .await?;
    assert_eq!(page.rows.len(), 1, "the bot's submission was not kept");
    refused(
        env.api.submissions(&id, None, None, None).await,
        ErrorCode::MissingApiKey,
    );
    refused(
        env.api.submissions(&id, Some("fk_wrong"), None, None).await,
        ErrorCode::InvalidApiKey,
    );
    refused(
        env.api
            .submissions(&id, Some(&form.key), None, Some(0))
            .await,
        ErrorCode::InvalidLimit,
    );

    let queue = env.api.create_queue(None, CreateQueue::default()).await?;
    let qid = queue.queue.id.as_str().to_owned();
    refused(
        env.api.bind_form(&id, Some(&form.key), &qid, None).await,
        ErrorCode::MissingQueueKey,
    );
    refused(
        env.api
            .bind_form(&id, Some(&form.key), &qid, Some("qk_wrong"))
            .await,
        ErrorCode::InvalidApiKey,
    );
    refused(
        env.api
            .bind_form(&id, Some("fk_wrong"), &qid, Some(&queue.key))
            .await,
        ErrorCode::InvalidApiKey,
    );
    env.api
        .bind_form(&id, Some(&form.key), &qid, Some(&queue.key))
        .await?;
    env.api
        .submit_form(None, &id, fields(json!({"email": "c@example.com"})))
        .await?;
    let q = env.api.queue_ref(&qid, Some(&queue.key))?;
    let mirrored = env
        .api
        .pull(
            &q,
            None,
            Pull {
                consumer_id: "me".into(),
                wait: Some(10),
                ..Pull::default()
            },
        )
        .await?;
    let first = mirrored.messages.first().map(|m| m.payload.clone());
    assert_eq!(first.as_deref(), Some(r#"{"email":"c@example.com"}"#));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_submissions_are_limited_per_address() -> anyhow::Result<()> {
    let settings = Settings {
        form_submissions_per_minute: 1,
        ..Settings::default()
    };
    let env = env_with(settings, None).await?;
    let form = env.api.create_form(None, String::new()).await?;
    let id = form.id.as_str();
    let addr = Some("10.4.4.4".parse()?);
    env.api
        .submit_form(addr, id, fields(json!({"a": 1})))
        .await?;
    refused(
        env.api.submit_form(addr, id, fields(json!({"a": 2}))).await,
        ErrorCode::RateLimited,
    );
    env.api
        .submit_form(None, id, fields(json!({"a": 3})))
        .await?;
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(())
}
