//! Job webhooks over real HTTP: signed deliveries, the private-address policy, IPv6-literal
//! receivers, URLs refused at create, and slow receivers that hold up only their own.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::harness::Cluster;
use crate::jobs::{call, token, SECRET};

/// Accepts one HTTP request on `listener` and answers 200; returns its head and body.
async fn receive_one(listener: tokio::net::TcpListener) -> anyhow::Result<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut sock, _) = listener.accept().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed early");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= len {
                sock.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await?;
                return Ok((head.to_owned(), body[..len].to_owned()));
            }
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn finish_job_with_webhook(c: &Cluster, tok: &str, url: &str) -> anyhow::Result<String> {
    let post = reqwest::Method::POST;
    let (_, v, _) = call(
        c,
        1,
        tok,
        post.clone(),
        "/jobs",
        Some(json!({"type": "hooked", "webhook": url})),
    )
    .await?;
    let id = v["id"].as_str().context("id")?.to_owned();
    let (_, v, _) = call(
        c,
        1,
        tok,
        post.clone(),
        "/jobs/claim",
        Some(json!({"workerId": "w", "types": ["hooked"]})),
    )
    .await?;
    let t = v["jobs"][0]["token"].as_str().context("token")?.to_owned();
    let (s, _, _) = call(
        c,
        1,
        tok,
        post,
        &format!("/jobs/{id}/complete"),
        Some(json!({"token": t, "result": {"ok": true}})),
    )
    .await?;
    anyhow::ensure!(s == 200, "complete: {s}");
    Ok(id)
}

async fn events_of(c: &Cluster, tok: &str, id: &str, kind: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let body = c
            .http
            .get(format!("{}/jobs/{id}/events", c.url(1)))
            .bearer_auth(tok)
            .send()
            .await?
            .text()
            .await?;
        if body.contains(&format!("event: {kind}")) || Instant::now() > deadline {
            return Ok(body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn finished_jobs_call_their_signed_webhook_and_private_addresses_are_refused(
) -> anyhow::Result<()> {
    let secret = "whsec_dGVzdC13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5";
    let allowed =
        format!("{SECRET}\n[webhooks]\nsecret = \"{secret}\"\nallow_private_addresses = true");
    let c = Cluster::start_with(1, 2, &allowed, "").await?;
    let tok = token(&c, "hooks")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let received = tokio::spawn(receive_one(listener));
    let id = finish_job_with_webhook(&c, &tok, &url).await?;
    let (head, body) = tokio::time::timeout(Duration::from_secs(15), received).await???;
    let v: Value = serde_json::from_str(&body)?;
    assert_eq!(
        (v["type"].as_str(), v["data"]["id"].as_str()),
        (Some("job.completed"), Some(id.as_str())),
        "{body}"
    );
    let (msg_id, ts, sig) = (
        header(&head, "webhook-id").context("id")?,
        header(&head, "webhook-timestamp").context("ts")?,
        header(&head, "webhook-signature").context("sig")?,
    );
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.decode(&secret[6..])?;
    assert_eq!(
        sig,
        roost_node::sign_webhook(&key, msg_id, ts.parse()?, &body)
    );
    let events = events_of(&c, &tok, &id, "webhook_attempt").await?;
    assert!(events.contains("\"status\":200"), "{events}");

    // With the default policy a loopback receiver is refused, recorded, and given up on.
    let strict = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&strict, "hooks")?;
    let id = finish_job_with_webhook(&strict, &tok, "http://127.0.0.1:9/hook").await?;
    let events = events_of(&strict, &tok, &id, "webhook_gave_up").await?;
    assert!(events.contains("private or loopback"), "{events}");
    Ok(())
}

/// Receivers that accept and never answer hold up only their own webhooks: another job's
/// webhook, finished after theirs, arrives at once rather than after their timeouts.
#[tokio::test]
async fn a_slow_receiver_does_not_delay_another_tenants_webhook() -> anyhow::Result<()> {
    let allowed = format!("{SECRET}\n[webhooks]\nallow_private_addresses = true");
    let c = Cluster::start_with(1, 1, &allowed, "").await?;
    let slow_tok = token(&c, "slow")?;
    let mut silent = Vec::new();
    for _ in 0..3 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        // Accept, read nothing, answer nothing, keep the connection open.
        silent.push(tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        }));
        finish_job_with_webhook(&c, &slow_tok, &url).await?;
    }
    // Let the slow deliveries start.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tok = token(&c, "fast")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let received = tokio::spawn(receive_one(listener));
    let started = Instant::now();
    let id = finish_job_with_webhook(&c, &tok, &url).await?;
    let (_, body) = tokio::time::timeout(Duration::from_secs(5), received).await???;
    assert!(body.contains(&id), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    for s in silent {
        s.abort();
    }
    Ok(())
}

/// A receiver on an IPv6 literal (`http://[::1]:PORT/`) is delivered to, and a webhook URL
/// without a host is refused when the job is created instead of retried for hours.
#[tokio::test]
async fn webhooks_reach_ipv6_literals_and_hostless_urls_are_refused() -> anyhow::Result<()> {
    let allowed = format!("{SECRET}\n[webhooks]\nallow_private_addresses = true");
    let c = Cluster::start_with(1, 1, &allowed, "").await?;
    let tok = token(&c, "hooks6")?;
    let listener = tokio::net::TcpListener::bind("[::1]:0").await?;
    let url = format!("http://[::1]:{}/hook", listener.local_addr()?.port());
    let received = tokio::spawn(receive_one(listener));
    let id = finish_job_with_webhook(&c, &tok, &url).await?;
    let (_, body) = tokio::time::timeout(Duration::from_secs(15), received).await???;
    let v: Value = serde_json::from_str(&body)?;
    assert_eq!(v["data"]["id"].as_str(), Some(id.as_str()), "{body}");

    for bad in ["http://", "ftp://hooks.example/x"] {
        let (s, v, _) = call(
            &c,
            1,
            &tok,
            reqwest::Method::POST,
            "/jobs",
            Some(json!({"type": "hooked", "webhook": bad})),
        )
        .await?;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("invalid_field")),
            "{bad}: {v}"
        );
    }
    Ok(())
}
