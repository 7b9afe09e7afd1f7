//! The container deployments in `deploy/`, run as written: three `roost` processes, each with
//! exactly the environment that `deploy/compose.yaml` (over the Dockerfile's) or the
//! Kubernetes StatefulSet gives its container, each in a network namespace of its own where
//! the containers' host names (`roost1`, `roost-0.roost-peers`) resolve to the nodes'
//! addresses, as the container network's DNS would. Only the data volume is mapped, to a
//! temporary directory. One cluster must form, and serve the README's quickstart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use serde_norway::Value;

use crate::netns::Net;

/// The image's PATH (Debian's), the only variable a container gets besides those set for it.
const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the image installs the binary; the test runs the one cargo built instead.
const IMAGE_BINARY: &str = "/usr/local/bin/roost";

fn deploy_file(name: &str) -> anyhow::Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    std::fs::read_to_string(&path).with_context(|| path.display().to_string())
}

fn text(v: &Value) -> anyhow::Result<String> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => bail!("not a scalar: {other:?}"),
    })
}

/// Environment variables, in the order they are set.
type Env = Vec<(String, String)>;

/// The Dockerfile's `ENV` pairs and its `ENTRYPOINT`.
fn dockerfile() -> anyhow::Result<(Env, Vec<String>)> {
    let file = deploy_file("Dockerfile")?;
    let mut env = Vec::new();
    let mut entrypoint = Vec::new();
    for line in file.lines() {
        if let Some(pairs) = line.strip_prefix("ENV ") {
            for pair in pairs.split_whitespace() {
                let (k, v) = pair.split_once('=').context("ENV k=v")?;
                env.push((k.to_owned(), v.to_owned()));
            }
        } else if let Some(list) = line.strip_prefix("ENTRYPOINT ") {
            entrypoint = serde_json::from_str(list)?;
        }
    }
    ensure!(
        !env.is_empty() && !entrypoint.is_empty(),
        "Dockerfile has ENV and ENTRYPOINT"
    );
    Ok((env, entrypoint))
}

fn append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// One container: its host name, command line, environment and mounted volumes.
struct Container {
    hostname: String,
    command: Vec<String>,
    env: Env,
    /// `(volume, path in the container)`; a volume's name is shared by the containers that
    /// mount it.
    mounts: Vec<(String, String)>,
}

/// The mounts in a compose `volumes` list (`name:/path[:ro]`).
fn compose_mounts(service: &Value) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for v in service["volumes"].as_sequence().into_iter().flatten() {
        let v = text(v)?;
        let mut parts = v.split(':');
        let (Some(name), Some(path)) = (parts.next(), parts.next()) else {
            bail!("volume {v:?} is not name:/path");
        };
        out.push((name.to_owned(), path.to_owned()));
    }
    Ok(out)
}

/// `deploy/compose.yaml` built from the Dockerfile: the one-shot services the nodes wait for
/// (`service_completed_successfully`), then the nodes.
fn compose() -> anyhow::Result<(Vec<Container>, Vec<Container>)> {
    let (image_env, entrypoint) = dockerfile()?;
    let mut doc: Value = serde_norway::from_str(&deploy_file("compose.yaml")?)?;
    doc.apply_merge()?;
    let services = doc["services"].as_mapping().context("services")?;
    let mut jobs = Vec::new();
    let mut nodes = Vec::new();
    let mut waited_for = Vec::new();
    for (_, service) in services {
        for (dep, how) in service["depends_on"].as_mapping().into_iter().flatten() {
            if how["condition"] == "service_completed_successfully" {
                waited_for.push(text(dep)?);
            }
        }
    }
    for (name, service) in services {
        let name = text(name)?;
        let mut env = image_env.clone();
        for (k, v) in service["environment"].as_mapping().into_iter().flatten() {
            env.push((text(k)?, text(v)?));
        }
        let strings = |v: &Value| -> anyhow::Result<Option<Vec<String>>> {
            v.as_sequence()
                .map(|s| s.iter().map(text).collect())
                .transpose()
        };
        let command = [
            strings(&service["entrypoint"])?.unwrap_or_else(|| entrypoint.clone()),
            strings(&service["command"])?.unwrap_or_default(),
        ]
        .concat();
        let container = Container {
            hostname: name.clone(),
            command,
            env,
            mounts: compose_mounts(service)?,
        };
        if waited_for.contains(&name) {
            jobs.push(container);
        } else {
            nodes.push(container);
        }
    }
    Ok((jobs, nodes))
}

