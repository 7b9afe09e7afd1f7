//! The HTTP side of the workloads, round-robin over every configured node URL; any non-2xx
//! reply is an error carrying the status and body, so a broken run aborts instead of
//! producing numbers.
//!
//! Creating queues and the jobs calls go through `roost-client` (on this client's connection
//! pool). Publish, pull and ack, the hot loops the queue workloads measure, keep their own
//! requests here: they read only the fields they need (a seq, the pulled seqs) instead of
//! whole typed replies with every payload, and retry on another node after a connection
//! failure, so moving them would change what the benchmark measures.
//!
//! With failover (`--idempotency-keys`), a publish, pull or ack whose connection failed goes
//! to the next node instead: what a client of a cluster whose nodes restart one by one does.
//! That is safe because pulls and acks are idempotent and each publish then carries an
//! `Idempotency-Key`, so a retried publish that had landed is answered with its first seq.
//! A reply that arrived, 5xx included, is never retried: it fails the run.
//!
//! Leader-aware (`--leader-aware`), a publish, pull or ack goes to the node that leads its
//! queue's shard (the two hex digits after `q_` in the queue id), from a routing map built
//! from `GET /cluster` of every `--url`; a reply carrying the `Roost-Leader` hint (the node
//! forwarded the request: leadership moved) points the shard at the node it names. Job
//! requests go through `roost_client::Client::with_nodes` over the nodes found here, which
//! learns the workspace's leader from that hint.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use anyhow::Context;
use roost_client::wire::{ClaimJobs, CompleteJob, CreateJob, CreateQueue, Doc, LEADER_HEADER};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Consumer id the benchmark registers and pulls as.
pub(crate) const CONSUMER_ID: &str = "bench";

/// Longest slice of an error reply body quoted in an error message.
const MAX_ERROR_BODY: usize = 2000;

/// Most times one request goes to another node after a connection failure.
const MAX_FAILOVERS: u32 = 20;

/// Pause before sending again after a connection failure, per failure so far.
const FAILOVER_PAUSE: Duration = Duration::from_millis(50);

/// A queue created for one repetition, with the key needed to use it.
#[derive(Debug, Clone)]
pub(crate) struct QueueHandle {
    /// Server-assigned id (`q_...`).
    pub id: String,
    /// Bearer key for the queue (`qk_...`).
    pub key: String,
}

/// Reply to `POST /q/{id}/publish` (extra fields ignored).
#[derive(Debug, Deserialize)]
struct PublishReply {
    seq: u64,
}

/// Reply to `POST /q/{id}/publish/batch` (extra fields ignored).
#[derive(Debug, Deserialize)]
struct BatchReply {
    results: Vec<BatchItem>,
}

/// One message's outcome in a batch reply: stored ones carry a seq.
#[derive(Debug, Deserialize)]
struct BatchItem {
    seq: Option<u64>,
}

/// One message in a pull reply; only the sequence number matters to the benchmark.
#[derive(Debug, Deserialize)]
pub(crate) struct PulledMessage {
    /// Queue sequence number of the message.
    pub seq: u64,
}

/// Reply to `GET /q/{id}/pull`.
#[derive(Debug, Deserialize)]
pub(crate) struct PullReply {
    /// Messages with `seq > cursor`, in order.
    pub messages: Vec<PulledMessage>,
    /// Cursor to pass to the next pull (and to ack).
    pub next_cursor: u64,
    /// Whether more messages were available beyond this batch.
    #[serde(default)]
    pub has_more: bool,
}

/// Shared HTTP client: one connection pool, requests spread round-robin over `urls`.
#[derive(Debug)]
pub(crate) struct Api {
    client: reqwest::Client,
    urls: Vec<String>,
    /// A typed client of each of `urls`, on `client`'s connection pool.
    nodes: Vec<roost_client::Client>,
    next: AtomicUsize,
    /// Whether publishes carry idempotency keys and requests fail over (see the module doc).
    failover: bool,
    /// Requests sent again to another node after a connection failure.
    failovers: AtomicU64,
    /// With `--leader-aware`: a client of every node that sends job requests to the leader
    /// of the workspace's shard (`roost_client::Client::with_nodes`).
    jobs: Option<roost_client::Client>,
    /// With `--leader-aware`: where each shard's queue requests go (see the module doc).
    routes: Option<Routes>,
}

