//! Quotas: over the monthly limit a publish is held (402), and raising the plan drains held
//! publishes into the queue in their original order, exactly once, across a leader change.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::api::{create, pull_all};
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

    let plain = Cluster::start(1, 2, "").await?;
    let r = plain
        .http
        .post(format!("{}/admin/accounts", plain.url(1)))
        .bearer_auth(OPERATOR)
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    Ok(())
}
