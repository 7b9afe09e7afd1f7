//! `roost job`: create, get, wait, cancel.

use roost_client::wire::{CreateJob, Time};

use super::{document, print, WorkspaceArgs};

/// `roost job ...`.
#[derive(clap::Args, Debug)]
pub struct JobArgs {
    #[command(flatten)]
    workspace: WorkspaceArgs,
    #[command(subcommand)]
    cmd: JobCmd,
}

#[derive(clap::Subcommand, Debug)]
enum JobCmd {
    /// Enqueue a job.
    Create {
        /// The worker type.
        #[arg(long = "type")]
        job_type: String,
        /// JSON for the worker (`-`: read from stdin).
        #[arg(long)]
        payload: Option<String>,
        /// Retries after the first attempt (0-10).
        #[arg(long)]
        max_retries: Option<i64>,
        /// Seconds one attempt may run (10-86400).
        #[arg(long)]
        timeout_seconds: Option<i64>,
        /// Higher runs first (-1000..=1000).
        #[arg(long)]
        priority: Option<i64>,
        /// Not before this time (RFC 3339).
        #[arg(long)]
        run_at: Option<String>,
        /// Where to POST the outcome.
        #[arg(long)]
        webhook: Option<String>,
        /// Makes a repeat answer the first job.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Show a job.
    Get {
        /// The job.
        id: String,
    },
    /// Wait until the job is over (or the timeout passes) and show it.
    Wait {
        /// The job.
        id: String,
        /// Seconds to wait at most.
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Cancel a job.
    Cancel {
        /// The job.
        id: String,
    },
}

/// Runs `roost job ...`.
pub async fn run(args: JobArgs) -> anyhow::Result<()> {
    let (client, token) = args.workspace.connect()?;
    match args.cmd {
        JobCmd::Create {
            job_type,
            payload,
            max_retries,
            timeout_seconds,
            priority,
            run_at,
            webhook,
            idempotency_key,
        } => {
            let req = CreateJob {
                job_type,
                payload: payload.as_deref().map(document).transpose()?,
                max_retries,
                timeout_seconds,
                priority,
                run_at: run_at.map(Time::Text),
                webhook,
                idempotency_key,
            };
            print(&client.create_job(token, &req).await?)
        }
        JobCmd::Get { id } => print(&client.get_job(token, &id).await?),
        JobCmd::Wait { id, timeout } => print(&client.wait_job(token, &id, timeout).await?),
        JobCmd::Cancel { id } => print(&client.cancel_job(token, &id).await?),
    }
}
