//! Stored JSON documents come back byte for byte: job payloads and results, event data and
//! task payloads that a `serde_json::Value` would turn into `null` (`1e400`) or reformat.

use anyhow::Context;
use serde_json::Value;

use crate::harness::Cluster;
use crate::jobs::{token, SECRET};

/// Sends `body` (raw text) and returns the status and the raw answer.
async fn send(
    c: &Cluster,
    tok: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut req = c
        .http
        .request(method, format!("{}{path}", c.url(1)))
        .bearer_auth(tok);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let r = req.send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

#[derive(serde::Deserialize)]
struct Id {
    id: String,
}

#[derive(serde::Deserialize)]
struct Claimed {
    jobs: Vec<Lease>,
}

#[derive(serde::Deserialize)]
struct Lease {
    token: String,
}

/// `POST /jobs` of a `job_type` job with `payload` (raw text).
async fn create_job(
    c: &Cluster,
    tok: &str,
    job_type: &str,
    payload: &str,
) -> anyhow::Result<(u16, String)> {
    let body = format!(r#"{{"type": "{job_type}", "payload": {payload}}}"#);
    send(c, tok, reqwest::Method::POST, "/jobs", Some(&body)).await
}

const DOC: &str = r#"{"n": 1e400, "list": [1.0, -0, 1E+2]}"#;

#[tokio::test]
async fn stored_json_is_served_byte_for_byte() -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Cluster::start_with(1, 1, SECRET, "").await?;
    let tok = token(&c, "ws")?;

    let (s, created) = create_job(&c, &tok, "t", DOC).await?;
    assert_eq!(s, 202, "{created}");
    assert!(created.contains(DOC), "{created}");
    // serde_json's Value cannot hold 1e400 (Python's json and browsers can): read only the id.
    let id = serde_json::from_str::<Id>(&created)?.id;

    let (_, got) = send(&c, &tok, Method::GET, &format!("/jobs/{id}"), None).await?;
    assert!(got.contains(DOC), "{got}");
    let (_, claimed) = send(
        &c,
        &tok,
        Method::POST,
        "/jobs/claim",
        Some(r#"{"workerId": "w", "types": ["t"]}"#),
    )
    .await?;
    assert!(
        claimed.contains(DOC),
        "the worker gets the payload: {claimed}"
    );
    let lease: Claimed = serde_json::from_str(&claimed)?;
    let lease_token = &lease.jobs.first().context("a job")?.token;
    let result = r#"[1e400, {"b": 1, "a": 2}]"#;
    let (s, done) = send(
        &c,
        &tok,
        Method::POST,
        &format!("/jobs/{id}/complete"),
        Some(&format!(
            r#"{{"token": "{lease_token}", "result": {result}}}"#
        )),
    )
    .await?;
    assert_eq!(s, 200, "{done}");
    let (_, got) = send(&c, &tok, Method::GET, &format!("/jobs/{id}"), None).await?;
    assert!(got.contains(result), "{got}");
    let (_, listed) = send(&c, &tok, Method::GET, "/jobs", None).await?;
    assert!(listed.contains(result) && listed.contains(DOC), "{listed}");

    // Tasks too.
    let (_, wq) = send(
        &c,
        &tok,
        Method::POST,
        "/work-queues",
        Some(r#"{"name": "q", "teamId": "eng"}"#),
    )
    .await?;
    let wq: Value = serde_json::from_str(&wq)?;
    let wq = wq["id"].as_str().context("work queue id")?;
    let path = format!("/work-queues/{wq}/tasks");
    let body = format!(r#"{{"name": "t", "payload": {DOC}}}"#);
    let (s, added) = send(&c, &tok, Method::POST, &path, Some(&body)).await?;
    assert_eq!(s, 201, "{added}");
    assert!(added.contains(DOC), "{added}");
    let (_, listed) = send(&c, &tok, Method::GET, &path, None).await?;
    assert!(listed.contains(DOC), "{listed}");

    // `roost worker` hands the payload to its command as sent, and reports what it printed.
    let (_, created) = create_job(&c, &tok, "echo", DOC).await?;
    let echo = serde_json::from_str::<Id>(&created)?.id;
    let mut w = crate::jobs::worker(&c, &tok, "echo", 1, &["cat"])?;
    tokio::time::timeout(std::time::Duration::from_secs(30), w.wait()).await??;
    let (_, got) = send(&c, &tok, Method::GET, &format!("/jobs/{echo}"), None).await?;
    assert!(got.contains(r#""status":"completed""#), "{got}");
    assert!(got.contains(&format!(r#""result":{DOC}"#)), "{got}");

    // Dead letters listed and replayed keep the payload too.
    let q = crate::api::create(&c, 1, &["me"]).await?;
    let (s, _) = send(
        &c,
        &q.key,
        Method::POST,
        &format!("/q/{}/publish", q.id),
        Some(DOC),
    )
    .await?;
    assert_eq!(s, 201);
    let nack = r#"{"consumer_id": "me", "seq": 1, "dead_letter": true}"#;
    send(
        &c,
        &q.key,
        Method::POST,
        &format!("/q/{}/nack", q.id),
        Some(nack),
    )
    .await?;
    let (s, dlq) = send(&c, &q.key, Method::GET, &format!("/q/{}/dlq", q.id), None).await?;
    assert!(s == 200 && dlq.contains(DOC), "{dlq}");
    #[derive(serde::Deserialize)]
    struct Dlq {
        messages: Vec<Id>,
    }
    let dead = serde_json::from_str::<Dlq>(&dlq)?.messages.remove(0).id;
    let replay = format!(r#"{{"dlq_msg_id": "{dead}"}}"#);
    let path = format!("/q/{}/dlq/replay", q.id);
    let (s, replayed) = send(&c, &q.key, Method::POST, &path, Some(&replay)).await?;
    assert!(s == 200 && replayed.contains(DOC), "{replayed}");

    // What ordinary clients could not read back is refused at the door.
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    let (s, refused) = create_job(&c, &tok, "t", &deep).await?;
    assert_eq!(s, 400, "{refused}");
    Ok(())
}
