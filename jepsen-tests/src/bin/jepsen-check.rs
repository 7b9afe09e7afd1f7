//! `jepsen-check --history H --final F [--out results.json]`: checks a recorded history against
//! the final state, prints a one-line summary, writes the report, exits 1 if anything is wrong.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Check a Roost chaos history.
#[derive(Parser)]
struct Args {
    /// The history, one JSON event per line.
    #[arg(long)]
    history: PathBuf,
    /// The final state, as JSON.
    #[arg(long = "final")]
    final_state: PathBuf,
    /// Where to write results.json.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.history)
        .with_context(|| format!("reading {}", args.history.display()))?;
    let history = jepsen_tests::history::parse(&text)?;
    let fin: jepsen_tests::FinalState = serde_json::from_str(
        &std::fs::read_to_string(&args.final_state)
            .with_context(|| format!("reading {}", args.final_state.display()))?,
    )?;
    let report = jepsen_tests::check(&history, &fin);
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
    }
    println!("{}", jepsen_tests::run::summary(&report));
    if !report.valid {
        std::process::exit(1);
    }
    Ok(())
}