/// The routing map of `--leader-aware`.
#[derive(Debug)]
struct Routes {
    /// The URL of each node, by node id (each `--url` asked `GET /cluster` for its id).
    nodes: HashMap<u64, String>,
    /// The URL of each shard's leader, by shard group.
    leaders: RwLock<HashMap<u32, String>>,
    /// Replies that carried a leader hint.
    hints: AtomicU64,
}

/// The part of `GET /cluster` the routing map reads.
#[derive(Debug, Deserialize)]
struct ClusterReply {
    node_id: u64,
    groups: Vec<GroupReply>,
}

/// One group of `GET /cluster`.
#[derive(Debug, Deserialize)]
struct GroupReply {
    group: u32,
    leader: Option<u64>,
}

/// The shard of a queue id (`q_` + two hex digits of shard + …), if it has one.
fn shard_of(queue_id: &str) -> Option<u32> {
    let digits = queue_id.strip_prefix("q_")?.get(..2)?;
    u32::from_str_radix(digits, 16).ok()
}

/// How one attempt of a request failed.
enum Failure {
    /// The connection failed before a whole reply arrived: the request may be sent again.
    Connection(anyhow::Error),
    /// The server answered, and not with success.
    Answered(anyhow::Error),
}

impl Api {
    /// Builds the client. `pool_idle` is how many keep-alive connections per node the pool
    /// retains; `timeout` bounds every single request.
    pub(crate) fn new(
        urls: Vec<String>,
        pool_idle: usize,
        timeout: Duration,
        failover: bool,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!urls.is_empty(), "no server url given");
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(pool_idle)
            .tcp_nodelay(true)
            .timeout(timeout)
            .build()
            .context("building HTTP client")?;
        let nodes = urls
            .iter()
            .map(|u| roost_client::Client::with_http(u, client.clone()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            client,
            urls,
            nodes,
            next: AtomicUsize::new(0),
            failover,
            failovers: AtomicU64::new(0),
            jobs: None,
            routes: None,
        })
    }

    /// Makes queue requests leader-aware: asks every URL's `GET /cluster` for its node id and
    /// each shard's leader (the first node that answers names the leaders).
    pub(crate) async fn learn_leaders(&mut self) -> anyhow::Result<()> {
        let mut known = Vec::new();
        let mut leaders = HashMap::new();
        for url in &self.urls {
            let path = format!("{url}/cluster");
            let body = match attempt(self.client.get(&path), "cluster", &path).await {
                Ok((body, _)) => body,
                Err(Failure::Connection(_)) => continue,
                Err(Failure::Answered(e)) => return Err(e),
            };
            let cluster: ClusterReply = parse(&body, "cluster", "/cluster")?;
            known.push((cluster.node_id, url.clone()));
            if leaders.is_empty() {
                leaders = cluster
                    .groups
                    .iter()
                    .filter_map(|g| Some((g.group, g.leader?)))
                    .collect();
            }
        }
        anyhow::ensure!(!known.is_empty(), "no --url answered GET /cluster");
        self.jobs = Some(roost_client::Client::with_nodes(
            &known,
            self.client.clone(),
        )?);
        let nodes: HashMap<u64, String> = known.into_iter().collect();
        let leaders = leaders
            .into_iter()
            .filter_map(|(group, leader)| Some((group, nodes.get(&leader)?.clone())))
            .collect();
        self.routes = Some(Routes {
            nodes,
            leaders: RwLock::new(leaders),
            hints: AtomicU64::new(0),
        });
        Ok(())
    }

    /// Replies that carried a leader hint (leader-aware runs only).
    pub(crate) fn hints(&self) -> u64 {
        self.routes
            .as_ref()
            .map_or(0, |r| r.hints.load(Ordering::Relaxed))
    }

    /// The URL of `queue_id`'s shard leader, when leader-aware and known.
    fn leader_url(&self, queue_id: &str) -> Option<String> {
        let routes = self.routes.as_ref()?;
        let shard = shard_of(queue_id)?;
        let leaders = routes.leaders.read().unwrap_or_else(|p| p.into_inner());
        leaders.get(&shard).cloned()
    }

    /// Where the URL of `queue_id`'s shard leader stands among the `--url`s, when
    /// leader-aware and known.
    pub(crate) fn leader_index(&self, queue_id: &str) -> Option<usize> {
        let leader = self.leader_url(queue_id)?;
        self.urls.iter().position(|u| *u == leader)
    }

    /// Points `queue_id`'s shard at node `leader`, which a reply named.
    fn learn_hint(&self, queue_id: &str, leader: u64) {
        let Some(routes) = self.routes.as_ref() else {
            return;
        };
        routes.hints.fetch_add(1, Ordering::Relaxed);
        if let (Some(shard), Some(url)) = (shard_of(queue_id), routes.nodes.get(&leader)) {
            let mut leaders = routes.leaders.write().unwrap_or_else(|p| p.into_inner());
            leaders.insert(shard, url.clone());
        }
    }

    /// Requests sent again to another node after a connection failure.
    pub(crate) fn failovers(&self) -> u64 {
        self.failovers.load(Ordering::Relaxed)
    }

    /// Sends the request `build` makes for a node's URL of `path` about `queue_id` (to its
    /// shard's leader when leader-aware, else the next node), on the next node after a
    /// connection failure when failing over (at most [`MAX_FAILOVERS`] times).
    async fn call(
        &self,
        what: &str,
        queue_id: &str,
        path: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<String> {
        let mut failures = 0;
        loop {
            let leader = if failures == 0 {
                self.leader_url(queue_id)
            } else {
                None
            };
            let url = match leader {
                Some(base) => format!("{base}{path}"),
                None => format!("{}{path}", self.base()),
            };
            match attempt(build(&url), what, &url).await {
                Ok((body, hint)) => {
                    if let Some(leader) = hint {
                        self.learn_hint(queue_id, leader);
                    }
                    return Ok(body);
                }
                Err(Failure::Connection(_)) if self.failover && failures < MAX_FAILOVERS => {
                    failures += 1;
                    self.failovers.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(FAILOVER_PAUSE * failures).await;
                }
                Err(Failure::Connection(e) | Failure::Answered(e)) => return Err(e),
            }
        }
    }

    /// The base URL for the next request (round-robin).
    fn base(&self) -> &str {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        &self.urls[n % self.urls.len()]
    }

    /// The typed client of the node for the next request (round-robin).
    fn node(&self) -> &roost_client::Client {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        &self.nodes[n % self.nodes.len()]
    }

    /// The typed client for a job request: leader-aware, or the next node.
    fn jobs_node(&self) -> &roost_client::Client {
        self.jobs.as_ref().unwrap_or_else(|| self.node())
    }

    /// Creates a fresh queue with the single consumer `bench`.
    pub(crate) async fn create_queue(&self) -> anyhow::Result<QueueHandle> {
        let req = CreateQueue {
            consumers: vec![CONSUMER_ID.to_owned()],
            ..CreateQueue::default()
        };
        let created = self
            .node()
            .create_queue(&req)
            .await
            .context("create queue")?;
        Ok(QueueHandle {
            id: created.frame.queue_id,
            key: created.queue_api_key,
        })
    }

    /// Publishes message `i`'s JSON body; returns the sequence number the server assigned.
    pub(crate) async fn publish(
        &self,
        queue: &QueueHandle,
        i: u64,
        body: String,
    ) -> anyhow::Result<u64> {
        let path = format!("/q/{}/publish", queue.id);
        let key = format!("bench-{i}");
        let text = self
            .call("publish", &queue.id, &path, |url| {
                let req = self
                    .client
                    .post(url)
                    .bearer_auth(&queue.key)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
                if self.failover {
                    req.header("Idempotency-Key", &key)
                } else {
                    req
                }
            })
            .await?;
        let reply: PublishReply = parse(&text, "publish", &path)?;
        Ok(reply.seq)
    }

    /// Publishes messages `first..` (their JSON bodies) in one batch request; returns the
    /// seqs the server assigned, in order. Fails unless every message was stored.
    pub(crate) async fn publish_batch(
        &self,
        queue: &QueueHandle,
        first: u64,
        bodies: &[String],
    ) -> anyhow::Result<Vec<u64>> {
        let path = format!("/q/{}/publish/batch", queue.id);
        // The bodies are JSON already: spliced in, not parsed and written again.
        let mut body = String::from(r#"{"messages":["#);
        for (n, b) in bodies.iter().enumerate() {
            if n > 0 {
                body.push(',');
            }
            body.push_str(r#"{"payload":"#);
            body.push_str(b);
            if self.failover {
                body.push_str(&format!(
                    r#","idempotency_key":"bench-{}""#,
                    first + n as u64
                ));
            }
            body.push('}');
        }
        body.push_str("]}");
        let text = self
            .call("publish batch", &queue.id, &path, |url| {
                self.client
                    .post(url)
                    .bearer_auth(&queue.key)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let reply: BatchReply = parse(&text, "publish batch", &path)?;
        anyhow::ensure!(
            reply.results.len() == bodies.len(),
            "{path}: {} results for {} messages",
            reply.results.len(),
            bodies.len()
        );
        reply
            .results
            .into_iter()
            .map(|r| {
                r.seq
                    .with_context(|| format!("{path}: a message not stored"))
            })
            .collect()
    }

    /// Enqueues a job of `job_type` with a workspace token.
    pub(crate) async fn create_job(
        &self,
        token: &str,
        job_type: &str,
        payload: Doc,
    ) -> anyhow::Result<()> {
        let req = CreateJob {
            job_type: job_type.to_owned(),
            payload: Some(payload),
            ..CreateJob::default()
        };
        self.jobs_node()
            .create_job(token, &req)
            .await
            .context("create job")?;
        Ok(())
    }

    /// Claims up to `limit` jobs of `job_type`: `(id, token)` of each (none when none is
    /// pending).
    pub(crate) async fn claim_jobs(
        &self,
        token: &str,
        job_type: &str,
        worker: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let req = ClaimJobs {
            worker_id: worker.to_owned(),
            types: vec![job_type.to_owned()],
            limit: Some(limit),
            wait: None,
        };
        let claimed = self
            .jobs_node()
            .claim_jobs(token, &req)
            .await
            .context("claim jobs")?;
        claimed
            .jobs
            .into_iter()
            .map(|j| Ok((j.id, j.token.context("a claimed job without its token")?)))
            .collect()
    }

    /// Completes a claimed job.
    pub(crate) async fn complete_job(
        &self,
        token: &str,
        id: &str,
        lease: &str,
    ) -> anyhow::Result<()> {
        let req = CompleteJob {
            token: lease.to_owned(),
            result: Some(Doc::parse(r#"{"ok":true}"#)?),
        };
        self.jobs_node()
            .complete_job(token, id, &req)
            .await
            .context("complete job")?;
        Ok(())
    }

    /// Pulls up to `limit` messages with `seq > cursor` as consumer `bench`.
    pub(crate) async fn pull(
        &self,
        queue: &QueueHandle,
        cursor: u64,
        limit: u64,
    ) -> anyhow::Result<PullReply> {
        let path = format!(
            "/q/{}/pull?consumer_id={CONSUMER_ID}&cursor={cursor}&limit={limit}",
            queue.id
        );
        let text = self
            .call("pull", &queue.id, &path, |url| {
                self.client.get(url).bearer_auth(&queue.key)
            })
            .await?;
        parse(&text, "pull", &path)
    }

    /// Acknowledges everything up to and including `cursor` for consumer `bench`.
    pub(crate) async fn ack(&self, queue: &QueueHandle, cursor: u64) -> anyhow::Result<()> {
        let path = format!("/q/{}/ack", queue.id);
        self.call("ack", &queue.id, &path, |url| {
            self.client
                .post(url)
                .bearer_auth(&queue.key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(format!(
                    "{{\"consumer_id\":\"{CONSUMER_ID}\",\"cursor\":{cursor}}}"
                ))
        })
        .await
        .map(drop)
    }
}

/// One attempt of `req`: the reply body and the leader hint it carried, or how it failed.
async fn attempt(
    req: reqwest::RequestBuilder,
    what: &str,
    url: &str,
) -> Result<(String, Option<u64>), Failure> {
    let resp = req.send().await.map_err(|e| {
        Failure::Connection(
            anyhow::Error::new(e).context(format!("{what}: request to {url} failed")),
        )
    })?;
    let status = resp.status();
    let hint = resp
        .headers()
        .get(LEADER_HEADER)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body = resp.text().await.map_err(|e| {
        Failure::Connection(
            anyhow::Error::new(e)
                .context(format!("{what}: reading reply from {url} (HTTP {status})")),
        )
    })?;
    if !status.is_success() {
        return Err(Failure::Answered(anyhow::anyhow!(
            "{what}: {url} replied HTTP {status}: {}",
            clip(&body)
        )));
    }
    Ok((body, hint))
}

/// Parses a reply body as JSON `T`.
fn parse<T: DeserializeOwned>(body: &str, what: &str, path: &str) -> anyhow::Result<T> {
    serde_json::from_str(body)
        .with_context(|| format!("{what}: unexpected reply to {path}: {}", clip(body)))
}

/// Shortens a reply body for an error message, on a char boundary.
fn clip(body: &str) -> String {
    if body.len() <= MAX_ERROR_BODY {
        return body.to_owned();
    }
    let mut end = MAX_ERROR_BODY;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &body[..end], body.len())
}

/// Normalizes `--url` values: trims whitespace and trailing `/`, drops empty entries and
/// defaults the scheme to `http://`.
pub(crate) fn normalize_urls(raw: &[String]) -> Vec<String> {
    raw.iter()
        .map(|u| u.trim().trim_end_matches('/'))
        .filter(|u| !u.is_empty())
        .map(|u| {
            if u.contains("://") {
                u.to_owned()
            } else {
                format!("http://{u}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_read_from_queue_ids() {
        assert_eq!(shard_of("q_01a3b4c5d6e7f8a9"), Some(1));
        assert_eq!(shard_of("q_ff00000000000000"), Some(255));
        assert_eq!(shard_of("q_0"), None);
        assert_eq!(shard_of("j_0100000000000000"), None);
        assert_eq!(shard_of("q_zz00000000000000"), None);
    }

    #[test]
    fn urls_are_normalized() {
        let raw = vec![
            " http://a:1/ ".to_owned(),
            "b:2".to_owned(),
            String::new(),
            "https://c".to_owned(),
        ];
        assert_eq!(
            normalize_urls(&raw),
            vec!["http://a:1", "http://b:2", "https://c"]
        );
    }

    #[test]
    fn clip_keeps_short_bodies_and_cuts_long_ones() {
        assert_eq!(clip("oops"), "oops");
        let long = "é".repeat(MAX_ERROR_BODY);
        let clipped = clip(&long);
        assert!(clipped.len() < long.len());
        assert!(clipped.ends_with(&format!("({} bytes)", long.len())));
    }

    #[test]
    fn pull_reply_parses_and_ignores_extra_fields() {
        let r: PullReply = serde_json::from_str(
            r#"{"messages":[{"seq":3,"id":"qm_x","payload":{}}],"next_cursor":3,"has_more":false}"#,
        )
        .expect("parse");
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].seq, 3);
        assert_eq!(r.next_cursor, 3);
        assert!(!r.has_more);
    }

    #[test]
    fn round_robin_over_urls() {
        let api = Api::new(
            vec!["http://a".to_owned(), "http://b".to_owned()],
            1,
            Duration::from_secs(1),
            false,
        )
        .expect("client");
        let seen: Vec<String> = (0..4).map(|_| api.base().to_owned()).collect();
        assert_eq!(seen, vec!["http://a", "http://b", "http://a", "http://b"]);
    }
}
