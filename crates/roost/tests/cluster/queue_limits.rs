//! Limits on what a queue key (or no key) can make a node keep: per-queue caps on registered
//! consumers and allowed origins, over HTTP and gRPC (past them a request is refused with a
//! stable code and changes nothing), and the expiry of queues nobody used.

use roost_grpc::pb;
use roost_grpc::pb::queues_client::QueuesClient;
use serde_json::{json, Value};

use crate::harness::Cluster;

#[tokio::test]
async fn consumers_and_origins_stop_at_the_queue_caps() -> anyhow::Result<()> {
    let c = Cluster::start_with(
        1,
        1,
        "max_consumers_per_queue = 2\nmax_origins_per_queue = 1",
        "",
    )
    .await?;
    let post = |path: String, key: Option<String>, body: Value| {
        let mut req = c.http.post(format!("{}{path}", c.url(1))).json(&body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        async move {
            let r = req.send().await?;
            Ok::<_, anyhow::Error>((r.status().as_u16(), r.json::<Value>().await?))
        }
    };
    let (s, body) = post(
        "/q/create".into(),
        None,
        json!({"consumers": ["a", "b", "c"]}),
    )
    .await?;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("too_many_consumers")),
        "{body}"
    );

    let q = crate::api::create(&c, 1, &["a"]).await?;
    let ack = |consumer: &str| {
        post(
            format!("/q/{}/ack", q.id),
            Some(q.key.clone()),
            json!({"consumer_id": consumer, "cursor": 0}),
        )
    };
    assert_eq!(ack("b").await?.0, 200);
    let (s, body) = ack("c").await?;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("too_many_consumers")),
        "{body}"
    );
    let (s, body) = post(
        format!("/q/{}/origins", q.id),
        Some(q.key.clone()),
        json!({"add": ["https://a.example", "https://b.example"]}),
    )
    .await?;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("too_many_origins")),
        "{body}"
    );

    // Over gRPC too; and nothing was registered by the refusals.
    let mut grpc = QueuesClient::connect(c.node(1).grpc.clone()).await?;
    let mut req = tonic::Request::new(pb::SetConsumersRequest {
        queue_id: q.id.clone(),
        add: vec!["d".into()],
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {}", q.key).parse()?);
    let refused = grpc.set_consumers(req).await.expect_err("past the cap");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(refused.message().starts_with("too_many_consumers: "));
    let listed: Value = c
        .http
        .get(format!("{}/q/{}/consumers", c.url(1), q.id))
        .bearer_auth(&q.key)
        .send()
        .await?
        .json()
        .await?;
    let text = listed.to_string();
    assert!(text.contains("\"a\"") && text.contains("\"b\""), "{listed}");
    assert!(
        !text.contains("\"c\"") && !text.contains("\"d\""),
        "{listed}"
    );
    Ok(())
}

#[tokio::test]
async fn queues_nobody_published_to_expire_when_configured() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, "expire_unused_queues_after_secs = 2", "").await?;
    let unused = crate::api::create(&c, 1, &["a"]).await?;
    let used = crate::api::create(&c, 1, &["a"]).await?;
    crate::api::publish(&c, 1, &used, &json!({"n": 1}), None).await?;
    let status = |q: &crate::api::Queue| {
        c.http
            .get(format!("{}/q/{}", c.url(1), q.id))
            .bearer_auth(&q.key)
            .send()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while status(&unused).await?.status() != 404 {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the unused queue was not expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(&used).await?.status(), 200, "a used queue stays");
    Ok(())
}
