//! Short chaos runs: concurrent idempotent publishers and an acking consumer against three
//! nodes while a nemesis kills (SIGKILL) and restarts nodes, freezes (SIGSTOP) and thaws the
//! shard leader, cuts links with nftables (each node in its own network namespace), skews and
//! jumps wall clocks (libfaketime), or does several at once. Five nodes: `chaos_five.rs`.
//! Each history is checked by `jepsen-tests`' checker against the final state read after
//! healing, and publish times must never run backwards along the seqs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jepsen_tests::{Event, FinalState, Op, Outcome};
use serde_json::{json, Value};

use crate::api::{create, Queue};
use crate::harness::Cluster;

/// Records events with a shared monotonic clock.
pub(crate) struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Recorder {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }

    /// A fault starts (`Invoke`) or is healed (`Ok`); process 0 is the nemesis.
    pub(crate) fn fault(&self, fault: String, outcome: Outcome) {
        self.log(0, outcome, Op::Nemesis { fault });
    }

    /// Everything recorded so far.
    pub(crate) fn history(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn log(&self, process: u64, outcome: Outcome, op: Op) {
        let time = self.start.elapsed().as_nanos() as u64;
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.push(Event {
            process,
            outcome,
            op,
            time,
        });
    }
}

/// Checks `history` against `fin`; a campaign (`scripts/chaos-campaign.sh`, which sets
/// `ROOST_CHAOS_OUT`) also keeps the run's directory.
pub(crate) fn check_and_keep(
    name: &str,
    nodes: u64,
    history: &[Event],
    fin: &FinalState,
) -> anyhow::Result<jepsen_tests::Report> {
    let report = jepsen_tests::check(history, fin);
    if let Ok(out) = std::env::var("ROOST_CHAOS_OUT") {
        let dir = std::path::Path::new(&out).join(format!("{name}-{nodes}"));
        let line = jepsen_tests::run::write(&dir, history, fin, &report)?;
        println!("{name}: {line} ({})", dir.display());
    }
    Ok(report)
}

/// How long a run lasts: `ROOST_CHAOS_SECS` when set (longer campaigns), else the short
/// default that CI runs.
pub(crate) fn run_length(default_secs: u64) -> Duration {
    let secs = std::env::var("ROOST_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_secs);
    Duration::from_secs(secs)
}

/// How a request ended, as a history outcome: `unavailable` promises nothing happened.
pub(crate) async fn outcome_of(r: reqwest::Response) -> Outcome {
    let body = r.text().await.unwrap_or_default();
    if body.contains("\"code\":\"unavailable\"") {
        Outcome::Fail
    } else {
        Outcome::Info
    }
}

async fn publisher(c: &Cluster, q: &Queue, rec: &Recorder, process: u64, until: Instant) {
    let mut n = 0;
    while Instant::now() < until {
        let value = format!("p{process}-{n}");
        let key = format!("k-{value}");
        let op = |seq| Op::Publish {
            key: key.clone(),
            value: value.clone(),
            seq,
        };
        rec.log(process, Outcome::Invoke, op(None));
        let node = (process + n) % c.size() + 1;
        let r = c
            .http
            .post(format!("{}/q/{}/publish", c.url(node), q.id))
            .bearer_auth(&q.key)
            .header("Idempotency-Key", &key)
            .json(&json!({"v": value}))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                rec.log(process, Outcome::Ok, op(v["seq"].as_u64()));
            }
            Ok(r) if r.status() == 503 => {
                let outcome = outcome_of(r).await;
                rec.log(process, outcome, op(None));
            }
            _ => rec.log(process, Outcome::Info, op(None)),
        }
        n += 1;
    }
}

