//! One node: the quickstart flow and bad input, over real HTTP.

use anyhow::Context;
use serde_json::{json, Value};

use crate::api::{self, create, publish};
use crate::harness::Cluster;

async fn error_of(r: reqwest::Response) -> anyhow::Result<(u16, String)> {
    let status = r.status().as_u16();
    let v: Value = r.json().await?;
    assert!(v["_help"].as_str().is_some_and(|h| !h.is_empty()), "{v}");
    assert!(v["error"].is_string(), "{v}");
    Ok((status, v["code"].as_str().unwrap_or_default().to_owned()))
}

#[tokio::test]
async fn quickstart_and_bad_input() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    let base = c.url(1).to_owned();
    let q = create(&c, 1, &["me"]).await?;
    assert!(q.key.starts_with("qk_") && q.key.len() == 67);

    // Publish without Content-Type, as curl -d does.
    let r = c
        .http
        .post(format!("{base}/q/{}/publish", q.id))
        .bearer_auth(&q.key)
        .body(r#"{"hello":"world"}"#)
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await?;
    assert_eq!(v["seq"], 1);
    assert!(v["id"].as_str().is_some_and(|id| id.starts_with("qm_")));

    let pulled = api::pull_all(&c, 1, &q, "me").await?;
    assert_eq!(pulled.len(), 1);
    assert_eq!(pulled[0]["payload"], json!({"hello": "world"}));
    assert_eq!(pulled[0]["source"], "publish");

    // Idempotency: same key and body → the original; other body → 422.
    let (s1, v1) = publish(&c, 1, &q, &json!({"n": 1}), Some("key-1")).await?;
    let r2 = c
        .http
        .post(format!("{base}/q/{}/publish", q.id))
        .bearer_auth(&q.key)
        .header("Idempotency-Key", "key-1")
        .json(&json!({"n": 1}))
        .send()
        .await?;
    assert_eq!((s1, r2.status().as_u16()), (201, 201));
    assert_eq!(r2.headers()["idempotent-replayed"], "true");
    let v2: Value = r2.json().await?;
    assert_eq!(
        (v1["seq"].clone(), v1["id"].clone()),
        (v2["seq"].clone(), v2["id"].clone())
    );
    let (s3, v3) = publish(&c, 1, &q, &json!({"n": 2}), Some("key-1")).await?;
    assert_eq!(
        (s3, v3["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    // Bad input: each refused with its code, and nothing changes.
    let post = |path: String, key: Option<&str>, body: &'static str| {
        let mut r = c.http.post(format!("{base}{path}")).body(body);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    let publish_path = format!("/q/{}/publish", q.id);
    let cases = vec![
        (
            post(publish_path.clone(), Some(&q.key), "{not json").await?,
            400,
            "invalid_json",
        ),
        (
            post(publish_path.clone(), Some(&q.key), "").await?,
            400,
            "invalid_json",
        ),
        (
            post(publish_path.clone(), None, "{}").await?,
            401,
            "missing_api_key",
        ),
        (
            post(publish_path.clone(), Some("qk_wrong"), "{}").await?,
            401,
            "invalid_api_key",
        ),
        (
            post("/q/q_0100000000000000/publish".into(), Some(&q.key), "{}").await?,
            404,
            "queue_not_found",
        ),
        (
            post("/q/not-an-id/publish".into(), Some(&q.key), "{}").await?,
            404,
            "queue_not_found",
        ),
        (
            post(
                format!("/q/{}/ack", q.id),
                Some(&q.key),
                r#"{"cursor":-1,"consumer_id":"me"}"#,
            )
            .await?,
            400,
            "invalid_json",
        ),
        (
            post(
                format!("/q/{}/ack", q.id),
                Some(&q.key),
                r#"{"cursor":1,"consumer_id":"bad id!"}"#,
            )
            .await?,
            400,
            "invalid_consumer_id",
        ),
        (
            post(
                format!("/q/{}/ack", q.id),
                Some(&q.key),
                r#"{"cursor":99,"consumer_id":"me"}"#,
            )
            .await?,
            422,
            "cursor_past_head",
        ),
        (
            post("/q/create".into(), None, r#"{"consumers":"me"}"#).await?,
            400,
            "invalid_json",
        ),
        (
            post("/nowhere".into(), None, "").await?,
            404,
            "route_not_found",
        ),
    ];
    for (i, (resp, status, code)) in cases.into_iter().enumerate() {
        assert_eq!(error_of(resp).await?, (status, code.to_owned()), "case {i}");
    }
    let big = "x".repeat(300 * 1024);
    // The server answers 413 without reading the body and closes that connection, so this
    // request gets a client of its own (a pooled connection would be closed under the next one).
    let r = reqwest::Client::new()
        .post(format!("{base}{publish_path}"))
        .bearer_auth(&q.key)
        .body(format!("{{\"big\":\"{big}\"}}"))
        .send()
        .await?;
    assert_eq!(error_of(r).await?, (413, "payload_too_large".to_owned()));
    for (query, code) in [
        ("cursor=0", "missing_consumer_id"),
        ("consumer_id=me&cursor=abc", "invalid_cursor"),
        ("consumer_id=me&limit=0", "invalid_limit"),
        ("consumer_id=me&limit=1001", "invalid_limit"),
        ("consumer_id=me&consumer_id=you", "bad_request"),
    ] {
        let r = c
            .http
            .get(format!("{base}/q/{}/pull?{query}", q.id))
            .bearer_auth(&q.key)
            .send()
            .await?;
        assert_eq!(error_of(r).await?, (400, code.to_owned()), "{query}");
    }
    // Nothing above changed the queue: two messages, cursor of "me" still 0.
    let r: Value = c
        .http
        .get(format!("{base}/q/{}/pull?consumer_id=me", q.id))
        .bearer_auth(&q.key)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(r["cursor"], 0);
    assert_eq!(r["messages"].as_array().map(Vec::len), Some(2));

    // Ack is UPSERT MAX, and pull without a cursor starts from the acked one.
    for (cursor, stored) in [(2, 2), (1, 2)] {
        let r: Value = c
            .http
            .post(format!("{base}/q/{}/ack", q.id))
            .bearer_auth(&q.key)
            .json(&json!({"cursor": cursor, "consumer_id": "me"}))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(r["cursor"], stored);
    }
    let r: Value = c
        .http
        .get(format!("{base}/q/{}/pull?consumer_id=me", q.id))
        .bearer_auth(&q.key)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        (r["cursor"].clone(), r["messages"].as_array().map(Vec::len)),
        (json!(2), Some(0))
    );
    Ok(())
}

#[tokio::test]
async fn readme_quickstart_works_as_written() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    crate::harness::readme_quickstart(c.url(1))
}

#[tokio::test]
async fn a_node_restarted_with_another_shard_count_is_not_ready() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    c.kill(1)?;
    c.edit_config(1, "shards = 2", "shards = 3")?;
    c.spawn(1)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(r) = c.http.get(format!("{}/readyz", c.url(1))).send().await {
            if r.status() == 503 {
                let v: Value = r.json().await?;
                if v["code"] == "layout_mismatch" {
                    assert!(
                        v["error"].as_str().is_some_and(|e| e.contains("shards")),
                        "{v}"
                    );
                    return Ok(());
                }
            }
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "mismatch never reported"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_seed_documents_curls_work_with_only_the_base_url_changed() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/seed_curls.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .env("BASE", c.url(1))
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("seed curls: all passed"), "{stdout}");
    Ok(())
}

/// The secrets a one-node cluster generates stay out of its log and away from other users: the
/// data dir is `0700`, each secret file `0600`, and the log names only their paths.
#[tokio::test]
async fn generated_secrets_are_private_files_never_logged() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let c = Cluster::start(1, 1, "").await?;
    let node = c.node(1);
    let mode = |p: &std::path::Path| -> anyhow::Result<u32> {
        Ok(std::fs::metadata(p)
            .with_context(|| p.display().to_string())?
            .permissions()
            .mode()
            & 0o777)
    };
    assert_eq!(mode(&node.data)?, 0o700);
    let log = std::fs::read_to_string(node.data.with_extension("log"))?;
    for name in ["jwt.secret", "webhook.secret", "default-workspace.token"] {
        let path = node.data.join(name);
        assert_eq!(mode(&path)?, 0o600, "{name}");
        let secret = std::fs::read_to_string(&path)?;
        let secret = secret.trim();
        assert!(secret.len() >= 32, "{name}: {secret:?}");
        assert!(!log.contains(secret), "{name} is in the log:\n{log}");
        // The base64 half of `whsec_…` alone is the key.
        let key = secret.strip_prefix("whsec_").unwrap_or(secret);
        assert!(!log.contains(key), "{name}'s key is in the log:\n{log}");
    }
    assert!(log.contains("default-workspace.token"), "{log}");
    // The token in the file is the one the node accepts.
    let token = std::fs::read_to_string(node.data.join("default-workspace.token"))?;
    let r = c
        .http
        .get(format!("{}/jobs", c.url(1)))
        .bearer_auth(token.trim())
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    Ok(())
}

