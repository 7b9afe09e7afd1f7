//! `roost queue|job|task` against a real node: JSON on stdout (one line per message), one
//! line on stderr and a non-zero exit status on failure.

use std::process::Stdio;

use anyhow::Context;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::harness::Cluster;
use crate::jobs::{token, worker, SECRET};

/// What one run of the CLI did.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Stdout's lines as JSON; fails unless the run succeeded.
    fn lines(&self) -> anyhow::Result<Vec<Value>> {
        anyhow::ensure!(self.ok, "failed: {}", self.stderr);
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
            .collect()
    }

    /// Stdout's one line as JSON.
    fn one(&self) -> anyhow::Result<Value> {
        let mut lines = self.lines()?;
        anyhow::ensure!(lines.len() == 1, "expected one line: {}", self.stdout);
        lines.pop().context("one line")
    }
}

/// Runs `roost args` against node 1 (its URL from `ROOST_URL`), with `env` set and `stdin`
/// as input.
async fn cli(c: &Cluster, args: &[&str], env: &[(&str, &str)], stdin: &str) -> anyhow::Result<Run> {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(args)
        .env("ROOST_URL", c.url(1))
        .env_remove("ROOST_QUEUE_API_KEY")
        .env_remove("ROOST_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut input = child.stdin.take().context("stdin")?;
    input.write_all(stdin.as_bytes()).await?;
    drop(input);
    let out = child.wait_with_output().await?;
    Ok(Run {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout)?,
        stderr: String::from_utf8(out.stderr)?,
    })
}

/// Asserts `run` failed with one line on stderr naming `code`, and nothing on stdout.
fn refused(run: &Run, code: &str) {
    assert!(!run.ok, "expected a failure: {}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(code), "{}", run.stderr);
}

#[tokio::test]
async fn the_cli_drives_a_queue_through_publish_pull_ack_and_its_dead_letters() -> anyhow::Result<()>
{
    let c = Cluster::start(1, 2, "").await?;
    let created = cli(&c, &["queue", "create", "--consumer", "c"], &[], "")
        .await?
        .one()?;
    let q = created["queue_id"].as_str().context("queue_id")?.to_owned();
    let key = created["queue_api_key"].as_str().context("key")?.to_owned();
    assert_eq!(created["consumers"], serde_json::json!(["c"]));

    let with_key = [("ROOST_QUEUE_API_KEY", key.as_str())];
    let first = cli(
        &c,
        &["queue", "publish", &q, r#"{"n": 1.50}"#],
        &with_key,
        "",
    )
    .await?
    .one()?;
    assert_eq!(first["seq"], 1);
    // Without a payload argument, each line of stdin is a message.
    let more = cli(
        &c,
        &["queue", "publish", &q],
        &with_key,
        "{\"a\": 1}\n\n[2]\n",
    )
    .await?
    .lines()?;
    let seqs: Vec<_> = more.iter().map(|v| v["seq"].clone()).collect();
    assert_eq!(seqs, [2, 3]);

    let pulled = cli(&c, &["queue", "pull", &q, "--consumer", "c"], &with_key, "").await?;
    let lines = pulled.lines()?;
    assert_eq!(lines.len(), 3, "one line per message: {}", pulled.stdout);
    assert!(
        pulled.stdout.contains(r#""payload":{"n": 1.50}"#),
        "the payload byte for byte: {}",
        pulled.stdout
    );
    let acked = cli(
        &c,
        &[
            "queue",
            "ack",
            &q,
            "--consumer",
            "c",
            "--cursor",
            "1",
            "--key",
            &key,
        ],
        &[],
        "",
    )
    .await?
    .one()?;
    assert_eq!(
        (acked["ok"].clone(), acked["cursor"].clone()),
        (true.into(), 1.into())
    );
    let after = cli(&c, &["queue", "pull", &q, "--consumer", "c"], &with_key, "")
        .await?
        .lines()?;
    assert_eq!(after[0]["seq"], 2, "the ack moved the cursor");

    let nacked = cli(
        &c,
        &[
            "queue",
            "nack",
            &q,
            "--consumer",
            "c",
            "--seq",
            "2",
            "--error",
            "bad input",
            "--dead-letter",
        ],
        &with_key,
        "",
    )
    .await?
    .one()?;
    assert_eq!(nacked["dead_lettered"], true);
    let dead = cli(&c, &["queue", "dlq", &q], &with_key, "")
        .await?
        .lines()?;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0]["seq"].clone(), dead[0]["last_error"].clone()),
        (2.into(), "bad input".into())
    );
    let id = dead[0]["id"].as_str().context("id")?;
    let replayed = cli(&c, &["queue", "replay", &q, id], &with_key, "")
        .await?
        .one()?;
    assert_eq!(replayed["replayed"]["replayed_from"], id);

    // A wrong key, a missing key, bad JSON: one clear line each, and a failing exit status.
    let wrong = [("ROOST_QUEUE_API_KEY", "qk_wrong")];
    let run = cli(&c, &["queue", "pull", &q, "--consumer", "c"], &wrong, "").await?;
    refused(&run, "invalid_api_key");
    let run = cli(&c, &["queue", "pull", &q, "--consumer", "c"], &[], "").await?;
    refused(&run, "--key");
    let run = cli(&c, &["queue", "publish", &q, "{nope"], &with_key, "").await?;
    refused(&run, "not a JSON document");
    Ok(())
}

