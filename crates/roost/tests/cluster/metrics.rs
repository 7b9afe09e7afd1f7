//! `/metrics` on real nodes, read with the Prometheus project's Python parser (PyPI
//! `prometheus-client`, in the test command's venv): every family the issue names is there
//! with sane values, a leader kill raises `roost_raft_leader_changes` on the survivors, and a
//! frozen follower's lag (on the leader) grows under load and returns once it thaws. The
//! Grafana dashboard and the alert rules name only metrics a live scrape has, and the rules
//! pass `promtool test rules` on synthetic series.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use roost_grpc::pb;
use roost_grpc::pb::queues_client::QueuesClient;

use crate::api::{call, create, publish, pull_all, Queue};
use crate::harness::Cluster;

/// What the parser read from one node.
pub(crate) struct Scrape {
    content_type: String,
    /// Family name → type (`counter` families are named without `_total`).
    families: BTreeMap<String, String>,
    /// Every sample: name, labels, value.
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    /// The samples of `name` whose labels include `labels`.
    fn values<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = f64> + 'a {
        self.samples
            .iter()
            .filter(move |(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
    }

    /// The one sample of `name` with `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<f64> {
        let found: Vec<f64> = self.values(name, labels).collect();
        match found[..] {
            [v] => Ok(v),
            _ => bail!("{} samples of {name}{labels:?}", found.len()),
        }
    }

    /// The sum of every sample of `name` with `labels`.
    pub(crate) fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.values(name, labels).sum()
    }

    /// Whether `name` is a family or a sample name of this scrape (a query may name either).
    fn knows(&self, name: &str) -> bool {
        let family_of = |suffix: &str, kind: &str| {
            name.strip_suffix(suffix)
                .is_some_and(|f| self.families.get(f).is_some_and(|t| t == kind))
        };
        self.families.contains_key(name)
            || self.samples.iter().any(|(n, _, _)| n == name)
            || family_of("_total", "counter")
            || ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| family_of(s, "histogram"))
    }
}

