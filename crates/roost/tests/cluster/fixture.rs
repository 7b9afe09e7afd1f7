//! A data dir written by an earlier release opens with this binary and serves its data.
//!
//! `fixtures/datadir-1/` (at the repository's root) was made by [`make`] (with
//! `ROOST_WRITE_FIXTURE=1 cargo test -p roost --test cluster -- fixture::what_the_fixture_maker`)
//! on the release before storage formats carried version numbers: queues with messages, cursors, a dead
//! letter, a claim and a mirrored form; jobs and a work queue; an account. `facts.json` holds
//! what the test needs to reach them (throwaway keys of this fixture, nothing else). Never
//! regenerate it to make the test pass: it stands for the data dirs users already have.

use std::path::{Path, PathBuf};

use anyhow::Context;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{self, Queue};
use crate::harness::{copy_dir, Cluster};
use crate::jobs::{token, SECRET};

/// Shards of the fixture's cluster.
const SHARDS: u32 = 2;

/// The fixture's settings: quotas on (for the account), a fixed token secret, and finished
/// jobs kept for a century (the fixture is read years after it was made).
fn settings() -> String {
    format!(
        "{SECRET}\n[quotas]\nenabled = true\nfree = 1000\noperator_key = \"fixture-operator-key\"\n[job_ttl_secs]\ncompleted = {CENTURY}\nfailed = {CENTURY}\ncancelled = {CENTURY}\n"
    )
}

/// A hundred years, in seconds.
const CENTURY: u64 = 100 * 365 * 24 * 3600;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/datadir-1")
}