async fn consumer(c: &Cluster, q: &Queue, rec: &Recorder, until: Instant) {
    let process = 100;
    let mut cursor = 0;
    let mut node = 1;
    while Instant::now() < until {
        let pull = |messages| Op::Pull {
            consumer: "c".into(),
            cursor,
            messages,
        };
        rec.log(process, Outcome::Invoke, pull(vec![]));
        let r = c
            .http
            .get(format!(
                "{}/q/{}/pull?consumer_id=c&cursor={cursor}&limit=100",
                c.url(node),
                q.id
            ))
            .bearer_auth(&q.key)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        let Ok(r) = r else {
            rec.log(process, Outcome::Info, pull(vec![]));
            node = node % c.size() + 1;
            continue;
        };
        if r.status() != 200 {
            rec.log(process, Outcome::Fail, pull(vec![]));
            node = node % c.size() + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let messages: Vec<(u64, String)> = v["messages"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| {
                        (
                            m["seq"].as_u64().unwrap_or(0),
                            m["payload"]["v"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let start = v["cursor"].as_u64().unwrap_or(cursor);
        let ids: Vec<String> = v["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        rec.log(
            process,
            Outcome::Ok,
            Op::Pull {
                consumer: "c".into(),
                cursor: start,
                messages: messages.clone(),
            },
        );
        let Some(last) = messages.last().map(|m| m.0) else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Every 25th message fails for good: dead-lettered, then replayed as a new envelope.
        for ((seq, value), id) in messages.iter().zip(&ids) {
            if seq % 25 == 0 {
                dead_letter_and_replay(c, q, rec, node, *seq, id, value).await;
            }
        }
        let ack = |stored| Op::Ack {
            consumer: "c".into(),
            cursor: last,
            stored,
        };
        rec.log(process, Outcome::Invoke, ack(None));
        let r = c
            .http
            .post(format!("{}/q/{}/ack", c.url(node), q.id))
            .bearer_auth(&q.key)
            .json(&json!({"consumer_id": "c", "cursor": last}))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 200 => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                let stored = v["cursor"].as_u64();
                rec.log(process, Outcome::Ok, ack(stored));
                cursor = stored.unwrap_or(cursor);
            }
            _ => {
                rec.log(process, Outcome::Info, ack(None));
                node = node % c.size() + 1;
            }
        }
    }
}

/// Nacks `seq` into the dead-letter queue, then replays it, recording both.
async fn dead_letter_and_replay(
    c: &Cluster,
    q: &Queue,
    rec: &Recorder,
    node: u64,
    seq: u64,
    id: &str,
    value: &str,
) {
    let process = 100;
    let post = |path: &str, body: Value| {
        c.http
            .post(format!("{}/q/{}/{path}", c.url(node), q.id))
            .bearer_auth(&q.key)
            .json(&body)
            .timeout(Duration::from_secs(5))
            .send()
    };
    let outcome = |r: &reqwest::Result<reqwest::Response>| match r {
        Ok(r) if r.status() == 200 => Outcome::Ok,
        Ok(r) if r.status().is_client_error() => Outcome::Fail,
        _ => Outcome::Info,
    };
    let dead = || Op::DeadLetter {
        value: value.to_owned(),
    };
    rec.log(process, Outcome::Invoke, dead());
    let body = json!({"consumer_id": "c", "seq": seq, "error": "chaos", "dead_letter": true});
    let r = post("nack", body).await;
    let moved = outcome(&r);
    rec.log(process, moved, dead());
    if moved != Outcome::Ok {
        return;
    }
    let replay = |seq| Op::Replay {
        value: value.to_owned(),
        seq,
    };
    rec.log(process, Outcome::Invoke, replay(None));
    let r = post("dlq/replay", json!({ "dlq_msg_id": id })).await;
    match (outcome(&r), r) {
        (Outcome::Ok, Ok(r)) => {
            let v: Value = r.json().await.unwrap_or(Value::Null);
            rec.log(process, Outcome::Ok, replay(v["replayed"]["seq"].as_u64()));
        }
        // A 404 when an earlier round already replayed it (the consumer pulls a batch again
        // after an ack whose outcome it did not learn): nothing happened.
        (other, _) => rec.log(process, other, replay(None)),
    }
}

/// The dead letters left in the queue's DLQ, one value per row.
async fn dead_letters(c: &Cluster, q: &Queue) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor = 0;
    for _ in 0..100 {
        let path = format!("/q/{}/dlq?cursor={cursor}&limit=1000", q.id);
        let v = c.get_json(1, &path, &q.key).await?;
        for m in v["messages"].as_array().into_iter().flatten() {
            out.push(m["payload"]["v"].as_str().unwrap_or_default().to_owned());
        }
        cursor = v["next_cursor"].as_u64().unwrap_or(cursor);
        if !v["has_more"].as_bool().unwrap_or(false) {
            break;
        }
    }
    Ok(out)
}

#[tokio::test]
async fn a_history_under_kill_and_restart_has_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["c"]).await?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(8);
    // Each node in turn, and every third round a majority (two of three) at once.
    let nemesis = async {
        let (mut victim, mut round) = (1, 0);
        while Instant::now() + Duration::from_secs(2) < until {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let victims = if round % 3 == 2 {
                vec![victim, victim % 3 + 1]
            } else {
                vec![victim]
            };
            for v in &victims {
                c.kill(*v)?;
            }
            let fault = format!("kill {victims:?}");
            rec.fault(fault.clone(), Outcome::Invoke);
            tokio::time::sleep(Duration::from_millis(800)).await;
            for v in &victims {
                c.spawn(*v)?;
            }
            rec.fault(fault, Outcome::Ok);
            victim = victim % 3 + 1;
            round += 1;
        }
        anyhow::Ok(())
    };
    run_and_check("kill_and_restart", &c, &q, until, &rec, nemesis).await
}

