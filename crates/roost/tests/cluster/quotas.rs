//! Quotas: over the monthly limit a publish is held (402), and raising the plan drains held
//! publishes into the queue in their original order, exactly once, across a leader change.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::api::{call, create, pull_all};
use crate::harness::Cluster;

const OPERATOR: &str = "operator-key-for-tests";

async fn admin(
    c: &Cluster,
    node: u64,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let r = c
        .http
        .request(method, format!("{}/admin{path}", c.url(node)))
        .bearer_auth(OPERATOR)
        .json(&body)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn held_publishes_drain_in_order_exactly_once_after_an_upgrade_and_failover(
) -> anyhow::Result<()> {
    let top = format!("[quotas]\nenabled = true\nfree = 3\npro = 100\noperator_key = \"{OPERATOR}\"\nupgrade_url = \"https://example.com/upgrade\"");
    let c = Cluster::start_with(3, 2, &top, "").await?;
    let (s, acct) = admin(
        &c,
        1,
        reqwest::Method::POST,
        "/accounts",
        json!({"plan": "free"}),
    )
    .await?;
    assert_eq!(s, 201, "{acct}");
    let id = acct["account_id"]
        .as_str()
        .context("account_id")?
        .to_owned();
    let (s, key) = admin(
        &c,
        2,
        reqwest::Method::POST,
        &format!("/accounts/{id}/keys"),
        json!({}),
    )
    .await?;
    assert_eq!(s, 201);
    let account_key = key["account_key"]
        .as_str()
        .context("account_key")?
        .to_owned();
    let r = c
        .http
        .post(format!("{}/admin/accounts", c.url(1)))
        .bearer_auth("wrong-operator-key")
        .send()
        .await?;
    assert_eq!(r.status(), 401);

    let q = create(&c, 1, &["me"]).await?;
    let publish = |n: u32| {
        c.http
            .post(format!(
                "{}/q/{}/publish",
                c.url(u64::from(n % 3 + 1)),
                q.id
            ))
            .bearer_auth(&q.key)
            .header("X-Account-Key", &account_key)
            .json(&json!({"n": n}))
            .send()
    };
    for n in 1..=3 {
        assert_eq!(publish(n).await?.status(), 201, "publish {n}");
    }
    let mut pending = Vec::new();
    for n in 4..=6 {
        let r = publish(n).await?;
        assert_eq!(r.status(), 402);
        let v: Value = r.json().await?;
        assert_eq!(
            (
                v["auto_enqueued"].clone(),
                v["will_replay_on_upgrade"].clone()
            ),
            (json!(true), json!(true)),
            "{v}"
        );
        assert_eq!(
            (v["plan"].clone(), v["limit"].clone(), v["current"].clone()),
            (json!("free"), json!(3), json!(3))
        );
        assert!(v["_help"].is_string() && v["upgrade_url"] == "https://example.com/upgrade");
        pending.push(
            v["pending_publish_id"]
                .as_str()
                .context("pending id")?
                .to_owned(),
        );
    }
    assert_eq!(pull_all(&c, 1, &q, "me").await?.len(), 3);
    let (_, a) = admin(
        &c,
        1,
        reqwest::Method::GET,
        &format!("/accounts/{id}"),
        json!({}),
    )
    .await?;
    assert_eq!(a["queues"], json!([q.id]), "{a}");

    // Lose the metadata leader, then raise the plan through a survivor.
    let meta_leader = c.wait_leader(0, Duration::from_secs(20)).await?;
    c.kill(meta_leader)?;
    let survivor = (1..=3).find(|n| *n != meta_leader).unwrap_or(1);
    c.wait_leader(0, Duration::from_secs(30)).await?;
    let (s, v) = admin(
        &c,
        survivor,
        reqwest::Method::PUT,
        &format!("/accounts/{id}/plan"),
        json!({"plan": "pro"}),
    )
    .await?;
    assert_eq!(s, 200, "{v}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let msgs = loop {
        let msgs = pull_all(&c, survivor, &q, "me").await?;
        if msgs.len() >= 6 || Instant::now() > deadline {
            break msgs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let got: Vec<(Value, Value)> = msgs
        .iter()
        .map(|m| (m["payload"]["n"].clone(), m["source"].clone()))
        .collect();
    let want: Vec<(Value, Value)> = (1..=6)
        .map(|n| {
            (
                json!(n),
                json!(if n <= 3 { "publish" } else { "quota-drain" }),
            )
        })
        .collect();
    assert_eq!(got, want);
    // Nothing more arrives later (drained exactly once).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(pull_all(&c, survivor, &q, "me").await?.len(), 6);
    Ok(())
}

#[tokio::test]
async fn unclaimed_queues_are_counted_per_ip_and_quotas_are_off_by_default() -> anyhow::Result<()> {
    let c = Cluster::start_with(
        1,
        2,
        &format!("[quotas]\nenabled = true\nfree = 2\noperator_key = \"{OPERATOR}\""),
        "",
    )
    .await?;
    let q = create(&c, 1, &["me"]).await?;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let r = c
            .http
            .post(format!("{}/q/{}/publish", c.url(1), q.id))
            .bearer_auth(&q.key)
            .json(&json!({"n": n}))
            .send()
            .await?;
        statuses.push(r.status().as_u16());
        if r.status() == 402 {
            let v: Value = r.json().await?;
            assert_eq!(v["will_replay_on_upgrade"], false, "{v}");
        }
    }
    assert_eq!(statuses, vec![201, 201, 402]);

    // Off by default: the operator's account calls answer 404 (after the key: without it,
    // 401, and nothing is told).
    let plain =
        Cluster::start_with(1, 2, &format!("[admin]\noperator_key = \"{OPERATOR}\""), "").await?;
    let accounts = format!("{}/admin/accounts", plain.url(1));
    let r = plain
        .http
        .post(&accounts)
        .bearer_auth(OPERATOR)
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    let r = plain.http.post(&accounts).send().await?;
    assert_eq!(r.status(), 401);
    Ok(())
}

/// Sends a publish over HTTP; the status and the JSON answer.
async fn publish_raw(
    c: &Cluster,
    q: &crate::api::Queue,
    key: &str,
    body: Value,
    idem: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = c
        .http
        .post(format!("{}/q/{}/publish", c.url(1), q.id))
        .bearer_auth(key)
        .json(&body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await?;
    Ok((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn every_stored_message_is_charged_once_and_nothing_else_is() -> anyhow::Result<()> {
    let top =
        format!("[quotas]\nenabled = true\nfree = 3\npro = 100\nmax_held_bytes = 64\noperator_key = \"{OPERATOR}\"");
    let c = Cluster::start_with(1, 2, &top, "").await?;
    let q = create(&c, 1, &["me"]).await?;

    // Wrong keys are refused before any charge.
    for _ in 0..5 {
        let (s, _) = publish_raw(&c, &q, "wrong-key", json!({"x": 1}), None).await?;
        assert_eq!(s, 401);
    }
    // An idempotent replay and a reused key are not charged again.
    assert_eq!(
        publish_raw(&c, &q, &q.key, json!({"n": 1}), Some("k1"))
            .await?
            .0,
        201
    );
    for _ in 0..3 {
        let (s, v) = publish_raw(&c, &q, &q.key, json!({"n": 1}), Some("k1")).await?;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = publish_raw(&c, &q, &q.key, json!({"other": 1}), Some("k1")).await?;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        publish_raw(&c, &q, &q.key, json!({"n": 2}), None).await?.0,
        201
    );
    assert_eq!(
        publish_raw(&c, &q, &q.key, json!({"n": 3}), None).await?.0,
        201
    );
    let (s, v) = publish_raw(&c, &q, &q.key, json!({"n": 4}), None).await?;
    assert_eq!((s, v["auto_enqueued"].clone()), (402, json!(true)), "{v}");

    // gRPC publishes are charged too (this address is over its limit), and do not release
    // the held publish.
    let mut grpc =
        roost_grpc::pb::queues_client::QueuesClient::connect(c.node(1).grpc.clone()).await?;
    let mut req = tonic::Request::new(roost_grpc::pb::PublishRequest {
        queue_id: q.id.clone(),
        payload: br#"{"n":5}"#.to_vec(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {}", q.key).parse()?);
    let held = grpc.publish(req).await.expect_err("over the quota");
    assert_eq!(held.code(), tonic::Code::ResourceExhausted, "{held:?}");
    assert!(held.message().starts_with("quota_exceeded: "), "{held:?}");
    let info = call(&c, &q, reqwest::Method::GET, "", None).await?.1;
    assert_eq!(
        (info["head_seq"].clone(), info["held_count"].clone()),
        (json!(3), json!(2)),
        "{info}"
    );
    // Retrying a held publish keeps one held copy and counts its bytes once.
    let mut pending = Vec::new();
    for _ in 0..4 {
        let (s, v) = publish_raw(&c, &q, &q.key, json!({"retry": "held"}), Some("k-held")).await?;
        assert_eq!((s, v["auto_enqueued"].clone()), (402, json!(true)), "{v}");
        pending.push(v["pending_publish_id"].clone());
    }
    pending.dedup();
    assert_eq!(pending.len(), 1, "one held copy: {pending:?}");
    let (s, v) = publish_raw(&c, &q, &q.key, json!({"q": "new"}), None).await?;
    assert_eq!((s, v["auto_enqueued"].clone()), (402, json!(true)), "{v}");
    // Held publishes are bounded per payer: past 64 bytes a publish is refused, not kept.
    let big = json!({"pad": "x".repeat(80)});
    let (s, v) = publish_raw(&c, &q, &q.key, big, None).await?;
    assert_eq!(
        (s, v["code"].clone()),
        (402, json!("quota_exceeded")),
        "{v}"
    );
    let info = call(&c, &q, reqwest::Method::GET, "", None).await?.1;
    assert_eq!(info["held_count"], json!(4), "{info}");

    // A DLQ replay is a publish: over the limit it is refused and the dead letter stays.
    let nack = json!({"consumer_id": "me", "seq": 1, "error": "x", "dead_letter": true});
    assert_eq!(
        call(&c, &q, reqwest::Method::POST, "/nack", Some(nack))
            .await?
            .0,
        200
    );
    let dlq = call(&c, &q, reqwest::Method::GET, "/dlq", None).await?.1;
    let dead = dlq["messages"][0]["id"].as_str().context("dlq id")?;
    let replay = json!({"dlq_msg_id": dead});
    let (s, v) = call(&c, &q, reqwest::Method::POST, "/dlq/replay", Some(replay)).await?;
    assert_eq!((s, v["auto_enqueued"].clone()), (402, json!(false)), "{v}");
    Ok(())
}

#[tokio::test]
async fn of_two_accounts_claiming_a_queue_at_once_only_the_winner_lists_it() -> anyhow::Result<()> {
    let top = format!("[quotas]\nenabled = true\nfree = 100\noperator_key = \"{OPERATOR}\"");
    let c = Cluster::start_with(1, 2, &top, "").await?;
    let mut accounts = Vec::new();
    for _ in 0..2 {
        let (_, a) = admin(&c, 1, reqwest::Method::POST, "/accounts", json!({})).await?;
        let id = a["account_id"].as_str().context("id")?.to_owned();
        let (_, k) = admin(
            &c,
            1,
            reqwest::Method::POST,
            &format!("/accounts/{id}/keys"),
            json!({}),
        )
        .await?;
        accounts.push((id, k["account_key"].as_str().context("key")?.to_owned()));
    }
    let mut queues = Vec::new();
    for _ in 0..5 {
        let q = create(&c, 1, &["me"]).await?;
        let claims = accounts.iter().map(|(_, key)| {
            c.http
                .post(format!("{}/q/{}/publish", c.url(1), q.id))
                .bearer_auth(&q.key)
                .header("X-Account-Key", key)
                .json(&json!({"n": 1}))
                .send()
        });
        for r in futures::future::join_all(claims).await {
            assert_eq!(r?.status(), 201);
        }
        queues.push(q.id);
    }
    let mut listed = 0;
    for (id, _) in &accounts {
        let (_, a) = admin(
            &c,
            1,
            reqwest::Method::GET,
            &format!("/accounts/{id}"),
            json!({}),
        )
        .await?;
        listed += a["queues"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(
        listed,
        queues.len(),
        "each queue is listed by exactly one account"
    );
    Ok(())
}
