//! Forms over HTTP: public submissions, the honeypot, the rate limit, and mirroring into a
//! bound queue.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::api::{create, pull_all};
use crate::harness::Cluster;

struct Form {
    id: String,
    key: String,
}

async fn new_form(c: &Cluster) -> anyhow::Result<Form> {
    let r = c.http.post(format!("{}/new", c.url(1))).send().await?;
    anyhow::ensure!(r.status() == 201, "create form: {}", r.status());
    let v: Value = r.json().await?;
    Ok(Form {
        id: v["form_id"].as_str().context("form_id")?.to_owned(),
        key: v["form_api_key"]
            .as_str()
            .context("form_api_key")?
            .to_owned(),
    })
}

async fn submit_form(c: &Cluster, f: &Form, body: &'static str) -> anyhow::Result<(u16, Value)> {
    let r = c
        .http
        .post(format!("{}/f/{}", c.url(1), f.id))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
}

async fn submissions(c: &Cluster, f: &Form) -> anyhow::Result<Value> {
    Ok(c.http
        .get(format!("{}/api/forms/{}/submissions", c.url(1), f.id))
        .bearer_auth(&f.key)
        .send()
        .await?
        .json()
        .await?)
}

#[tokio::test]
async fn submissions_honeypot_and_rate_limit() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, "form_submissions_per_minute = 4", "").await?;
    let f = new_form(&c).await?;
    assert!(f.key.starts_with("fk_"));
    let (s, v) = submit_form(&c, &f, "name=Jane&email=jane%40example.com&tag=a&tag=b").await?;
    assert_eq!(s, 200, "{v}");
    assert!(v["submission_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("sub_")));
    // The honeypot is answered like a success and stores nothing.
    assert_eq!(submit_form(&c, &f, "name=Bot&_gotcha=spam").await?.0, 200);
    let (s, _) = submit_form(&c, &f, "").await?;
    assert_eq!(s, 400);
    let page = submissions(&c, &f).await?;
    let subs = page["submissions"].as_array().context("submissions")?;
    assert_eq!(subs.len(), 1, "{page}");
    assert_eq!(
        subs[0]["fields"],
        json!({"name": "Jane", "email": "jane@example.com", "tag": ["a", "b"]})
    );
    // Four submissions a minute from one address: the fifth is refused.
    assert_eq!(submit_form(&c, &f, "n=4").await?.0, 200);
    let (s, v) = submit_form(&c, &f, "n=5").await?;
    assert_eq!((s, v["code"].as_str()), (429, Some("rate_limited")));
    // The key is needed to read.
    let r = c
        .http
        .get(format!("{}/api/forms/{}/submissions", c.url(1), f.id))
        .bearer_auth("fk_wrong")
        .send()
        .await?;
    assert_eq!(r.status(), 401);
    Ok(())
}

#[tokio::test]
async fn a_bound_form_mirrors_later_submissions_into_the_queue_in_order() -> anyhow::Result<()> {
    let c = Cluster::start(3, 3, "").await?;
    let f = new_form(&c).await?;
    let q = create(&c, 2, &["me"]).await?;
    assert_eq!(submit_form(&c, &f, "before=binding").await?.0, 200);
    let bind = |key: Option<&str>| {
        let mut body = json!({"queue_id": q.id});
        if let Some(k) = key {
            body["queue_api_key"] = json!(k);
        }
        c.http
            .put(format!("{}/api/forms/{}", c.url(3), f.id))
            .bearer_auth(&f.key)
            .json(&body)
            .send()
    };
    assert_eq!(bind(None).await?.status(), 401);
    assert_eq!(bind(Some("qk_wrong")).await?.status(), 401);
    assert_eq!(bind(Some(&q.key)).await?.status(), 200);
    for n in ["n=1", "n=2", "n=3"] {
        assert_eq!(submit_form(&c, &f, n).await?.0, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let msgs = loop {
        let msgs = pull_all(&c, 1, &q, "me").await?;
        if msgs.len() >= 3 || Instant::now() > deadline {
            break msgs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let got: Vec<Value> = msgs.iter().map(|m| m["payload"]["n"].clone()).collect();
    assert_eq!(got, vec![json!("1"), json!("2"), json!("3")], "{msgs:?}");
    for m in &msgs {
        assert_eq!(
            (m["source"].as_str(), m["form_id"].as_str()),
            (Some("form-mirror"), Some(f.id.as_str()))
        );
    }
    // Ticks re-drain the outbox: nothing is published twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(pull_all(&c, 1, &q, "me").await?.len(), 3);
    Ok(())
}

/// With quotas on, mirrored submissions are charged like publishes (to the form, for a queue
/// no account claimed): past the limit they are held, not published for free.
#[tokio::test]
async fn mirrored_submissions_are_charged_against_the_quota() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 1, "[quotas]\nenabled = true\nfree = 2", "").await?;
    let f = new_form(&c).await?;
    let q = create(&c, 1, &["me"]).await?;
    let r = c
        .http
        .put(format!("{}/api/forms/{}", c.url(1), f.id))
        .bearer_auth(&f.key)
        .json(&json!({"queue_id": q.id, "queue_api_key": q.key}))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    for n in ["n=1", "n=2", "n=3"] {
        assert_eq!(submit_form(&c, &f, n).await?.0, 200);
    }
    let info = || async {
        let v: Value = c
            .http
            .get(format!("{}/q/{}", c.url(1), q.id))
            .bearer_auth(&q.key)
            .send()
            .await?
            .json()
            .await?;
        Ok::<_, anyhow::Error>(v)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let v = loop {
        let v = info().await?;
        if v["head_seq"] == json!(2) && v["held_count"] == json!(1) {
            break v;
        }
        anyhow::ensure!(Instant::now() < deadline, "not mirrored as expected: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Ticks re-drain the outbox: the held one stays held.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(info().await?["head_seq"], v["head_seq"]);
    Ok(())
}