/// Reads node `id`'s `/metrics` through `metrics_parse.py`.
pub(crate) async fn scrape(c: &Cluster, id: u64) -> anyhow::Result<Scrape> {
    let url = format!("{}/metrics", c.url(id));
    let out = crate::mcp::run_python("metrics_parse.py", &[&url], Duration::from_secs(30)).await?;
    anyhow::ensure!(
        out.status.success(),
        "the Prometheus parser refused node {id}'s /metrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let families = v["families"]
        .as_object()
        .context("families")?
        .iter()
        .map(|(k, t)| (k.clone(), t.as_str().unwrap_or_default().to_owned()))
        .collect();
    let samples = v["samples"]
        .as_array()
        .context("samples")?
        .iter()
        .map(|s| {
            let labels = s[1]
                .as_object()
                .map(|l| {
                    l.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            (
                s[0].as_str().unwrap_or_default().to_owned(),
                labels,
                s[2].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    Ok(Scrape {
        content_type: v["content_type"].as_str().unwrap_or_default().to_owned(),
        families,
        samples,
    })
}

/// The families every node serves (as the parser names them; a family without samples is
/// not listed).
const FAMILIES: &[&str] = &[
    "roost_request_duration_seconds",
    "roost_messages_published",
    "roost_messages_pulled",
    "roost_acks",
    "roost_nacks",
    "roost_dead_lettered",
    "roost_jobs",
    "roost_tasks",
    "roost_webhook_deliveries",
    "roost_outbox_backlog",
    "roost_raft_is_leader",
    "roost_raft_has_leader",
    "roost_raft_term",
    "roost_raft_last_log_index",
    "roost_raft_applied_index",
    "roost_raft_leader_changes",
    "roost_raft_proposal_batch_size",
    "roost_read_checks",
    "roost_snapshot_builds",
    "roost_snapshot_builds_seconds",
    "roost_snapshot_installs",
    "roost_snapshot_installs_seconds",
    "roost_wal_syncs",
    "roost_wal_syncs_seconds",
    "roost_wal_sync_duration_seconds",
    "roost_rocksdb_pending_compaction_bytes",
    "roost_rocksdb_write_stopped",
    "roost_rocksdb_live_data_bytes",
    "process_resident_memory_bytes",
    "process_open_fds",
];

/// The families only a group's leader reports (each node leads some group at the start).
const LEADER_FAMILIES: &[&str] = &[
    "roost_raft_commit_index",
    "roost_raft_follower_lag_entries",
    "roost_raft_quorum_ack_age_seconds",
];

/// Polls node `id`'s scrape until `done` holds, for at most `within`.
async fn until(
    c: &Cluster,
    id: u64,
    within: Duration,
    what: &str,
    done: impl Fn(&Scrape) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let s = scrape(c, id).await?;
        if done(&s)? {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "node {id}: {what} not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Publishes, pulls, acks and nacks through different nodes.
async fn traffic(c: &Cluster, q: &Queue, messages: u64) -> anyhow::Result<()> {
    for i in 0..messages {
        let (status, v) = publish(c, 1, q, &json!({ "i": i }), None).await?;
        anyhow::ensure!(status == 201, "publish: {status} {v}");
    }
    let pulled = pull_all(c, 2, q, "w").await?;
    anyhow::ensure!(pulled.len() as u64 == messages, "pulled {}", pulled.len());
    let post = reqwest::Method::POST;
    // The nack first: acking past a message lets it be garbage-collected.
    let nack = json!({ "consumer_id": "w", "seq": 1, "dead_letter": true });
    let (status, v) = call(c, q, post.clone(), "/nack", Some(nack)).await?;
    anyhow::ensure!(status == 200, "nack: {status} {v}");
    let ack = json!({ "consumer_id": "w", "cursor": messages });
    let (status, v) = call(c, q, post, "/ack", Some(ack)).await?;
    anyhow::ensure!(status == 200, "ack: {status} {v}");
    Ok(())
}

/// One gRPC publish and one refused, through node 2, and one MCP tool call through node 3.
async fn other_edges(c: &Cluster, q: &Queue) -> anyhow::Result<()> {
    let mut client = QueuesClient::connect(c.node(2).grpc.clone()).await?;
    let publish = |key: &str| -> anyhow::Result<tonic::Request<pb::PublishRequest>> {
        let mut req = tonic::Request::new(pb::PublishRequest {
            queue_id: q.id.clone(),
            payload: br#"{"over":"grpc"}"#.to_vec(),
            ..Default::default()
        });
        req.metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse()?);
        Ok(req)
    };
    client.publish(publish(&q.key)?).await?;
    anyhow::ensure!(client.publish(publish("qk_wrong")?).await.is_err());
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "get_queue", "arguments": { "queue_id": q.id, "queue_api_key": q.key } },
    });
    let r = c
        .http
        .post(format!("{}/mcp", c.url(3)))
        .header("accept", "application/json, text/event-stream")
        .json(&call)
        .send()
        .await?;
    let v: Value = r.json().await?;
    anyhow::ensure!(v["result"]["isError"] == json!(false), "{v}");
    Ok(())
}

#[tokio::test]
async fn metrics_parse_count_requests_and_follow_elections_and_lag() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["w"]).await?;
    let messages = 20;
    traffic(&c, &q, messages).await?;
    other_edges(&c, &q).await?;
    let scrapes = [
        scrape(&c, 1).await?,
        scrape(&c, 2).await?,
        scrape(&c, 3).await?,
    ];
    for (i, s) in scrapes.iter().enumerate() {
        let id = i + 1;
        anyhow::ensure!(
            s.content_type.starts_with("text/plain; version=0.0.4"),
            "{}",
            s.content_type
        );
        let missing: Vec<_> = FAMILIES
            .iter()
            .filter(|f| !s.families.contains_key(**f))
            .collect();
        anyhow::ensure!(missing.is_empty(), "node {id} lacks {missing:?}");
        for g in ["0", "1", "2"] {
            let term = s.value("roost_raft_term", &[("group", g)])?;
            let last = s.value("roost_raft_last_log_index", &[("group", g)])?;
            let applied = s.value("roost_raft_applied_index", &[("group", g)])?;
            anyhow::ensure!(
                term >= 1.0 && applied >= 1.0 && applied <= last,
                "node {id} group {g}: {term} {applied} {last}"
            );
            anyhow::ensure!(s.value("roost_raft_has_leader", &[("group", g)])? == 1.0);
        }
        anyhow::ensure!(s.value("process_resident_memory_bytes", &[])? > 1e6);
        anyhow::ensure!(s.value("process_open_fds", &[])? > 3.0);
        anyhow::ensure!(s.value("roost_wal_syncs_total", &[])? > 0.0);
    }
    for f in LEADER_FAMILIES {
        anyhow::ensure!(
            scrapes.iter().any(|s| s.families.contains_key(*f)),
            "no leader reports {f}"
        );
    }
    let total = |name: &str, labels: &[(&str, &str)]| {
        scrapes.iter().map(|s| s.sum(name, labels)).sum::<f64>()
    };
    for g in ["0", "1", "2"] {
        // Exactly one leader per group, and it reports its followers' lag.
        anyhow::ensure!(
            total("roost_raft_is_leader", &[("group", g)]) == 1.0,
            "group {g}"
        );
        let in_group = [("group", g)];
        let lags = scrapes
            .iter()
            .flat_map(|s| s.values("roost_raft_follower_lag_entries", &in_group))
            .count();
        anyhow::ensure!(lags == 2, "group {g}: {lags} lag samples");
    }
    // Each command counted once, on the shard's leader (the gRPC publish among them).
    anyhow::ensure!(total("roost_messages_published_total", &[]) == messages as f64 + 1.0);
    anyhow::ensure!(total("roost_messages_pulled_total", &[]) >= messages as f64);
    anyhow::ensure!(total("roost_acks_total", &[]) == 1.0);
    anyhow::ensure!(total("roost_nacks_total", &[]) == 1.0);
    anyhow::ensure!(total("roost_dead_lettered_total", &[]) == 1.0);
    // Requests by route template, never by the queue's id.
    let publishes = scrapes[0].value(
        "roost_request_duration_seconds_count",
        &[
            ("edge", "http"),
            ("operation", "POST /q/{id}/publish"),
            ("status", "201"),
        ],
    )?;
    anyhow::ensure!(publishes == messages as f64, "{publishes}");
    let count = "roost_request_duration_seconds_count";
    let grpc = [("edge", "grpc"), ("operation", "Queues/Publish")];
    anyhow::ensure!(scrapes[1].value(count, &[grpc[0], grpc[1], ("status", "0")])? == 1.0);
    let refused: f64 = scrapes[1].sum(count, &grpc) - 1.0;
    anyhow::ensure!(refused == 1.0, "{refused} refused gRPC publishes counted");
    let tool = [
        ("edge", "mcp"),
        ("operation", "get_queue"),
        ("status", "ok"),
    ];
    anyhow::ensure!(scrapes[2].value(count, &tool)? == 1.0);
    anyhow::ensure!(scrapes.iter().all(|s| s
        .samples
        .iter()
        .all(|(_, l, _)| l.values().all(|v| !v.contains(&q.id)))));

    // A frozen follower's lag grows on the leader, then returns once it thaws.
    let shard = q.shard();
    let group = shard.to_string();
    let leader = c.wait_leader(shard, Duration::from_secs(20)).await?;
    let follower = (1..=3).find(|n| *n != leader).unwrap_or(1);
    let follower_id = follower.to_string();
    let lag_labels = [
        ("group", group.as_str()),
        ("follower", follower_id.as_str()),
    ];
    c.signal(follower, "STOP")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for i in 0..20 {
            let (status, v) = publish(&c, leader, &q, &json!({ "more": i }), None).await?;
            anyhow::ensure!(
                status == 201,
                "publish with a follower frozen: {status} {v}"
            );
        }
        let lag = scrape(&c, leader)
            .await?
            .value("roost_raft_follower_lag_entries", &lag_labels)?;
        if lag >= 100.0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the frozen follower's lag stayed at {lag}"
        );
    }
    c.signal(follower, "CONT")?;
    until(
        &c,
        leader,
        Duration::from_secs(30),
        "the thawed follower caught up",
        |s| Ok(s.value("roost_raft_follower_lag_entries", &lag_labels)? <= 1.0),
    )
    .await?;

    // A leader kill: every survivor counts a change of the group's leader, and logs it.
    let meta_leader = c.wait_leader(0, Duration::from_secs(20)).await?;
    let survivors: Vec<u64> = (1..=3).filter(|n| *n != meta_leader).collect();
    let mut before = BTreeMap::new();
    for id in &survivors {
        let changes = scrape(&c, *id)
            .await?
            .value("roost_raft_leader_changes_total", &[("group", "0")])?;
        before.insert(*id, changes);
    }
    c.kill(meta_leader)?;
    for id in &survivors {
        let was = before[id];
        until(
            &c,
            *id,
            Duration::from_secs(30),
            "a new leader of group 0 counted",
            |s| Ok(s.value("roost_raft_leader_changes_total", &[("group", "0")])? > was),
        )
        .await?;
        let log = std::fs::read_to_string(c.node(*id).data.with_extension("log"))?;
        anyhow::ensure!(
            log.contains("leader changed"),
            "node {id} logged no leader change"
        );
    }
    Ok(())
}

