//! Starts `roost serve` processes on free loopback ports (or each in a network namespace of its
//! own, see [`crate::netns`]) and stops exactly those processes.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use tempfile::TempDir;

use crate::netns::Net;

/// One node process and how to reach it.
pub struct NodeProc {
    pub id: u64,
    pub http: String,
    pub grpc: String,
    pub config: PathBuf,
    pub data: PathBuf,
    /// The running process, if any; behind a lock so tests can kill while clients run.
    pub child: Mutex<Option<Child>>,
    /// The node's clock offset for libfaketime (`+90s`), when its clock can be skewed.
    pub clock: Option<PathBuf>,
}

/// A cluster of node processes; dropping it kills them.
pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    pub http: reqwest::Client,
    /// The nodes' namespaces, when each runs in its own.
    net: Option<Net>,
    /// The CA and node certificates of a cluster whose peers speak mutual TLS.
    pub certs: Option<PathBuf>,
    _dir: TempDir,
}

/// How a cluster differs from plain nodes on loopback.
#[derive(Default)]
struct Extras<'a> {
    /// Each node in a network namespace of its own.
    net: Option<Net>,
    /// Wall clocks under libfaketime.
    skewable: bool,
    /// TLS on the client listeners and mutual TLS between peers.
    tls: bool,
    /// A data dir every node starts from.
    seed: Option<&'a Path>,
    /// Nodes past the members, configured to `--join` through node 1 and not started.
    spares: u64,
}

/// A loopback port free now and never handed out before in this process. Tests run at once
/// and nodes stop and start (and spare nodes start late): a port freed by one test's node
/// must not become another test's listener meanwhile.
fn free_port() -> anyhow::Result<u16> {
    static HANDED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..10_000 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if lock(&HANDED).insert(port) {
            return Ok(port);
        }
    }
    bail!("no loopback port left that this process has not handed out")
}

impl Cluster {
    /// Starts `n` nodes with `shards` shards and extra `[raft]` settings, and waits until ready.
    pub async fn start(n: u64, shards: u32, raft_extra: &str) -> anyhow::Result<Cluster> {
        Self::start_with(n, shards, "", raft_extra).await
    }

    /// Like [`Cluster::start`], with extra top-level settings too.
    pub async fn start_with(
        n: u64,
        shards: u32,
        top_extra: &str,
        raft_extra: &str,
    ) -> anyhow::Result<Cluster> {
        Self::launch(n, shards, top_extra, raft_extra, Extras::default()).await
    }

    /// `members` nodes like [`Cluster::start_with`], plus `spares` nodes (ids after theirs)
    /// configured to join through node 1 and not started: [`Cluster::spawn`] starts one.
    pub async fn start_growable(
        members: u64,
        spares: u64,
        shards: u32,
        top_extra: &str,
    ) -> anyhow::Result<Cluster> {
        let extras = Extras {
            spares,
            ..Extras::default()
        };
        Self::launch(members, shards, top_extra, "", extras).await
    }

    /// Like [`Cluster::start`] on loopback, with TLS on the client listeners (HTTP and gRPC,
    /// `https://` URLs, [`Cluster::http`] trusting the cluster's CA) and mutual TLS between
    /// peers.
    pub async fn start_tls(n: u64, shards: u32) -> anyhow::Result<Cluster> {
        Self::launch(
            n,
            shards,
            "",
            "",
            Extras {
                tls: true,
                ..Extras::default()
            },
        )
        .await
    }

    /// Like [`Cluster::start_with`], each node in a network namespace of its own (see
    /// [`crate::netns`]), so the test can partition them.
    pub async fn start_isolated(n: u64, shards: u32, top_extra: &str) -> anyhow::Result<Cluster> {
        Self::launch(
            n,
            shards,
            top_extra,
            "",
            Extras {
                net: Some(Net::make(n)?),
                ..Extras::default()
            },
        )
        .await
    }

    /// Like [`Cluster::start_isolated`] and [`Cluster::start_skewable`] at once.
    pub async fn start_isolated_skewable(n: u64, shards: u32) -> anyhow::Result<Cluster> {
        Self::launch(
            n,
            shards,
            "",
            "",
            Extras {
                net: Some(Net::make(n)?),
                skewable: true,
                ..Extras::default()
            },
        )
        .await
    }

    /// Like [`Cluster::start`], with each node's wall clock under libfaketime so the test can
    /// skew and jump it ([`Cluster::skew`]); monotonic clocks are left alone, as a real clock
    /// step leaves them.
    pub async fn start_skewable(n: u64, shards: u32) -> anyhow::Result<Cluster> {
        Self::launch(
            n,
            shards,
            "",
            "",
            Extras {
                skewable: true,
                ..Extras::default()
            },
        )
        .await
    }