#[tokio::test]
async fn a_history_under_leader_pauses_has_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start(3, 2, "").await?;
    let q = create(&c, 1, &["c"]).await?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(8);
    // Freeze the queue's shard leader long enough for the others to elect a new one, then
    // thaw it: it comes back believing it leads, with writes in flight.
    let nemesis = async {
        while Instant::now() + Duration::from_secs(3) < until {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            let leader = c.wait_leader(q.shard(), Duration::from_secs(10)).await?;
            c.signal(leader, "STOP")?;
            rec.fault(format!("pause {leader}"), Outcome::Invoke);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            c.signal(leader, "CONT")?;
            rec.fault(format!("pause {leader}"), Outcome::Ok);
        }
        anyhow::Ok(())
    };
    run_and_check("leader_pauses", &c, &q, until, &rec, nemesis).await
}

#[tokio::test]
async fn a_history_under_partitions_and_kills_has_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start_isolated(3, 2, "").await?;
    let q = create(&c, 1, &["c"]).await?;
    let net = c.net()?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(14);
    // Cut the queue's shard leader off from both followers (it keeps believing it leads
    // until it notices), heal, then kill and restart a node, and again.
    let moved = std::sync::atomic::AtomicU64::new(0);
    let nemesis = async {
        let mut round = 0u64;
        while Instant::now() + Duration::from_secs(4) < until {
            tokio::time::sleep(Duration::from_millis(800)).await;
            let leader = c.wait_leader(q.shard(), Duration::from_secs(15)).await?;
            net.partition(&[leader])?;
            rec.fault(format!("isolate leader {leader}"), Outcome::Invoke);
            // The cut is real when the majority side elects someone else; hold it until
            // then (bounded), plus a little while the new leader serves.
            let other = leader % 3 + 1;
            let cut_at = Instant::now();
            while cut_at.elapsed() < Duration::from_secs(6) {
                let seen = c.leader_of(other, q.shard()).await.ok().flatten();
                if seen.is_some_and(|l| l != leader) {
                    moved.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            net.heal()?;
            rec.fault(format!("isolate leader {leader}"), Outcome::Ok);
            let victim = round % 3 + 1;
            c.kill(victim)?;
            rec.fault(format!("kill {victim}"), Outcome::Invoke);
            tokio::time::sleep(Duration::from_millis(600)).await;
            c.spawn(victim)?;
            rec.fault(format!("kill {victim}"), Outcome::Ok);
            round += 1;
        }
        anyhow::Ok(())
    };
    let checked = run_and_check("partitions_and_kills", &c, &q, until, &rec, nemesis).await;
    net.heal()?;
    checked?;
    assert!(
        moved.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "no partition made the majority elect a new leader: the cuts did not cut"
    );
    Ok(())
}

#[tokio::test]
async fn a_history_under_combined_nemeses_has_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start_isolated(3, 2, "").await?;
    let q = create(&c, 1, &["c"]).await?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(12);
    let nemesis = crate::chaos_jobs::combined_nemesis(&c, q.shard(), until, &rec);
    let checked = run_and_check("queue_combined", &c, &q, until, &rec, nemesis).await;
    c.net()?.heal()?;
    checked
}

