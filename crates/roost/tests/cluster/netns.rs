//! Each node in a network namespace of its own, joined by a bridge, so a nemesis can cut links
//! with nftables inside the namespaces: real packet loss between real processes, while the
//! test (in the root namespace, on the bridge) still reaches every node. Needs root, `ip`
//! (iproute2) and `nft` (nftables); everything made here is removed on drop.

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{ensure, Context};

/// Clusters made by this test process so far; keeps names and subnets of concurrent tests
/// apart.
static MADE: AtomicU32 = AtomicU32::new(0);

/// The namespaces, veth pairs and bridge of one cluster.
pub struct Net {
    /// Short unique tag in every name made here (interface names are capped at 15 bytes).
    tag: String,
    /// The /24 the nodes live in, as its first three octets.
    prefix: String,
    /// How many nodes.
    n: u64,
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .with_context(|| format!("running {args:?}"))?;
    ensure!(status.success(), "{args:?} failed: {status}");
    Ok(())
}

impl Net {
    /// Makes `n` namespaces with node `i` at `<prefix>.i`, and the bridge at `<prefix>.254`.
    pub fn make(n: u64) -> anyhow::Result<Net> {
        let k = MADE.fetch_add(1, Ordering::Relaxed);
        let unique = (std::process::id() % 10_000) * 16 + k % 16;
        let net = Net {
            tag: format!("{unique}"),
            prefix: format!("10.{}.{}", 100 + unique / 256 % 100, unique % 256),
            n,
        };
        let bridge = net.bridge();
        run(&["ip", "link", "add", &bridge, "type", "bridge"])?;
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{}.254/24", net.prefix),
            "dev",
            &bridge,
        ])?;
        run(&["ip", "link", "set", &bridge, "up"])?;
        for id in 1..=n {
            let (ns, host, inner) = (net.ns(id), format!("rh{}n{id}", net.tag), "eth0");
            run(&["ip", "netns", "add", &ns])?;
            run(&[
                "ip", "link", "add", &host, "type", "veth", "peer", "name", inner, "netns", &ns,
            ])?;
            run(&["ip", "link", "set", &host, "master", &bridge, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["ip", "netns", "exec", &ns];
                all.extend_from_slice(args);
                run(&all)
            };
            inside(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", net.ip(id)),
                "dev",
                inner,
            ])?;
            inside(&["ip", "link", "set", inner, "up"])?;
            inside(&["ip", "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    fn bridge(&self) -> String {
        format!("rb{}", self.tag)
    }

    /// The namespace of node `id`.
    pub fn ns(&self, id: u64) -> String {
        format!("roost{}n{id}", self.tag)
    }

    /// The address of node `id`.
    pub fn ip(&self, id: u64) -> String {
        format!("{}.{id}", self.prefix)
    }

    /// Makes `names` resolve inside every namespace, as a container network's DNS would: each
    /// `(id, name)` to node `id`'s address. `ip netns exec` binds `/etc/netns/<ns>/hosts` over
    /// `/etc/hosts` for the processes it starts.
    pub fn hosts(&self, names: &[(u64, String)]) -> anyhow::Result<()> {
        let mut text = String::from("127.0.0.1 localhost\n");
        for (id, name) in names {
            text.push_str(&format!("{} {name}\n", self.ip(*id)));
        }
        for id in 1..=self.n {
            let dir = self.etc(id);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(format!("{dir}/hosts"), &text)?;
        }
        Ok(())
    }

    /// Files `ip netns exec` binds over `/etc` in the namespace of node `id`.
    fn etc(&self, id: u64) -> String {
        format!("/etc/netns/{}", self.ns(id))
    }

    /// Drops every packet between the nodes of `side` and all other nodes (both ways); the
    /// test itself still reaches everyone.
    pub fn partition(&self, side: &[u64]) -> anyhow::Result<()> {
        self.cut(|a, b| side.contains(&a) != side.contains(&b))
    }

    /// A ring: every node hears only its two neighbours (by id, wrapping), so every node
    /// sees a majority of five but no two nodes see the same majority.
    pub fn ring(&self) -> anyhow::Result<()> {
        let n = self.n;
        self.cut(|a, b| {
            let d = (a + n - b) % n;
            d != 1 && d != n - 1
        })
    }

    /// A bridge: two halves that cannot hear each other, and one node (`middle`) that hears
    /// both.
    pub fn bridge_through(&self, middle: u64) -> anyhow::Result<()> {
        let half = |x: u64| (x < middle) as u8;
        self.cut(|a, b| a != middle && b != middle && half(a) != half(b))
    }

    /// Drops packets between every pair `(a, b)` of nodes for which `cut(a, b)` holds (it must
    /// be symmetric).
    fn cut(&self, cut: impl Fn(u64, u64) -> bool) -> anyhow::Result<()> {
        for id in 1..=self.n {
            let others: Vec<String> = (1..=self.n)
                .filter(|&o| o != id && cut(id, o))
                .map(|o| self.ip(o))
                .collect();
            if others.is_empty() {
                continue;
            }
            let rules = format!(
                "table inet roostnemesis {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    ip saddr {{ {} }} drop\n  }}\n}}\n",
                others.join(", ")
            );
            let mut nft = Command::new("ip")
                .args(["netns", "exec", &self.ns(id), "nft", "-f", "-"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .context("running nft")?;
            nft.stdin
                .take()
                .context("nft stdin")?
                .write_all(rules.as_bytes())?;
            let status = nft.wait()?;
            ensure!(status.success(), "nft rules for node {id} failed: {status}");
        }
        Ok(())
    }

    /// Removes every partition.
    pub fn heal(&self) -> anyhow::Result<()> {
        for id in 1..=self.n {
            // Absent when this node was on no cut: nothing to remove then.
            let _ = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.ns(id),
                    "nft",
                    "delete",
                    "table",
                    "inet",
                ])
                .arg("roostnemesis")
                .stderr(std::process::Stdio::null())
                .status();
        }
        Ok(())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for id in 1..=self.n {
            // Deleting a namespace deletes its end of the veth pair, and with it the host end.
            let _ = run(&["ip", "netns", "delete", &self.ns(id)]);
            let _ = std::fs::remove_dir_all(self.etc(id));
        }
        let _ = run(&["ip", "link", "delete", &self.bridge()]);
    }
}