/// The pods of the StatefulSet in `deploy/k8s/roost.yaml`, and the names they resolve each
/// other by (`<pod>.<serviceName>`). Each pod's volume claim is its own volume; a Secret's
/// volume is shared.
fn statefulset() -> anyhow::Result<(Vec<Container>, Vec<String>)> {
    let (image_env, _) = dockerfile()?;
    let file = deploy_file("k8s/roost.yaml")?;
    let mut sts = None;
    for doc in serde_norway::Deserializer::from_str(&file) {
        let v: Value = serde::Deserialize::deserialize(doc)?;
        if v["kind"] == "StatefulSet" {
            sts = Some(v);
        }
    }
    let sts = sts.context("a StatefulSet")?;
    let name = text(&sts["metadata"]["name"])?;
    let service = text(&sts["spec"]["serviceName"])?;
    let replicas = sts["spec"]["replicas"].as_u64().context("replicas")?;
    let pod = &sts["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let strings = |v: &Value| -> anyhow::Result<Vec<String>> {
        v.as_sequence()
            .context("a list")?
            .iter()
            .map(text)
            .collect()
    };
    let command = [
        strings(&container["command"])?,
        strings(&container["args"])?,
    ]
    .concat();
    let secrets: Vec<String> = pod["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter(|v| v["secret"].is_mapping())
        .map(|v| text(&v["name"]))
        .collect::<anyhow::Result<_>>()?;
    let mut pods = Vec::new();
    let mut names = Vec::new();
    for i in 0..replicas {
        let hostname = format!("{name}-{i}");
        let mut env = image_env.clone();
        // Kubernetes sets HOSTNAME to the pod's name; the container's script derives its id.
        env.push(("HOSTNAME".into(), hostname.clone()));
        for e in container["env"].as_sequence().context("env")? {
            env.push((text(&e["name"])?, text(&e["value"])?));
        }
        let mut mounts = Vec::new();
        for m in container["volumeMounts"]
            .as_sequence()
            .context("volumeMounts")?
        {
            let volume = text(&m["name"])?;
            let volume = if secrets.contains(&volume) {
                volume
            } else {
                format!("{volume}-{hostname}")
            };
            mounts.push((volume, text(&m["mountPath"])?));
        }
        names.push(format!("{hostname}.{service}"));
        pods.push(Container {
            hostname,
            command: command.clone(),
            env,
            mounts,
        });
    }
    Ok((pods, names))
}

/// Running containers; dropping them kills the processes, then the namespaces go.
struct Deployment {
    children: Vec<Child>,
    logs: Vec<PathBuf>,
    net: Net,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where volumes live on this machine, and what a container's paths become.
struct Volumes(tempfile::TempDir);

impl Volumes {
    fn new() -> anyhow::Result<Volumes> {
        Ok(Volumes(tempfile::tempdir()?))
    }

    fn path(&self, volume: &str) -> PathBuf {
        self.0.path().join(volume)
    }

    /// The container `c`'s command line (after `prefix`; the image's binary replaced by
    /// cargo's) and environment, with its mount paths replaced by the volumes' directories.
    fn command(&self, c: &Container, prefix: &[&str]) -> anyhow::Result<Command> {
        let map = |s: &str| {
            let mut s = s.replace(IMAGE_BINARY, env!("CARGO_BIN_EXE_roost"));
            for (volume, path) in &c.mounts {
                s = s.replace(path.as_str(), &self.path(volume).to_string_lossy());
            }
            s
        };
        for (volume, _) in &c.mounts {
            std::fs::create_dir_all(self.path(volume))?;
        }
        let line: Vec<String> = prefix
            .iter()
            .map(|s| s.to_string())
            .chain(c.command.iter().map(|a| map(a)))
            .collect();
        let (program, args) = line.split_first().context("an empty command")?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", IMAGE_PATH)
            .envs(c.env.iter().map(|(k, v)| (k.as_str(), map(v))))
            .current_dir(self.0.path());
        Ok(cmd)
    }

    /// Runs a one-shot container to completion.
    fn run(&self, c: &Container) -> anyhow::Result<()> {
        let out = self.command(c, &[])?.output()?;
        ensure!(
            out.status.success(),
            "{} failed: {}{}",
            c.hostname,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}

impl Deployment {
    /// Starts `containers`, node `i + 1` in namespace `i + 1`, with `names[i]` resolving to it.
    fn start(
        containers: &[Container],
        names: &[String],
        volumes: &Volumes,
    ) -> anyhow::Result<Deployment> {
        let net = Net::make(containers.len() as u64)?;
        let hosts: Vec<(u64, String)> = (1..).zip(names.iter().cloned()).collect();
        net.hosts(&hosts)?;
        let mut deployment = Deployment {
            children: Vec::new(),
            logs: Vec::new(),
            net,
        };
        for (i, c) in containers.iter().enumerate() {
            let log = volumes.path(&format!("{}.log", c.hostname));
            let ns = deployment.net.ns(i as u64 + 1);
            let mut cmd = volumes.command(c, &["ip", "netns", "exec", &ns])?;
            cmd.stdout(append(&log)?).stderr(append(&log)?);
            deployment
                .children
                .push(cmd.spawn().context("starting a container")?);
            deployment.logs.push(log);
        }
        Ok(deployment)
    }

    fn url(&self, id: u64) -> String {
        format!("http://{}:7070", self.net.ip(id))
    }

    fn logs(&self) -> String {
        self.logs
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "== {}\n{}",
                    p.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until every node is ready and all report one cluster of three with a leader for
    /// every group, then runs the quickstart through each node.
    async fn check(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        for id in 1..=3 {
            loop {
                let ready = http.get(format!("{}/readyz", self.url(id))).send().await;
                if ready.is_ok_and(|r| r.status().is_success()) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("node {id} not ready within 60 s\n{}", self.logs());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        for id in 1..=3 {
            let status: serde_json::Value = http
                .get(format!("{}/cluster", self.url(id)))
                .send()
                .await?
                .json()
                .await?;
            ensure!(
                status["node_id"] == id,
                "node {id} says it is {}",
                status["node_id"]
            );
            let nodes = status["nodes"].as_array().map(Vec::len);
            ensure!(nodes == Some(3), "node {id} sees {nodes:?} nodes: {status}");
            let groups = status["groups"].as_array().context("groups")?;
            ensure!(
                groups.len() == 5,
                "metadata + 4 shards, as configured: {status}"
            );
            let formed = |g: &serde_json::Value| {
                g["leader"].as_u64().is_some() && g["voters"].as_array().map(Vec::len) == Some(3)
            };
            ensure!(groups.iter().all(formed), "node {id}: {status}");
        }
        for id in 1..=3 {
            crate::harness::readme_quickstart(&self.url(id))
                .with_context(|| format!("quickstart through node {id}\n{}", self.logs()))?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn compose_deployment_forms_one_cluster_and_serves() -> anyhow::Result<()> {
    let (jobs, nodes) = compose()?;
    ensure!(nodes.len() == 3, "three nodes");
    let volumes = Volumes::new()?;
    for job in &jobs {
        volumes.run(job)?;
    }
    let names: Vec<String> = nodes.iter().map(|c| c.hostname.clone()).collect();
    Deployment::start(&nodes, &names, &volumes)?.check().await
}

#[tokio::test]
async fn kubernetes_statefulset_forms_one_cluster_and_serves() -> anyhow::Result<()> {
    let (pods, names) = statefulset()?;
    ensure!(pods.len() == 3, "three replicas");
    let volumes = Volumes::new()?;
    // The Secret the manifest's comment makes with `roost certs`.
    crate::harness::make_certs(&volumes.path("peer-tls"), names.iter().map(String::as_str))?;
    Deployment::start(&pods, &names, &volumes)?.check().await
}
