//! Small HTTP client helpers for the queue API.

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::harness::Cluster;

/// A created queue.
pub struct Queue {
    pub id: String,
    pub key: String,
}

impl Queue {
    /// The shard group encoded in the id.
    pub fn shard(&self) -> u64 {
        u64::from_str_radix(&self.id[2..4], 16).unwrap_or(0)
    }
}

/// Calls `/q/{id}{path}` on node 1 with the queue's key; the status and the JSON answer.
pub async fn call(
    c: &Cluster,
    q: &Queue,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = c
        .http
        .request(method, format!("{}/q/{}{path}", c.url(1), q.id))
        .bearer_auth(&q.key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

pub async fn create(c: &Cluster, node: u64, consumers: &[&str]) -> anyhow::Result<Queue> {
    let r = c
        .http
        .post(format!("{}/q/create", c.url(node)))
        .json(&json!({ "consumers": consumers }))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("create: {} {}", r.status(), r.text().await?);
    }
    let v: Value = r.json().await?;
    Ok(Queue {
        id: v["queue_id"].as_str().context("queue_id")?.to_owned(),
        key: v["queue_api_key"].as_str().context("key")?.to_owned(),
    })
}

/// Publishes `body`; returns the HTTP status and JSON reply.
pub async fn publish(
    c: &Cluster,
    node: u64,
    q: &Queue,
    body: &Value,
    idem: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = c
        .http
        .post(format!("{}/q/{}/publish", c.url(node), q.id))
        .bearer_auth(&q.key)
        .json(body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Pulls every message after `cursor` (following has_more) through node `node`.
pub async fn pull_all(
    c: &Cluster,
    node: u64,
    q: &Queue,
    consumer: &str,
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor = 0u64;
    for _ in 0..10_000 {
        let r = c
            .http
            .get(format!(
                "{}/q/{}/pull?consumer_id={consumer}&cursor={cursor}&limit=1000",
                c.url(node),
                q.id
            ))
            .bearer_auth(&q.key)
            .send()
            .await?;
        if r.status() != 200 {
            bail!("pull: {} {}", r.status(), r.text().await?);
        }
        let v: Value = r.json().await?;
        let msgs = v["messages"].as_array().context("messages")?.clone();
        cursor = v["next_cursor"].as_u64().context("next_cursor")?;
        out.extend(msgs);
        if !v["has_more"].as_bool().unwrap_or(false) {
            return Ok(out);
        }
    }
    bail!("pull did not finish")
}