/// Calls `path` on node 1 with `bearer`; the status and the JSON answer.
async fn call(
    c: &Cluster,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = c
        .http
        .request(method, format!("{}{path}", c.url(1)))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Calls `path` and expects `status`; the JSON answer.
async fn expect(
    c: &Cluster,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
    status: u16,
) -> anyhow::Result<Value> {
    let (got, v) = call(c, method.clone(), path, bearer, body).await?;
    anyhow::ensure!(got == status, "{method} {path}: {got} {v}");
    Ok(v)
}

fn text(v: &Value, key: &str) -> anyhow::Result<String> {
    Ok(v[key]
        .as_str()
        .with_context(|| format!("{key} in {v}"))?
        .to_owned())
}

/// Makes a fixture in `out` (`data/` and `facts.json`): a one-node cluster filled with one of
/// everything, stopped as an operator would.
async fn make(out: &Path) -> anyhow::Result<()> {
    let c = Cluster::start_with(1, SHARDS, &settings(), "").await?;
    let (get, post, put) = (Method::GET, Method::POST, Method::PUT);
    // A queue with messages, two cursors, a dead letter, an owner.
    let inbox = api::create(&c, 1, &["fast", "slow"]).await?;
    for i in 1..=5 {
        // The first with an idempotency key, so its record is in the data dir too.
        let published = c
            .http
            .post(format!("{}/q/{}/publish", c.url(1), inbox.id))
            .bearer_auth(&inbox.key)
            .header("idempotency-key", format!("fixture-{i}"))
            .json(&json!({"n": i, "exact": 1e300}))
            .send()
            .await?;
        anyhow::ensure!(published.status() == 201, "publish: {}", published.status());
    }
    api::call(
        &c,
        &inbox,
        post.clone(),
        "/ack",
        Some(json!({"cursor": 3, "consumer_id": "fast"})),
    )
    .await?;
    api::call(
        &c,
        &inbox,
        post.clone(),
        "/ack",
        Some(json!({"cursor": 1, "consumer_id": "slow"})),
    )
    .await?;
    let nack = json!({"consumer_id": "slow", "seq": 2, "error": "bad input", "dead_letter": true});
    api::call(&c, &inbox, post.clone(), "/nack", Some(nack)).await?;
    let op = "fixture-operator-key";
    let account = expect(
        &c,
        post.clone(),
        "/admin/accounts",
        op,
        Some(json!({"plan": "pro"})),
        201,
    )
    .await?;
    let account_id = text(&account, "account_id")?;
    let minted = expect(
        &c,
        post.clone(),
        &format!("/admin/accounts/{account_id}/keys"),
        op,
        None,
        201,
    )
    .await?;
    let claim = c
        .http
        .get(format!("{}/q/{}", c.url(1), inbox.id))
        .bearer_auth(&inbox.key)
        .header("x-account-key", text(&minted, "account_key")?)
        .send()
        .await?;
    anyhow::ensure!(claim.status() == 200, "claim: {}", claim.status());
    // A form bound to a second queue, one submission mirrored into it.
    let mirror = api::create(&c, 1, &["reader"]).await?;
    let form = expect(
        &c,
        post.clone(),
        "/new",
        "",
        Some(json!({"name": "contact"})),
        201,
    )
    .await?;
    let (form_id, form_key) = (text(&form, "form_id")?, text(&form, "form_api_key")?);
    let bind = json!({"queue_id": mirror.id, "queue_api_key": mirror.key});
    expect(
        &c,
        put,
        &format!("/api/forms/{form_id}"),
        &form_key,
        Some(bind),
        200,
    )
    .await?;
    expect(
        &c,
        post.clone(),
        &format!("/f/{form_id}"),
        "",
        Some(json!({"email": "a@example.com"})),
        200,
    )
    .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, v) = api::call(&c, &mirror, get.clone(), "", None).await?;
        if v["head_seq"] == 1 {
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "never mirrored: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Jobs: one completed, one pending; a work queue with a task taken and one waiting.
    let tok = token(&c, "fixture")?;
    let done = expect(
        &c,
        post.clone(),
        "/jobs",
        &tok,
        Some(json!({"type": "render", "payload": {"page": 1}})),
        202,
    )
    .await?;
    let claimed = expect(
        &c,
        post.clone(),
        "/jobs/claim",
        &tok,
        Some(json!({"workerId": "w1"})),
        200,
    )
    .await?;
    let lease = text(&claimed["jobs"][0], "token")?;
    let done_id = text(&done, "id")?;
    let result = json!({"token": lease, "result": {"pages": 3}});
    expect(
        &c,
        post.clone(),
        &format!("/jobs/{done_id}/complete"),
        &tok,
        Some(result),
        200,
    )
    .await?;
    let pending = expect(
        &c,
        post.clone(),
        "/jobs",
        &tok,
        Some(json!({"type": "mail", "priority": 7})),
        202,
    )
    .await?;
    let wq = expect(
        &c,
        post.clone(),
        "/work-queues",
        &tok,
        Some(json!({"name": "triage", "teamId": "red"})),
        201,
    )
    .await?;
    let wq_id = text(&wq, "id")?;
    let tasks = format!("/work-queues/{wq_id}/tasks");
    expect(
        &c,
        post.clone(),
        &tasks,
        &tok,
        Some(json!({"name": "urgent", "priority": 5})),
        201,
    )
    .await?;
    expect(
        &c,
        post.clone(),
        &tasks,
        &tok,
        Some(json!({"name": "later", "priority": 1})),
        201,
    )
    .await?;
    expect(
        &c,
        post,
        &format!("/work-queues/{wq_id}/dequeue"),
        &tok,
        Some(json!({"agentId": "a1"})),
        200,
    )
    .await?;

    c.stop(1)?;
    copy_dir(&c.node(1).data, &out.join("data"))?;
    // RocksDB's informational logs are not data, and no secret goes into the repository (the
    // node makes a new webhook secret when it finds none). The fixture stands for format 1,
    // whose data dirs have no FORMAT file (format 2 changed nothing else).
    for entry in std::fs::read_dir(out.join("data"))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name == "LOG"
            || name.starts_with("LOG.old")
            || name == "LOCK"
            || name.ends_with(".secret")
            || name == "FORMAT"
        {
            std::fs::remove_file(&path)?;
        }
    }
    let facts = json!({
        "inbox": {"id": inbox.id, "key": inbox.key},
        "mirror": {"id": mirror.id, "key": mirror.key},
        "form": {"id": form_id, "key": form_key},
        "account": account_id,
        "jobs": {"completed": done_id, "pending": text(&pending, "id")?},
        "work_queue": wq_id,
    });
    std::fs::write(
        out.join("facts.json"),
        serde_json::to_string_pretty(&facts)?,
    )?;
    Ok(())
}