/// Every metric name in `text` (the tokens that start like Roost's and the process's).
fn metric_names(text: &str, into: &mut BTreeSet<String>) {
    let tokens = text.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'));
    for t in tokens {
        if t.starts_with("roost_") || t.starts_with("process_") {
            into.insert(t.to_owned());
        }
    }
}

/// Every `expr` of the dashboard's panels.
fn exprs(v: &Value, into: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => into.push(e.clone()),
                    _ => exprs(v, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| exprs(i, into)),
        _ => {}
    }
}

/// Runs `promtool` with `args`; its output when it fails.
fn promtool(args: &[&str], stdin: Option<&str>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running promtool (scripts/deps.sh installs Debian's prometheus package)")?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test]
async fn the_dashboard_and_alerts_name_scraped_metrics_and_the_rules_pass_promtool(
) -> anyhow::Result<()> {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy.join("grafana/roost.json"))?)?;
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    anyhow::ensure!(queries.len() >= 10, "only {} panel queries", queries.len());
    let mut names = BTreeSet::new();
    for q in &queries {
        metric_names(q, &mut names);
    }
    let alerts = deploy.join("prometheus/alerts.yml");
    metric_names(&std::fs::read_to_string(&alerts)?, &mut names);
    anyhow::ensure!(
        names.len() >= 15,
        "only {} metric names found: {names:?}",
        names.len()
    );

    let c = Cluster::start(3, 1, "").await?;
    let q = create(&c, 1, &["w"]).await?;
    traffic(&c, &q, 5).await?;
    let scrapes = [
        scrape(&c, 1).await?,
        scrape(&c, 2).await?,
        scrape(&c, 3).await?,
    ];
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !scrapes.iter().any(|s| s.knows(n)))
        .collect();
    anyhow::ensure!(unknown.is_empty(), "named but never scraped: {unknown:?}");

    // Prometheus's own linter on a live page, then the rules and their unit tests.
    let page = c
        .http
        .get(format!("{}/metrics", c.url(1)))
        .send()
        .await?
        .text()
        .await?;
    promtool(&["check", "metrics"], Some(&page))?;
    let alerts = alerts.to_string_lossy();
    promtool(&["check", "rules", &alerts], None)?;
    // Every panel query is valid PromQL: promtool checks them as recording rules.
    let rules = json!({ "groups": [{ "name": "panels", "rules": queries
        .iter()
        .enumerate()
        .map(|(i, q)| json!({ "record": format!("panel:{i}"), "expr": q }))
        .collect::<Vec<_>>() }] });
    let dir = tempfile::tempdir()?;
    let panels = dir.path().join("panels.yml");
    std::fs::write(&panels, serde_json::to_string(&rules)?)?;
    promtool(&["check", "rules", &panels.to_string_lossy()], None)?;
    let tests = deploy.join("prometheus/alerts_test.yml");
    promtool(&["test", "rules", &tests.to_string_lossy()], None)
}
