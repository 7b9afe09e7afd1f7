//! The queue rung over HTTP: roster, nack and DLQ, origins and CORS, info and delete, long
//! polling and the GC floor.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::api::{call, create, publish, Queue};
use crate::harness::Cluster;

async fn post(c: &Cluster, q: &Queue, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    call(c, q, reqwest::Method::POST, path, Some(body)).await
}

async fn get(c: &Cluster, q: &Queue, path: &str) -> anyhow::Result<(u16, Value)> {
    call(c, q, reqwest::Method::GET, path, None).await
}

#[tokio::test]
async fn roster_gc_info_and_delete() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    for i in 0..3 {
        publish(&c, 1, &q, &json!({"i": i}), None).await?;
    }
    // A consumer added now sees only future messages.
    let (s, v) = post(&c, &q, "/consumers", json!({"add": ["late"]})).await?;
    assert_eq!((s, v["cursors"]["late"].clone()), (200, json!(3)), "{v}");
    let (_, v) = get(&c, &q, "/pull?consumer_id=late").await?;
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(0));
    let (_, v) = get(&c, &q, "/consumers").await?;
    assert_eq!(v["consumers"], json!(["late", "me"]));
    assert_eq!(
        post(&c, &q, "/consumers", json!({"add": ["_dash_x"]}))
            .await?
            .0,
        422
    );

    // "me" acks 2: the floor rises to 2 and a pull from 0 says it started at the floor.
    post(&c, &q, "/ack", json!({"consumer_id": "me", "cursor": 2})).await?;
    let (_, v) = get(&c, &q, "/pull?consumer_id=x&cursor=0").await?;
    assert_eq!(
        (v["cursor_below_floor"].clone(), v["floor"].clone()),
        (json!(true), json!(2)),
        "{v}"
    );
    assert_eq!(v["messages"][0]["seq"], 3);

    let (s, v) = get(&c, &q, "").await?;
    assert_eq!(s, 200);
    assert_eq!(
        (
            v["head_seq"].clone(),
            v["floor_seq"].clone(),
            v["message_count"].clone()
        ),
        (json!(3), json!(2), json!(1))
    );
    let lags: Vec<(String, u64)> = v["consumers"]
        .as_array()
        .context("consumers")?
        .iter()
        .map(|c| {
            (
                c["consumer_id"].as_str().unwrap_or("").to_owned(),
                c["lag"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(lags, vec![("late".to_owned(), 0), ("me".to_owned(), 1)]);

    let (s, _) = call(&c, &q, reqwest::Method::DELETE, "", None).await?;
    assert_eq!(s, 200);
    assert_eq!(publish(&c, 1, &q, &json!({}), None).await?.0, 404);
    assert_eq!(get(&c, &q, "").await?.0, 404);
    Ok(())
}

#[tokio::test]
async fn nack_dead_letters_once_pages_exactly_and_replays() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    let r = c
        .http
        .post(format!("{}/q/create", c.url(1)))
        .json(&json!({"consumers": ["me"], "max_deliveries": 2}))
        .send()
        .await?;
    let v: Value = r.json().await?;
    let q = Queue {
        id: v["queue_id"].as_str().context("id")?.to_owned(),
        key: v["queue_api_key"].as_str().context("key")?.to_owned(),
    };
    for i in 0..3 {
        publish(&c, 1, &q, &json!({"i": i}), None).await?;
    }
    let nack = |seq: u64, dead: bool| {
        post(
            &c,
            &q,
            "/nack",
            json!({"consumer_id": "me", "seq": seq, "error": "bad", "dead_letter": dead}),
        )
    };
    assert_eq!(nack(1, false).await?.1["dead_lettered"], false);
    assert_eq!(nack(1, false).await?.1["dead_lettered"], true);
    assert_eq!(nack(1, false).await?.1["nack_count"], 3);
    assert_eq!(nack(3, true).await?.1["dead_lettered"], true);
    assert_eq!(nack(9, false).await?.0, 422);

    // Exact pagination: two pages of one, then nothing.
    let (_, p1) = get(&c, &q, "/dlq?limit=1").await?;
    assert_eq!(
        (p1["messages"][0]["seq"].clone(), p1["has_more"].clone()),
        (json!(1), json!(true)),
        "{p1}"
    );
    assert_eq!(p1["messages"][0]["nack_count"], 2);
    let (_, p2) = get(
        &c,
        &q,
        &format!("/dlq?limit=1&cursor={}", p1["next_cursor"]),
    )
    .await?;
    assert_eq!(
        (p2["messages"][0]["seq"].clone(), p2["has_more"].clone()),
        (json!(3), json!(false))
    );

    let original = p1["messages"][0]["id"].as_str().context("id")?.to_owned();
    let (s, v) = post(&c, &q, "/dlq/replay", json!({"dlq_msg_id": original})).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["replayed"]["source"], "dlq-replay");
    assert_eq!(v["replayed"]["replayed_from"], original.as_str());
    assert_eq!(v["replayed"]["seq"], 4);
    assert_eq!(v["replayed"]["payload"], json!({"i": 0}));
    assert_eq!(
        post(&c, &q, "/dlq/replay", json!({"dlq_msg_id": original}))
            .await?
            .0,
        404
    );
    let (_, v) = get(&c, &q, "/dlq").await?;
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn origins_and_cors_follow_the_current_set() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    let r = c
        .http
        .post(format!("{}/q/create", c.url(1)))
        .json(&json!({"allowed_origins": ["https://a.example"]}))
        .send()
        .await?;
    let v: Value = r.json().await?;
    assert_eq!(v["allowed_origins"], "https://a.example");
    let q = Queue {
        id: v["queue_id"].as_str().context("id")?.to_owned(),
        key: v["queue_api_key"].as_str().context("key")?.to_owned(),
    };
    let preflight = |origin: &'static str| {
        c.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/q/{}/publish", c.url(1), q.id),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let r = preflight("https://a.example").await?;
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://a.example"
    );
    let r = preflight("https://b.example").await?;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    assert_eq!(
        post(&c, &q, "/origins", json!({"add": ["*"]})).await?.0,
        422
    );
    assert_eq!(
        post(&c, &q, "/origins", json!({"add": ["not an origin"]}))
            .await?
            .0,
        400
    );
    let (s, v) = post(
        &c,
        &q,
        "/origins",
        json!({"add": ["https://b.example"], "remove": ["https://a.example"]}),
    )
    .await?;
    assert_eq!(
        (s, v["allowed_origins"].clone()),
        (200, json!("https://b.example"))
    );
    assert_eq!(preflight("https://b.example").await?.status(), 204);
    assert_eq!(preflight("https://a.example").await?.status(), 403);

    // Actual requests: a grant only for an allowed origin.
    for (origin, granted) in [("https://b.example", true), ("https://c.example", false)] {
        let r = c
            .http
            .get(format!("{}/q/{}/pull?consumer_id=me", c.url(1), q.id))
            .bearer_auth(&q.key)
            .header("Origin", origin)
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers().get("access-control-allow-origin").is_some(),
            granted,
            "{origin}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_a_message_commits() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let started = Instant::now();
    let poll = get(&c, &q, "/pull?consumer_id=me&wait=10");
    let later = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        publish(&c, 1, &q, &json!({"late": true}), None).await
    };
    let (polled, published) = tokio::join!(poll, later);
    let (status, v) = polled?;
    published?;
    assert_eq!(status, 200);
    assert_eq!(v["messages"][0]["payload"], json!({"late": true}), "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // An empty long poll waits its full time, then answers empty.
    let started = Instant::now();
    let (_, v) = get(&c, &q, "/pull?consumer_id=me&cursor=1&wait=1").await?;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(0));
    assert_eq!(get(&c, &q, "/pull?consumer_id=me&wait=31").await?.0, 400);
    Ok(())
}