    async fn launch(
        n: u64,
        shards: u32,
        top_extra: &str,
        raft_extra: &str,
        extras: Extras<'_>,
    ) -> anyhow::Result<Cluster> {
        let Extras {
            net,
            skewable,
            tls,
            seed,
            spares,
        } = extras;
        let dir = tempfile::tempdir()?;
        // (host, http, peer, grpc) per node: its own address in a namespace, else free
        // loopback ports.
        let addrs: Vec<(String, u16, u16, u16)> = (1..=n + spares)
            .map(|id| match &net {
                Some(net) => Ok((net.ip(id), 7080, 7180, 7280)),
                None => Ok((
                    "127.0.0.1".to_owned(),
                    free_port()?,
                    free_port()?,
                    free_port()?,
                )),
            })
            .collect::<anyhow::Result<_>>()?;
        let mut members = String::new();
        for (i, (host, http, peer, _)) in addrs.iter().take(n as usize).enumerate() {
            members.push_str(&format!(
                "\n[[members]]\nid = {}\npeer_addr = \"{host}:{peer}\"\nhttp_addr = \"{host}:{http}\"\n",
                i + 1
            ));
        }
        // Peers off loopback (in namespaces) speak mutual TLS, with certificates from
        // `roost certs` naming each node's address.
        let certs = dir.path().join("certs");
        let peer_tls = net.is_some() || tls;
        if peer_tls {
            make_certs(&certs, addrs.iter().map(|a| a.0.as_str()))?;
        }
        let scheme = if tls { "https" } else { "http" };
        let mut nodes = Vec::new();
        for (i, (host, http, peer, grpc)) in addrs.iter().enumerate() {
            let id = i as u64 + 1;
            let data = dir.path().join(format!("node{id}"));
            let config = dir.path().join(format!("node{id}.toml"));
            // A spare names no members: it learns them from the node it joins through.
            let (join, members) = if id > n {
                let (host, http, _, _) = &addrs[0];
                (format!("join = \"http://{host}:{http}\"\n"), "")
            } else {
                (String::new(), members.as_str())
            };
            let mut text = format!(
                "node_id = {id}\ndata_dir = {data:?}\nhttp_addr = \"{host}:{http}\"\npeer_addr = \"{host}:{peer}\"\ngrpc_addr = \"{host}:{grpc}\"\nshards = {shards}\nrequest_timeout_ms = 10000\n{join}{top_extra}\n{members}\n[raft]\n{raft_extra}\n"
            );
            if peer_tls {
                text.push_str(&peer_tls_table(&certs, id));
            }
            if tls {
                text.push_str(&format!(
                    "\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
                    certs.join(format!("node{id}.pem")),
                    certs.join(format!("node{id}.key"))
                ));
            }
            if net.is_some() {
                text = from_reference(n, id, &text)?;
            }
            std::fs::write(&config, text)?;
            nodes.push(NodeProc {
                id,
                http: format!("{scheme}://{host}:{http}"),
                grpc: format!("{scheme}://{host}:{grpc}"),
                config,
                data,
                child: Mutex::new(None),
                clock: skewable.then(|| dir.path().join(format!("node{id}.clock"))),
            });
        }
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if tls {
            let ca = std::fs::read(certs.join("ca.pem"))?;
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&ca)?);
        }
        let cluster = Cluster {
            nodes,
            http: http.build()?,
            certs: peer_tls.then(|| certs.clone()),
            net,
            _dir: dir,
        };
        for id in 1..=n {
            if let Some(seed) = seed {
                copy_dir(seed, &cluster.node(id).data)?;
            }
            cluster.spawn(id)?;
        }
        cluster.wait_ready(Duration::from_secs(60)).await?;
        Ok(cluster)
    }

    /// `n` nodes with `shards` shards whose data dirs start as copies of `seed` (a data dir an
    /// earlier version wrote, or one restored from a backup), with extra top-level settings.
    pub async fn start_from(
        n: u64,
        seed: &Path,
        shards: u32,
        top_extra: &str,
    ) -> anyhow::Result<Cluster> {
        Self::launch(
            n,
            shards,
            top_extra,
            "",
            Extras {
                seed: Some(seed),
                ..Extras::default()
            },
        )
        .await
    }

    /// Stops node `id` as an operator would (SIGTERM) and waits for it to exit.
    pub fn stop(&self, id: u64) -> anyhow::Result<()> {
        self.signal(id, "TERM")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut child = lock(&self.node(id).child);
        while let Some(c) = child.as_mut() {
            if c.try_wait()?.is_some() {
                *child = None;
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "node {id} did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Starts (or restarts) node `id`.
    pub fn spawn(&self, id: u64) -> anyhow::Result<()> {
        let node = self.node(id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.data.with_extension("log"))?;
        let mut command = match &self.net {
            // `ip netns exec` enters the namespace and execs roost: the child is roost itself.
            Some(net) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &net.ns(id), env!("CARGO_BIN_EXE_roost")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_roost")),
        };
        command
            .args(["serve", "--config"])
            .arg(&node.config)
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(clock) = &node.clock {
            if !clock.exists() {
                std::fs::write(clock, "+0s")?;
            }
            command
                .env("LD_PRELOAD", faketime_library()?)
                .env("FAKETIME_TIMESTAMP_FILE", clock)
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        let child = command.spawn().context("spawning roost")?;
        *lock(&node.child) = Some(child);
        Ok(())
    }

    /// Replaces `from` by `to` in node `id`'s config file (takes effect at its next start).
    pub fn edit_config(&self, id: u64, from: &str, to: &str) -> anyhow::Result<()> {
        let path = &self.node(id).config;
        let text = std::fs::read_to_string(path)?;
        anyhow::ensure!(text.contains(from), "{from:?} not in the config");
        std::fs::write(path, text.replace(from, to))?;
        Ok(())
    }

    /// Kills node `id` with SIGKILL (no graceful shutdown) and reaps it.
    pub fn kill(&self, id: u64) -> anyhow::Result<()> {
        if let Some(mut child) = lock(&self.node(id).child).take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) node `id`: a process that stops answering
    /// without dying, as a long GC pause or an overloaded host would.
    pub fn signal(&self, id: u64, signal: &str) -> anyhow::Result<()> {
        let pid = lock(&self.node(id).child)
            .as_ref()
            .map(Child::id)
            .ok_or_else(|| anyhow::anyhow!("node {id} is not running"))?;
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
        Ok(())
    }

    /// Sets node `id`'s wall clock `secs` seconds off the real time (negative: behind); the
    /// running process follows within a second. Only for [`Cluster::start_skewable`].
    pub fn skew(&self, id: u64, secs: i64) -> anyhow::Result<()> {
        let clock = self
            .node(id)
            .clock
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("node {id}'s clock is not skewable"))?;
        // Write then rename, so libfaketime never reads a half-written (empty) offset.
        let next = clock.with_extension("next");
        std::fs::write(&next, format!("{secs:+}s"))?;
        std::fs::rename(&next, clock)?;
        Ok(())
    }

    /// The nodes' namespaces; only for [`Cluster::start_isolated`].
    pub fn net(&self) -> anyhow::Result<&Net> {
        self.net
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the nodes do not run in namespaces"))
    }

    /// How many nodes the cluster has.
    pub fn size(&self) -> u64 {
        self.nodes.len() as u64
    }

    pub fn node(&self, id: u64) -> &NodeProc {
        &self.nodes[(id - 1) as usize]
    }

    pub fn url(&self, id: u64) -> &str {
        &self.nodes[(id - 1) as usize].http
    }

    /// Ids of nodes currently running.
    pub fn running(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| lock(&n.child).is_some())
            .map(|n| n.id)
            .collect()
    }

    /// Waits until every running node answers /readyz with 200.
    pub async fn wait_ready(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        for id in self.running() {
            loop {
                let ok = self
                    .http
                    .get(format!("{}/readyz", self.url(id)))
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    break;
                }
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(self.node(id).data.with_extension("log"))
                        .unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(40).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    bail!(
                        "node {id} not ready within {within:?}; its log ends:\n{}",
                        tail.join("\n")
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// `GET /cluster` from node `id`.
    pub async fn status(&self, id: u64) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}/cluster", self.url(id)))
            .send()
            .await?
            .json()
            .await?)
    }

    /// GETs `path` from node `id` with a bearer key or token, as JSON.
    pub async fn get_json(&self, id: u64, path: &str, bearer: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}{path}", self.url(id)))
            .bearer_auth(bearer)
            .send()
            .await?
            .json()
            .await?)
    }

    /// The leader of `group` as node `id` sees it.
    pub async fn leader_of(&self, id: u64, group: u64) -> anyhow::Result<Option<u64>> {
        let s = self.status(id).await?;
        Ok(s["groups"][group as usize]["leader"].as_u64())
    }

    /// Waits until the running nodes agree on a leader of `group` that is running.
    pub async fn wait_leader(&self, group: u64, within: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + within;
        loop {
            let running = self.running();
            let mut seen = Vec::new();
            for id in &running {
                seen.push(self.leader_of(*id, group).await.ok().flatten());
            }
            if let Some(Some(l)) = seen.first() {
                if running.contains(l) && seen.iter().all(|s| *s == Some(*l)) {
                    return Ok(*l);
                }
            }
            if Instant::now() > deadline {
                bail!("no agreed leader of group {group} within {within:?}: {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            if let Some(mut child) = lock(&node.child).take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// libfaketime's multi-threaded library, wherever Debian put it for this architecture.
/// Makes a CA and a certificate per node (node `i + 1` named by `hosts[i]`) into `dir` with
/// `roost certs`.
pub fn make_certs<'a>(dir: &Path, hosts: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roost"));
    command.args(["certs", "--out"]).arg(dir);
    for (id, host) in (1..).zip(hosts) {
        command.arg("--node").arg(format!("{id}={host}"));
    }
    let out = command.output()?;
    anyhow::ensure!(
        out.status.success(),
        "roost certs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The `[peer_tls]` table of node `id` for certificates made by [`make_certs`] in `dir`.
pub fn peer_tls_table(dir: &Path, id: u64) -> String {
    format!(
        "\n[peer_tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\n",
        dir.join(format!("node{id}.pem")),
        dir.join(format!("node{id}.key")),
        dir.join("ca.pem")
    )
}

/// Runs the README's quickstart (its first `sh` block after "## Quickstart") with curl against
/// `base` instead of `http://127.0.0.1:7070`, and checks what it prints.
pub fn readme_quickstart(base: &str) -> anyhow::Result<()> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))?;
    let section = readme
        .split("## Quickstart")
        .nth(1)
        .context("README has a Quickstart section")?;
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .context("Quickstart has a sh block")?
        .replace("http://127.0.0.1:7070", base);
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "\"seq\":1",
        "\"payload\":{\"hello\":\"world\"}",
        "\"ok\":true",
    ] {
        anyhow::ensure!(stdout.contains(expected), "no {expected} in: {stdout}");
    }
    Ok(())
}

fn faketime_library() -> anyhow::Result<PathBuf> {
    let lib = std::fs::read_dir("/usr/lib")?
        .filter_map(Result::ok)
        .map(|d| d.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.exists());
    lib.ok_or_else(|| anyhow::anyhow!("libfaketime not installed (scripts/deps.sh installs it)"))
}

/// Node `id`'s reference configuration (`cluster-config/local-3` or `five`) with `ours` laid
/// over it: the namespaces' addresses, the data directory and the test's settings replace
/// the reference's, everything else (auth, limits) comes from the reference.
fn from_reference(n: u64, id: u64, ours: &str) -> anyhow::Result<String> {
    let folder = match n {
        3 => "local-3",
        5 => "five",
        _ => bail!("no reference configuration for {n} nodes"),
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../cluster-config")
        .join(folder)
        .join(format!("node{id}.toml"));
    let mut base: toml::Table = toml::from_str(&std::fs::read_to_string(&path)?)?;
    let over: toml::Table = toml::from_str(ours)?;
    overlay(&mut base, over);
    Ok(toml::to_string(&base)?)
}

/// Lays `over` onto `base`: tables merge key by key, anything else is replaced.
fn overlay(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => overlay(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn namespace_configs_start_from_the_reference_ones() -> anyhow::Result<()> {
    let ours = "node_id = 2\nhttp_addr = \"10.1.2.2:7080\"\n[[members]]\nid = 1\npeer_addr = \"10.1.2.1:7180\"\nhttp_addr = \"10.1.2.1:7080\"\n[raft]\nheartbeat_ms = 50\n";
    let merged: toml::Table = toml::from_str(&from_reference(3, 2, ours)?)?;
    // Ours replace the reference's ...
    assert_eq!(merged["http_addr"].as_str(), Some("10.1.2.2:7080"));
    assert_eq!(merged["members"].as_array().map(Vec::len), Some(1));
    // ... and what we do not set comes from cluster-config/local-3/node2.toml.
    assert_eq!(merged["peer_addr"].as_str(), Some("127.0.0.1:7182"));
    assert!(merged["auth"]["jwt_secret"].as_str().is_some());
    assert!(from_reference(4, 1, ours).is_err());
    Ok(())
}

/// Copies directory `from` into `to` (created), recursively.
pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs the `roost` binary with `args` and the operator key in `ROOST_OPERATOR_KEY`: whether
/// it succeeded, and what it printed (stdout, then stderr).
pub async fn roost(args: &[&str], operator_key: &str) -> anyhow::Result<(bool, String)> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(args)
        .env("ROOST_OPERATOR_KEY", operator_key)
        .output()
        .await?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.success(), text))
}
