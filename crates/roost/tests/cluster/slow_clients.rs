//! Slow and idle clients over raw TCP: a half-sent header, a stalled body and an idle
//! keep-alive connection are closed after `[http]`'s deadlines, connections past the cap get a
//! JSON 503, and oversized headers a JSON 431.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::Cluster;

const LIMITS: &str = "[http]\nheader_timeout_secs = 2\nbody_timeout_secs = 2\nmax_connections = 8";

fn addr(c: &Cluster) -> String {
    c.url(1).trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or 15 s pass); the bytes and when it closed.
async fn read_to_close(s: &mut TcpStream) -> anyhow::Result<(String, Duration)> {
    let started = Instant::now();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut out))
        .await
        .context("the server kept the connection open")??;
    Ok((
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    ))
}

/// The JSON body of a raw HTTP/1.1 answer.
fn json_body(raw: &str) -> anyhow::Result<Value> {
    let (_, body) = raw.split_once("\r\n\r\n").context("no body")?;
    Ok(serde_json::from_str(body)?)
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_after_the_deadlines() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 1, LIMITS, "").await?;
    let addr = addr(&c);

    // Half a header, then silence.
    let mut half = TcpStream::connect(&addr).await?;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow:")
        .await?;
    let (_, after) = read_to_close(&mut half).await.context("half header")?;
    assert!(after < Duration::from_secs(6), "half header held {after:?}");

    // An idle connection that never sends anything.
    let mut idle = TcpStream::connect(&addr).await?;
    let (_, after) = read_to_close(&mut idle).await.context("idle")?;
    assert!(after < Duration::from_secs(6), "idle held {after:?}");

    // A body that stops after one byte: 408 in JSON, then closed.
    let mut stalled = TcpStream::connect(&addr).await?;
    stalled
        .write_all(b"POST /q/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await?;
    let (raw, after) = read_to_close(&mut stalled).await.context("stalled body")?;
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert_eq!(json_body(&raw)?["code"], "body_timeout", "{raw}");
    assert!(
        after < Duration::from_secs(6),
        "stalled body held {after:?}"
    );

    // Too many headers: a JSON 431, not hyper's empty one.
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let mut big = TcpStream::connect(&addr).await?;
    big.write_all(many.as_bytes()).await?;
    let (raw, _) = read_to_close(&mut big).await.context("many headers")?;
    assert!(raw.starts_with("HTTP/1.1 431"), "{raw}");
    assert_eq!(json_body(&raw)?["code"], "headers_too_large", "{raw}");

    // What hyper cannot parse gets a JSON answer too.
    for (raw, status, code) in [
        ("NONSENSE\r\n\r\n".to_owned(), "400", "bad_request"),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)),
            "414",
            "uri_too_long",
        ),
    ] {
        let mut bad = TcpStream::connect(&addr).await?;
        bad.write_all(raw.as_bytes()).await?;
        let (answer, _) = read_to_close(&mut bad).await.context("unparseable")?;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert_eq!(json_body(&answer)?["code"], code, "{answer}");
    }

    // A well-behaved keep-alive client still gets its answers.
    let fresh = reqwest::Client::new();
    let ok = fresh.get(format!("{}/healthz", c.url(1))).send().await?;
    assert_eq!(ok.status(), 200);
    Ok(())
}

#[tokio::test]
async fn connections_past_the_cap_get_a_json_503() -> anyhow::Result<()> {
    // A long idle deadline, so the held connections stay held however slow the machine is.
    let c = Cluster::start_with(
        1,
        1,
        "[http]\nheader_timeout_secs = 60\nmax_connections = 8",
        "",
    )
    .await?;
    let addr = addr(&c);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(&addr).await?);
    }
    // Give the listener time to take all eight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(&addr).await?;
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    let (raw, _) = read_to_close(&mut extra).await?;
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw}");
    assert_eq!(json_body(&raw)?["code"], "too_many_connections", "{raw}");
    // Closing the held connections frees their slots.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.http.get(format!("{}/healthz", c.url(1))).send().await;
        if r.as_ref().is_ok_and(|r| r.status() == 200) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "slots were not freed: {r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_client_keeps_at_most_its_cap_of_long_polls_and_a_publish_wakes_them(
) -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 1, "[http]\nmax_waiters_per_client = 3", "").await?;
    let (q, other) = (
        crate::api::create(&c, 1, &["w"]).await?,
        crate::api::create(&c, 1, &["w"]).await?,
    );
    let pull = |q: &crate::api::Queue, wait: u32| {
        c.http
            .get(format!(
                "{}/q/{}/pull?consumer_id=w&wait={wait}",
                c.url(1),
                q.id
            ))
            .bearer_auth(&q.key)
            .send()
    };
    let started = Instant::now();
    let polls: Vec<_> = (0..3).map(|_| tokio::spawn(pull(&q, 20))).collect();
    // Until all three wait (the node counts its waiters on /cluster).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status: Value = c
            .http
            .get(format!("{}/cluster", c.url(1)))
            .send()
            .await?
            .json()
            .await?;
        if status["waiters"].as_u64() >= Some(3) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the long polls do not wait: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = pull(&q, 20).await?;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await?;
    assert_eq!(body["code"], "too_many_waiters", "{body}");
    // The places are counted across HTTP and gRPC.
    let mut grpc =
        roost_grpc::pb::queues_client::QueuesClient::connect(c.node(1).grpc.clone()).await?;
    let mut req = tonic::Request::new(roost_grpc::pb::PullRequest {
        queue_id: q.id.clone(),
        consumer_id: "w".into(),
        wait_secs: 20,
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {}", q.key).parse()?);
    let refused = grpc.pull(req).await.expect_err("past the cap");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().starts_with("too_many_waiters: "),
        "{refused:?}"
    );
    // A pull that does not wait needs no place.
    assert_eq!(pull(&q, 0).await?.status(), 200);
    // Writes to another queue do not answer them; a publish to theirs does, at once.
    crate::api::publish(&c, 1, &other, &serde_json::json!({"n": 0}), None).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        polls.iter().all(|p| !p.is_finished()),
        "woken by another queue"
    );
    crate::api::publish(&c, 1, &q, &serde_json::json!({"n": 1}), None).await?;
    for p in polls {
        let r = p.await??;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await?;
        assert_eq!(body["messages"].as_array().map(Vec::len), Some(1), "{body}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Their places are free again.
    let again = pull(&q, 1).await?;
    assert_eq!(again.status(), 200);
    Ok(())
}
