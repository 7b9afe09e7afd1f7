//! Starts `roost serve` processes on free loopback ports and stops exactly those processes.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use tempfile::TempDir;

/// One node process and how to reach it.
pub struct NodeProc {
    pub id: u64,
    pub http: String,
    pub grpc: String,
    pub config: PathBuf,
    pub data: PathBuf,
    /// The running process, if any; behind a lock so tests can kill while clients run.
    pub child: Mutex<Option<Child>>,
}

/// A cluster of node processes; dropping it kills them.
pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    pub http: reqwest::Client,
    _dir: TempDir,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
        let dir = tempfile::tempdir()?;
        let ports: Vec<(u16, u16)> = (0..n)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<anyhow::Result<_>>()?;
        let grpc_ports: Vec<u16> = (0..n).map(|_| free_port()).collect::<anyhow::Result<_>>()?;
        let mut members = String::new();
        for (i, (http, peer)) in ports.iter().enumerate() {
            members.push_str(&format!(
                "\n[[members]]\nid = {}\npeer_addr = \"127.0.0.1:{peer}\"\nhttp_addr = \"127.0.0.1:{http}\"\n",
                i + 1
            ));
        }
        let mut nodes = Vec::new();
        for (i, (http, peer)) in ports.iter().enumerate() {
            let id = i as u64 + 1;
            let grpc = grpc_ports[i];
            let data = dir.path().join(format!("node{id}"));
            let config = dir.path().join(format!("node{id}.toml"));
            let text = format!(
                "node_id = {id}\ndata_dir = {data:?}\nhttp_addr = \"127.0.0.1:{http}\"\npeer_addr = \"127.0.0.1:{peer}\"\ngrpc_addr = \"127.0.0.1:{grpc}\"\nshards = {shards}\nrequest_timeout_ms = 10000\n{top_extra}\n{members}\n[raft]\n{raft_extra}\n"
            );
            std::fs::write(&config, text)?;
            nodes.push(NodeProc {
                id,
                http: format!("http://127.0.0.1:{http}"),
                grpc: format!("http://127.0.0.1:{grpc}"),
                config,
                data,
                child: Mutex::new(None),
            });
        }
        let cluster = Cluster {
            nodes,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            _dir: dir,
        };
        for id in 1..=n {
            cluster.spawn(id)?;
        }
        cluster.wait_ready(Duration::from_secs(60)).await?;
        Ok(cluster)
    }

    /// Starts (or restarts) node `id`.
    pub fn spawn(&self, id: u64) -> anyhow::Result<()> {
        let node = self.node(id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.data.with_extension("log"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["serve", "--config"])
            .arg(&node.config)
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("spawning roost")?;
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
                    bail!("node {id} not ready within {within:?}");
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