#[tokio::test]
async fn a_history_under_clock_skew_and_jumps_has_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start_skewable(3, 2).await?;
    let q = create(&c, 1, &["c"]).await?;
    // First make sure the skew reaches the servers: with every clock 1000 s ahead, a message
    // (in a queue of its own, outside the checked history) is published 1000 s in the future.
    for id in 1..=3 {
        c.skew(id, 1_000)?;
    }
    // libfaketime rereads its file lazily (about once a second, later on a loaded machine),
    // so probe a few times before concluding the skew does not reach the server.
    let probe = create(&c, 1, &["c"]).await?;
    let mut ahead = Duration::ZERO;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let v: Value = c
            .http
            .post(format!("{}/q/{}/publish", c.url(1), probe.id))
            .bearer_auth(&probe.key)
            .json(&json!({"v": "probe"}))
            .send()
            .await?
            .json()
            .await?;
        let published = humantime::parse_rfc3339(v["published_at"].as_str().unwrap_or(""))?;
        ahead = published
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        if ahead > Duration::from_secs(900) {
            break;
        }
    }
    assert!(
        ahead > Duration::from_secs(900),
        "clock skew not applied within 10 s: the last probe was {ahead:?} ahead"
    );
    let rec = Recorder::new();
    let until = Instant::now() + run_length(12);
    // Every node's wall clock off by minutes, in both directions and jumping, while the
    // shard leader is killed so that leaders with different clocks take turns stamping.
    let nemesis = async {
        let skews = [[300, -300, 0], [-600, 120, 900], [0, 3_600, -3_600]];
        let mut round = 0usize;
        while Instant::now() + Duration::from_secs(3) < until {
            for (i, secs) in skews[round % 3].iter().enumerate() {
                c.skew(i as u64 + 1, *secs)?;
            }
            rec.fault(format!("clocks {:?}", skews[round % 3]), Outcome::Invoke);
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let leader = c.wait_leader(q.shard(), Duration::from_secs(15)).await?;
            c.kill(leader)?;
            tokio::time::sleep(Duration::from_millis(700)).await;
            c.spawn(leader)?;
            rec.fault(format!("clocks {:?}", skews[round % 3]), Outcome::Ok);
            round += 1;
        }
        anyhow::Ok(())
    };
    run_and_check("clock_skew", &c, &q, until, &rec, nemesis).await
}

/// Runs three idempotent publishers and an acking consumer until `until` while `nemesis`
/// runs, heals, reads what is left, and checks the recorded history.
pub(crate) async fn run_and_check(
    name: &str,
    c: &Cluster,
    q: &Queue,
    until: Instant,
    rec: &Recorder,
    nemesis: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let (_, _, _, _, n) = tokio::join!(
        publisher(c, q, rec, 1, until),
        publisher(c, q, rec, 2, until),
        publisher(c, q, rec, 3, until),
        consumer(c, q, rec, until),
        nemesis,
    );
    n?;
    // Heal: every node up, then read everything that is left.
    c.wait_ready(Duration::from_secs(30)).await?;
    c.wait_leader(q.shard(), Duration::from_secs(30)).await?;
    let mut fin = FinalState::default();
    let mut cursor = 0;
    // Publish times come from the group clock, which must never run backwards, whichever
    // leader (and whichever leader's wall clock) stamped them: non-decreasing in seq.
    let mut last_published: Option<(u64, String)> = None;
    let mut backwards: Option<String> = None;
    for _ in 0..1000 {
        let path = format!(
            "/q/{}/pull?consumer_id=_dash_check&cursor={cursor}&limit=1000",
            q.id
        );
        let v = c.get_json(1, &path, &q.key).await?;
        fin.floor = v["floor"].as_u64().unwrap_or(0);
        let ms = v["messages"].as_array().cloned().unwrap_or_default();
        for m in &ms {
            let seq = m["seq"].as_u64().unwrap_or(0);
            let value = m["payload"]["v"].as_str().unwrap_or("").to_owned();
            if m["source"] == "dlq-replay" {
                fin.replays.insert(seq, value.clone());
            }
            fin.messages.insert(seq, value);
            // RFC 3339 UTC with milliseconds: text order is time order.
            let at = m["published_at"].as_str().unwrap_or("").to_owned();
            if let Some((before, prev)) = &last_published {
                if *prev > at && backwards.is_none() {
                    backwards = Some(format!("seq {before} at {prev}, seq {seq} at {at}"));
                }
            }
            last_published = Some((seq, at));
        }
        cursor = v["next_cursor"].as_u64().unwrap_or(cursor);
        if !v["has_more"].as_bool().unwrap_or(false) {
            break;
        }
    }
    fin.dlq = dead_letters(c, q).await?;
    let history = rec.history();
    let report = check_and_keep(name, c.size(), &history, &fin)?;
    assert!(
        backwards.is_none(),
        "published_at ran backwards: {backwards:?}"
    );
    let acked = history
        .iter()
        .filter(|e| e.outcome == Outcome::Ok && matches!(e.op, Op::Publish { .. }))
        .count();
    assert!(
        acked > 50,
        "too little progress under the nemesis: {acked} acknowledged publishes"
    );
    assert!(report.valid, "anomalies: {:#?}", report.anomalies);
    Ok(())
}