/// The fixture maker runs with every test run, and what it makes reads back as the committed
/// fixture must. With `ROOST_WRITE_FIXTURE=1` it also writes `fixtures/datadir-1` when that is
/// absent: how the committed one was made, and how the next format's fixture will be.
#[tokio::test]
async fn what_the_fixture_maker_makes_reads_back() -> anyhow::Result<()> {
    let made = tempfile::tempdir()?;
    make(made.path()).await?;
    check(made.path()).await?;
    let out = fixture();
    if std::env::var_os("ROOST_WRITE_FIXTURE").is_some() {
        anyhow::ensure!(
            !out.exists(),
            "{} exists: never regenerate a fixture",
            out.display()
        );
        copy_dir(made.path(), &out)?;
    }
    Ok(())
}

#[tokio::test]
async fn a_data_dir_from_the_release_before_versions_opens_and_serves_its_data(
) -> anyhow::Result<()> {
    check(&fixture()).await
}

/// Opens a copy of the fixture in `dir` with this binary and reads everything in it back.
async fn check(dir: &Path) -> anyhow::Result<()> {
    let facts: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("facts.json"))?)?;
    let c = Cluster::start_from(1, &dir.join("data"), SHARDS, &settings()).await?;
    // Migrated to the current format at open.
    let format = std::fs::read_to_string(c.node(1).data.join("FORMAT"))?;
    assert_eq!(format.trim(), "2");
    let (get, post) = (Method::GET, Method::POST);
    let queue = |v: &Value| -> anyhow::Result<Queue> {
        Ok(Queue {
            id: text(v, "id")?,
            key: text(v, "key")?,
        })
    };

    // The queue: messages byte for byte, both cursors, the dead letter, its owner.
    let inbox = queue(&facts["inbox"])?;
    let (status, info) = api::call(&c, &inbox, get.clone(), "", None).await?;
    anyhow::ensure!(status == 200, "{info}");
    assert_eq!(info["head_seq"], 5, "{info}");
    assert_eq!(info["dlq_count"], 1, "{info}");
    let cursors: Vec<(String, u64)> = info["consumers"]
        .as_array()
        .context("consumers")?
        .iter()
        .map(|x| {
            (
                x["consumer_id"].as_str().unwrap_or_default().to_owned(),
                x["cursor"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(cursors, [("fast".to_owned(), 3), ("slow".to_owned(), 1)]);
    let (_, page) = api::call(
        &c,
        &inbox,
        get.clone(),
        "/pull?consumer_id=slow&limit=10",
        None,
    )
    .await?;
    let seqs: Vec<u64> = page["messages"]
        .as_array()
        .context("messages")?
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5], "{page}");
    assert_eq!(
        page["messages"][0]["payload"],
        json!({"n": 2, "exact": 1e300})
    );
    let (_, dlq) = api::call(&c, &inbox, get.clone(), "/dlq", None).await?;
    assert_eq!(dlq["messages"][0]["last_error"], "bad input", "{dlq}");
    let account = text(&facts, "account")?;
    let acct = expect(
        &c,
        get.clone(),
        &format!("/admin/accounts/{account}"),
        "fixture-operator-key",
        None,
        200,
    )
    .await?;
    assert_eq!(acct["queues"], json!([inbox.id]), "{acct}");
    assert_eq!(acct["plan"], "pro");
    // Still writable: the next publish follows the stored ones.
    let (status, published) =
        api::call(&c, &inbox, post.clone(), "/publish", Some(json!({"n": 6}))).await?;
    assert_eq!(
        (status, published["seq"].as_u64()),
        (201, Some(6)),
        "{published}"
    );

    // The form, its submission, and the mirrored envelope.
    let form_id = text(&facts["form"], "id")?;
    let subs = expect(
        &c,
        get.clone(),
        &format!("/api/forms/{form_id}/submissions"),
        &text(&facts["form"], "key")?,
        None,
        200,
    )
    .await?;
    assert_eq!(
        subs["submissions"][0]["fields"],
        json!({"email": "a@example.com"}),
        "{subs}"
    );
    let mirror = queue(&facts["mirror"])?;
    let (_, mirrored) =
        api::call(&c, &mirror, get.clone(), "/pull?consumer_id=reader", None).await?;
    assert_eq!(
        mirrored["messages"][0]["source"], "form-mirror",
        "{mirrored}"
    );

    // Jobs and the work queue.
    let tok = token(&c, "fixture")?;
    let done = expect(
        &c,
        get.clone(),
        &format!("/jobs/{}", text(&facts["jobs"], "completed")?),
        &tok,
        None,
        200,
    )
    .await?;
    assert_eq!(
        (done["job"]["status"].as_str(), &done["job"]["result"]),
        (Some("completed"), &json!({"pages": 3}))
    );
    let pending = expect(
        &c,
        get.clone(),
        &format!("/jobs/{}", text(&facts["jobs"], "pending")?),
        &tok,
        None,
        200,
    )
    .await?;
    assert_eq!(
        (
            pending["job"]["status"].as_str(),
            pending["job"]["priority"].as_i64()
        ),
        (Some("pending"), Some(7))
    );
    let wq = text(&facts, "work_queue")?;
    let tasks = expect(
        &c,
        get,
        &format!("/work-queues/{wq}/tasks"),
        &tok,
        None,
        200,
    )
    .await?;
    let states: Vec<(&str, &str)> = tasks["tasks"]
        .as_array()
        .context("tasks")?
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default(),
                t["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // The taken task's lease (5 minutes) has long lapsed by now, so the first tick may have
    // made it pending again; it keeps its agent either way.
    ensure_state(&states, "urgent", &["assigned", "pending"], &tasks)?;
    ensure_state(&states, "later", &["pending"], &tasks)?;
    assert_eq!(tasks["tasks"][0]["agentId"], "a1", "{tasks}");
    let claimed = expect(
        &c,
        post,
        "/jobs/claim",
        &tok,
        Some(json!({"workerId": "w2"})),
        200,
    )
    .await?;
    assert_eq!(claimed["jobs"][0]["id"], pending["job"]["id"], "{claimed}");
    Ok(())
}

#[tokio::test]
async fn a_data_dir_of_a_newer_format_is_refused_before_it_is_touched() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    copy_dir(&fixture().join("data"), &data)?;
    std::fs::write(data.join("FORMAT"), "99\n")?;
    let before = std::fs::read(data.join("000004.log"))?;
    let config = dir.path().join("roost.toml");
    std::fs::write(
        &config,
        format!("node_id = 1\ndata_dir = {data:?}\nhttp_addr = \"127.0.0.1:0\"\npeer_addr = \"127.0.0.1:0\"\ngrpc_addr = \"\"\nshards = {SHARDS}\n"),
    )?;
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["serve", "--config"])
            .arg(&config)
            .output(),
    )
    .await??;
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("data format 99") || said.contains("holds data format 99"),
        "{said}"
    );
    assert!(said.contains("newer than this roost reads"), "{said}");
    assert_eq!(
        std::fs::read(data.join("000004.log"))?,
        before,
        "the data dir was not touched"
    );
    Ok(())
}

/// Checks that task `name` is listed in one of `allowed` states.
fn ensure_state(
    states: &[(&str, &str)],
    name: &str,
    allowed: &[&str],
    tasks: &Value,
) -> anyhow::Result<()> {
    let found = states.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
    anyhow::ensure!(
        found.is_some_and(|s| allowed.contains(&s)),
        "{name} is {found:?}, not one of {allowed:?}: {tasks}"
    );
    Ok(())
}