#[tokio::test]
async fn the_cli_runs_a_job_with_roost_worker_and_hands_out_a_task() -> anyhow::Result<()> {
    let c = Cluster::start_with(1, 2, SECRET, "").await?;
    let tok = token(&c, "cli")?;
    let auth = [("ROOST_TOKEN", tok.as_str())];
    let accepted = cli(
        &c,
        &[
            "job",
            "create",
            "--type",
            "echo",
            "--payload",
            r#"{"x": 1.50}"#,
        ],
        &auth,
        "",
    )
    .await?;
    assert!(
        accepted.stdout.contains(r#""payload":{"x": 1.50}"#),
        "{}",
        accepted.stdout
    );
    let accepted = accepted.one()?;
    let id = accepted["id"].as_str().context("id")?.to_owned();
    let mut w = worker(
        &c,
        &tok,
        "echo",
        1,
        &["sh", "-c", "cat >/dev/null; echo '{\"done\": 1}'"],
    )?;
    let waited = cli(&c, &["job", "wait", &id, "--timeout", "30"], &auth, "")
        .await?
        .one()?;
    assert_eq!(waited["job"]["status"], "completed", "{waited}");
    assert_eq!(waited["job"]["result"]["done"], 1);
    w.wait().await?;
    let got = cli(&c, &["job", "get", &id], &auth, "").await?.one()?;
    assert_eq!(got, waited);

    let later = cli(&c, &["job", "create", "--type", "idle"], &auth, "")
        .await?
        .one()?;
    let later = later["id"].as_str().context("id")?;
    let cancelled = cli(&c, &["job", "cancel", later], &auth, "").await?.one()?;
    assert_eq!(cancelled["job"]["status"], "cancelled");
    refused(
        &cli(&c, &["job", "get", &id, "--token", "not-a-token"], &[], "").await?,
        "invalid_token",
    );
    refused(
        &cli(&c, &["job", "get", "job_none"], &auth, "").await?,
        "job_not_found",
    );

    // Work queues are made with the client; the CLI adds and dequeues.
    let client = roost_client::Client::new(c.url(1))?;
    let wq = roost_client::wire::CreateWorkQueue {
        name: "inbox".into(),
        team_id: "red".into(),
    };
    let wq = client.create_work_queue(&tok, &wq).await?.id;
    let added = cli(
        &c,
        &[
            "task",
            "add",
            &wq,
            "write the docs",
            "--priority",
            "5",
            "--payload",
            r#"{"p": 1}"#,
        ],
        &auth,
        "",
    )
    .await?
    .one()?;
    assert_eq!(added["task"]["status"], "pending");
    assert!(
        added["task"]["token"].is_null(),
        "only the assignee sees it"
    );
    let taken = cli(&c, &["task", "dequeue", &wq, "--agent", "a1"], &auth, "")
        .await?
        .one()?;
    assert_eq!(taken["task"]["id"], added["task"]["id"]);
    assert!(taken["task"]["token"].is_string());
    let none = cli(&c, &["task", "dequeue", &wq, "--agent", "a1"], &auth, "").await?;
    assert!(none.ok && none.stdout.is_empty(), "{}", none.stderr);
    Ok(())
}
