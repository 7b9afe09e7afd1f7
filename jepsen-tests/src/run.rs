//! A run's directory: what a chaos run leaves behind for a reader (and for `plot.py`).

use std::path::Path;

use anyhow::Context;

use crate::{Event, FinalState, Report};

/// Writes `history.jsonl` (one event per line), `final.json` and `results.json` into `dir`,
/// creating it, and returns the one-line summary it also writes as `summary.txt`.
pub fn write(
    dir: &Path,
    history: &[Event],
    fin: &FinalState,
    report: &Report,
) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut lines = String::new();
    for event in history {
        lines.push_str(&serde_json::to_string(event)?);
        lines.push('\n');
    }
    std::fs::write(dir.join("history.jsonl"), lines)?;
    std::fs::write(dir.join("final.json"), serde_json::to_string_pretty(fin)?)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    let line = summary(report);
    std::fs::write(dir.join("summary.txt"), format!("{line}\n"))?;
    Ok(line)
}

/// `valid: 0 anomalies {...}; ops {...}` — what `jepsen-check` prints too.
pub fn summary(report: &Report) -> String {
    format!(
        "{}: {} anomalies {:?}; ops {:?}",
        if report.valid { "valid" } else { "INVALID" },
        report.anomalies.len(),
        report.counts,
        report.ops
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check, Event, Op, Outcome};

    #[test]
    fn a_run_directory_holds_the_history_the_final_state_and_the_results() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("jepsen-run-{}", std::process::id()));
        let history = vec![
            Event {
                process: 0,
                outcome: Outcome::Invoke,
                op: Op::Nemesis {
                    fault: "kill 1".into(),
                },
                time: 1,
            },
            Event {
                process: 0,
                outcome: Outcome::Ok,
                op: Op::Nemesis {
                    fault: "kill 1".into(),
                },
                time: 2,
            },
        ];
        let fin = FinalState::default();
        let report = check(&history, &fin);
        let line = write(&dir, &history, &fin, &report)?;
        assert!(line.starts_with("valid: 0 anomalies"), "{line}");
        let back = crate::history::parse(&std::fs::read_to_string(dir.join("history.jsonl"))?)?;
        assert_eq!(back, history);
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json"))?)?;
        assert_eq!(results["valid"], true);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
