//! Membership on real processes: nodes join with `--join` and are added, removed and replaced
//! through the operator API (and `roost admin`) while idempotent publishers and an acking
//! consumer run; each history is checked by `jepsen-tests`' checker. A wiped data dir under
//! a known id is refused.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use jepsen_tests::Outcome;
use serde_json::{json, Value};

use crate::api::create;
use crate::chaos::{run_and_check, run_length, Recorder};
use crate::harness::Cluster;

const KEY: &str = "membership-operator-key";

/// The `[admin]` table of the clusters these runs start.
pub(crate) fn top() -> String {
    format!("[admin]\noperator_key = \"{KEY}\"")
}

/// Calls the operator API on node `via`: the status and the JSON answer.
async fn admin(
    c: &Cluster,
    via: u64,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = c
        .http
        .request(method, format!("{}{path}", c.url(via)))
        .bearer_auth(KEY)
        .timeout(Duration::from_secs(15));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Adds node `id` (its addresses as the harness gave them) through node `via`.
async fn add(c: &Cluster, via: u64, id: u64) -> anyhow::Result<()> {
    let http = c.url(id).trim_start_matches("http://");
    let body = json!({"id": id, "peer_addr": peer_addr(c, id)?, "http_addr": http});
    let path = "/admin/cluster/nodes";
    let (status, v) = admin(c, via, reqwest::Method::POST, path, Some(body)).await?;
    anyhow::ensure!(status == 201, "adding node {id}: {status} {v}");
    Ok(())
}

/// Removes node `id` through node `via`.
async fn remove(c: &Cluster, via: u64, id: u64) -> anyhow::Result<()> {
    let path = format!("/admin/cluster/nodes/{id}");
    let (status, v) = admin(c, via, reqwest::Method::DELETE, &path, None).await?;
    anyhow::ensure!(status == 200, "removing node {id}: {status} {v}");
    Ok(())
}

/// Waits until every group's voters are `voters` and it has no learners, as node `via`'s
/// operator API reports; returns how long that took.
async fn settle(
    c: &Cluster,
    via: u64,
    voters: &[u64],
    within: Duration,
) -> anyhow::Result<Duration> {
    let want: BTreeSet<u64> = voters.iter().copied().collect();
    let started = Instant::now();
    let mut last = Value::Null;
    while started.elapsed() < within {
        let path = "/admin/cluster/nodes";
        if let Ok((200, v)) = admin(c, via, reqwest::Method::GET, path, None).await {
            let groups = v["groups"].as_array().cloned().unwrap_or_default();
            let ids = |g: &Value, field: &str| -> BTreeSet<u64> {
                g[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .collect()
            };
            let done = !groups.is_empty()
                && groups
                    .iter()
                    .all(|g| ids(g, "voters") == want && ids(g, "learners").is_empty());
            if done {
                return Ok(started.elapsed());
            }
            last = v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("groups did not settle on voters {voters:?} within {within:?}: {last:#}")
}

/// Waits for node `id`'s process to exit on its own; its exit status.
async fn exits(c: &Cluster, id: u64, within: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        {
            let mut child = c.node(id).child.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(status) = child.as_mut().map(|c| c.try_wait()).transpose()?.flatten() {
                *child = None;
                return Ok(status);
            }
        }
        anyhow::ensure!(started.elapsed() < within, "node {id} kept running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `roost admin` with the operator key against node `via`: exit success, and what it printed.
async fn roost_admin(c: &Cluster, via: u64, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let mut all = vec!["admin", "--url", c.url(via)];
    all.extend_from_slice(args);
    crate::harness::roost(&all, KEY).await
}

#[tokio::test]
async fn growing_to_five_and_shrinking_to_three_under_load_has_no_anomaly() -> anyhow::Result<()> {
    // One grow-and-shrink round per 10 s of the run (one in CI; a campaign's long runs do many,
    // each with new ids, since an id never comes back).
    let length = run_length(20);
    let rounds = (length.as_secs() / 10).max(1);
    let c = Cluster::start_growable(3, 2 * rounds, 2, &top()).await?;
    let q = create(&c, 1, &["c"]).await?;
    let rec = Recorder::new();
    let until = Instant::now() + length;
    let mut removed = Vec::new();
    let mut members = vec![1, 2, 3];
    let nemesis = async {
        // Bad input changes nothing and says why.
        for path in [
            "/admin/cluster/nodes/abc",
            "/admin/cluster/nodes/2?force=maybe",
        ] {
            let (status, v) = admin(&c, 1, reqwest::Method::DELETE, path, None).await?;
            anyhow::ensure!(
                status == 400 && v["code"] == "invalid_field",
                "{path}: {status} {v}"
            );
        }
        let anonymous = c
            .http
            .get(format!("{}/admin/cluster/nodes", c.url(1)))
            .send()
            .await?;
        anyhow::ensure!(anonymous.status() == 401, "{}", anonymous.status());
        for round in 0..rounds {
            if round > 0 && Instant::now() + Duration::from_secs(8) > until {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let new = [4 + 2 * round, 5 + 2 * round];
            rec.fault(format!("grow with {new:?}"), Outcome::Invoke);
            for id in new {
                c.spawn(id)?;
                add(&c, 1, id).await?;
            }
            let grown: Vec<u64> = members.iter().chain(&new).copied().collect();
            let took = settle(&c, 1, &grown, Duration::from_secs(60)).await?;
            rec.fault(format!("grow with {new:?}"), Outcome::Ok);
            println!("grown to {grown:?} in {took:?}");
            // Shrink by the two oldest members but node 1, so groups they led move.
            let old = [members[1], members[2]];
            rec.fault(format!("remove {old:?}"), Outcome::Invoke);
            let (ok, out) = roost_admin(&c, 1, &["remove-node", &old[0].to_string()]).await?;
            anyhow::ensure!(ok, "remove-node {}: {out}", old[0]);
            remove(&c, new[0], old[1]).await?;
            members = vec![1, new[0], new[1]];
            let took = settle(&c, 1, &members, Duration::from_secs(60)).await?;
            println!("shrunk to {members:?} in {took:?}");
            for id in old {
                c.stop(id)?;
            }
            removed.extend(old);
            rec.fault(format!("remove {old:?}"), Outcome::Ok);
        }
        // A removed id never comes back.
        let body = json!({"id": 2, "peer_addr": "127.0.0.1:1", "http_addr": "127.0.0.1:2"});
        let path = "/admin/cluster/nodes";
        let (status, v) = admin(&c, 1, reqwest::Method::POST, path, Some(body)).await?;
        anyhow::ensure!(
            status == 409 && v["code"] == "member_removed",
            "{status} {v}"
        );
        anyhow::Ok(())
    };
    run_and_check("membership", &c, &q, until, &rec, nemesis).await?;
    let (_, v) = admin(&c, 1, reqwest::Method::GET, "/admin/cluster/nodes", None).await?;
    let listed: Vec<u64> = v["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(listed, members, "{v:#}");
    removed.sort_unstable();
    assert_eq!(v["removed"], json!(removed));
    Ok(())
}

#[tokio::test]
async fn a_dead_node_is_replaced_by_a_new_id_and_its_wiped_disk_is_refused() -> anyhow::Result<()> {
    let c = Cluster::start_growable(3, 1, 2, &top()).await?;
    let q = create(&c, 1, &["c"]).await?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(20);
    run_and_check("replace", &c, &q, until, &rec, replace_dead_node(&c, &rec)).await
}

/// The nemesis of a lost disk, on a cluster from [`Cluster::start_growable`]`(3, 1, …)` with
/// [`top`]: kills node 3 and wipes its data dir; checks that stopping or removing another
/// member now is refused as quorum-critical and that the wiped node under its old id is
/// refused; then follows the runbook (remove 3, start node 4 with `--join`, add it) until
/// every group's voters are 1, 2 and 4.
pub(crate) async fn replace_dead_node(c: &Cluster, rec: &Recorder) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    c.kill(3)?;
    rec.fault("kill 3 and lose its disk".into(), Outcome::Invoke);
    std::fs::remove_dir_all(&c.node(3).data)?;
    // Stopping another member now would cost every group its quorum; so would removing one.
    let (ok, out) = roost_admin(c, 1, &["quorum-critical", "--node", "2"]).await?;
    anyhow::ensure!(!ok && out.contains("\"quorum_critical\": true"), "{out}");
    let (status, v) = admin(
        c,
        1,
        reqwest::Method::DELETE,
        "/admin/cluster/nodes/2",
        None,
    )
    .await?;
    anyhow::ensure!(
        status == 409 && v["code"] == "quorum_at_risk",
        "{status} {v}"
    );
    // The empty data dir under the old id is refused: it would vote without what it
    // acknowledged.
    c.spawn(3)?;
    let status = exits(c, 3, Duration::from_secs(30)).await?;
    anyhow::ensure!(!status.success(), "a wiped node 3 started");
    let log = std::fs::read_to_string(c.node(3).data.with_extension("log"))?;
    anyhow::ensure!(log.contains("this id was used"), "{log}");
    // The runbook: remove the dead id, start a new node with --join, add it.
    remove(c, 2, 3).await?;
    c.spawn(4)?;
    let (ok, out) = roost_admin(
        c,
        1,
        &[
            "add-node",
            "--id",
            "4",
            "--peer-addr",
            &peer_addr(c, 4)?,
            "--http-addr",
            c.url(4).trim_start_matches("http://"),
        ],
    )
    .await?;
    anyhow::ensure!(ok, "add-node 4: {out}");
    let replaced = settle(c, 1, &[1, 2, 4], Duration::from_secs(60)).await?;
    println!("replaced node 3 by node 4 in {replaced:?}");
    rec.fault("kill 3 and lose its disk".into(), Outcome::Ok);
    let (ok, out) = roost_admin(c, 1, &["quorum-critical", "--node", "2"]).await?;
    anyhow::ensure!(ok && out.contains("\"quorum_critical\": false"), "{out}");
    Ok(())
}

fn peer_addr(c: &Cluster, id: u64) -> anyhow::Result<String> {
    let config = std::fs::read_to_string(&c.node(id).config)?;
    config
        .lines()
        .find_map(|l| l.strip_prefix("peer_addr = "))
        .map(|a| a.trim_matches('"').to_owned())
        .ok_or_else(|| anyhow::anyhow!("no peer_addr in node {id}'s config"))
}
