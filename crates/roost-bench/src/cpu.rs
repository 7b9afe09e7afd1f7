//! CPU time spent by the server processes during a phase, read from `/proc/<pid>/stat`.
//!
//! A rate alone hides what it costs: NATS, RabbitMQ and Roost share the same two cores with
//! the load generator, so the peer comparison also reports server CPU per message.

use anyhow::{bail, Context};

/// Clock ticks per second of the `utime`/`stime` fields in `/proc/<pid>/stat`. Linux fixes
/// this user-visible unit (`USER_HZ`) at 100 on every architecture Roost builds for, so it
/// is a constant here rather than a `sysconf` call through `unsafe` FFI.
const TICKS_PER_SEC: f64 = 100.0;

/// The server processes whose CPU time is sampled.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerCpu {
    /// Process ids of the server nodes (empty: no accounting).
    pids: Vec<u32>,
}

impl ServerCpu {
    /// Samples the given processes.
    pub(crate) fn new(pids: Vec<u32>) -> Self {
        Self { pids }
    }

    /// Total user+system CPU seconds of all pids so far, or `None` without pids.
    pub(crate) fn seconds(&self) -> anyhow::Result<Option<f64>> {
        if self.pids.is_empty() {
            return Ok(None);
        }
        let mut ticks = 0u64;
        for pid in &self.pids {
            let path = format!("/proc/{pid}/stat");
            let stat = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {path} (is server pid {pid} running?)"))?;
            ticks += cpu_ticks(&stat).with_context(|| format!("parsing {path}"))?;
        }
        Ok(Some(ticks as f64 / TICKS_PER_SEC))
    }
}

/// `utime + stime` (fields 14 and 15) of one `/proc/<pid>/stat` line. The command name in
/// field 2 is parenthesized and may hold spaces, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        bail!("no command name in stat line");
    };
    // `rest` starts at field 3 (state), so utime and stime are its 12th and 13th fields.
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = |name: &str| -> anyhow::Result<u64> {
        fields
            .next()
            .with_context(|| format!("missing {name}"))?
            .parse::<u64>()
            .with_context(|| format!("bad {name}"))
    };
    Ok(next("utime")? + next("stime")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_even_with_spaces_in_the_name() {
        let line = "4242 (roost node (1)) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(line).expect("parse"), 325);
    }

    #[test]
    fn truncated_lines_are_errors() {
        assert!(cpu_ticks("4242 (roost) S 1 2 3").is_err());
        assert!(cpu_ticks("no parens at all").is_err());
    }

    #[test]
    fn own_process_is_readable_and_no_pids_means_none() {
        let me = ServerCpu::new(vec![std::process::id()]);
        assert!(me.seconds().expect("own stat").is_some());
        assert_eq!(ServerCpu::default().seconds().expect("empty"), None);
    }
}