/// Links point where the operator says (`public_url`) or where the client came from, never
/// where a forged `Host` says: a Host that is not a plain host is refused before anything runs.
#[tokio::test]
async fn links_never_follow_a_forged_host() -> anyhow::Result<()> {
    let c = Cluster::start(1, 1, "").await?;
    let queues = |s: &Value| -> u64 {
        s["groups"]
            .as_array()
            .map(|g| g.iter().map(|g| g["queues"].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    };
    let before = queues(&c.status(1).await?);
    let create = |host: &str| {
        c.http
            .post(format!("{}/q/create", c.url(1)))
            .header("Host", host)
            .json(&json!({}))
            .send()
    };
    for host in [
        "evil.example/steal?",
        "evil.example#x",
        "user@evil.example",
        "a b",
    ] {
        let (status, code) = error_of(create(host).await?).await?;
        assert_eq!((status, code.as_str()), (400, "invalid_host"), "{host}");
    }
    assert_eq!(
        queues(&c.status(1).await?),
        before,
        "a refused create changed nothing"
    );
    let v: Value = create("roost.example:8443").await?.json().await?;
    let url = v["publish_url"].as_str().unwrap_or_default();
    assert!(url.starts_with("http://roost.example:8443/q/"), "{v}");

    let public = Cluster::start_with(1, 1, "public_url = \"https://inbox.example/\"", "").await?;
    let v: Value = public
        .http
        .post(format!("{}/q/create", public.url(1)))
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let url = v["publish_url"].as_str().unwrap_or_default();
    assert!(url.starts_with("https://inbox.example/q/"), "{v}");
    Ok(())
}

/// Refused credentials leave one warning per client address per 10 s, with the route and the
/// count, never the key.
#[tokio::test]
async fn refused_keys_are_logged_once_in_a_while_without_the_key() -> anyhow::Result<()> {
    let c = Cluster::start(1, 1, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let wrong = "qk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for _ in 0..20 {
        let r = c
            .http
            .post(format!("{}/q/{}/publish", c.url(1), q.id))
            .bearer_auth(wrong)
            .json(&json!({"n": 1}))
            .send()
            .await?;
        assert_eq!(r.status(), 401);
    }
    let log = std::fs::read_to_string(c.node(1).data.with_extension("log"))?;
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused credentials"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("/publish") && lines[0].contains("127.0.0.1"),
        "{}",
        lines[0]
    );
    assert!(
        !log.contains(wrong) && !log.contains(&q.key),
        "a key is in the log"
    );
    Ok(())
}

/// Refused credentials over gRPC are logged the same way.
#[tokio::test]
async fn refused_grpc_keys_are_logged_too() -> anyhow::Result<()> {
    use roost_grpc::pb;
    let c = Cluster::start(1, 1, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let wrong = "qk_fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    let mut grpc = pb::queues_client::QueuesClient::connect(c.node(1).grpc.clone()).await?;
    for _ in 0..5 {
        let mut req = tonic::Request::new(pb::PublishRequest {
            queue_id: q.id.clone(),
            payload: b"{}".to_vec(),
            ..Default::default()
        });
        req.metadata_mut()
            .insert("authorization", format!("Bearer {wrong}").parse()?);
        let refused = grpc.publish(req).await.expect_err("wrong key");
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    }
    let log = std::fs::read_to_string(c.node(1).data.with_extension("log"))?;
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused credentials"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("Queues/Publish") && lines[0].contains("127.0.0.1"),
        "{}",
        lines[0]
    );
    assert!(!log.contains(wrong), "a key is in the log");
    Ok(())
}

/// A JSON document nested deeper than ordinary clients can read back is refused at the door,
/// over HTTP (messages, job payloads) and gRPC alike; 100 levels are fine.
#[tokio::test]
async fn documents_nested_deeper_than_128_are_refused() -> anyhow::Result<()> {
    use roost_grpc::pb;
    let c = Cluster::start_with(1, 1, crate::jobs::SECRET, "").await?;
    let q = create(&c, 1, &["me"]).await?;
    let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let send = |body: String| {
        c.http
            .post(format!("{}/q/{}/publish", c.url(1), q.id))
            .bearer_auth(&q.key)
            .body(body)
            .send()
    };
    assert_eq!(send(nested(100)).await?.status(), 201);
    for n in [129, 100_000] {
        let (status, code) = error_of(send(nested(n)).await?).await?;
        assert_eq!((status, code.as_str()), (400, "invalid_json"), "{n} deep");
    }
    let tok = crate::jobs::token(&c, "deep")?;
    let job = format!(r#"{{"type": "t", "payload": {}}}"#, nested(200));
    let r = c
        .http
        .post(format!("{}/jobs", c.url(1)))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body(job)
        .send()
        .await?;
    let (status, code) = error_of(r).await?;
    assert_eq!((status, code.as_str()), (400, "invalid_json"));

    let mut client =
        roost_grpc::pb::queues_client::QueuesClient::connect(c.node(1).grpc.clone()).await?;
    let mut req = tonic::Request::new(pb::PublishRequest {
        queue_id: q.id.clone(),
        payload: nested(200).into_bytes(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {}", q.key).parse()?);
    let refused = client.publish(req).await.expect_err("too deep");
    assert!(refused.message().starts_with("invalid_json"), "{refused:?}");
    Ok(())
}

/// Creating needs no key, so each client address may create only so many queues and forms a
/// minute (`creates_per_minute`); over it, 429 with `Retry-After`, and nothing is created.
#[tokio::test]
async fn anonymous_creates_are_limited_per_address() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 1, "creates_per_minute = 3", "").await?;
    let post = |path: &str| {
        c.http
            .post(format!("{}{path}", c.url(1)))
            .json(&json!({}))
            .send()
    };
    for path in ["/q/create", "/new", "/q/create"] {
        assert_eq!(post(path).await?.status(), 201, "{path}");
    }
    for path in ["/q/create", "/new"] {
        let r = post(path).await?;
        let retry = r.headers().get("retry-after").cloned();
        let (status, code) = error_of(r).await?;
        assert_eq!((status, code.as_str()), (429, "rate_limited"), "{path}");
        assert_eq!(retry.as_ref().and_then(|v| v.to_str().ok()), Some("60"));
    }
    let s = c.status(1).await?;
    let queues: u64 = s["groups"]
        .as_array()
        .map(|g| g.iter().map(|g| g["queues"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0);
    assert_eq!(queues, 2, "refused creates created nothing");
    Ok(())
}
