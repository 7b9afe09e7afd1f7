//! `roost task`: add a task to a work queue, dequeue one.

use roost_client::wire::{AddTask, Time};

use super::{document, print, WorkspaceArgs};

/// `roost task ...`.
#[derive(clap::Args, Debug)]
pub struct TaskArgs {
    #[command(flatten)]
    workspace: WorkspaceArgs,
    #[command(subcommand)]
    cmd: TaskCmd,
}

#[derive(clap::Subcommand, Debug)]
enum TaskCmd {
    /// Add a task to a work queue.
    Add {
        /// The work queue.
        queue: String,
        /// What to do.
        name: String,
        /// 1-5, 5 the most urgent.
        #[arg(long)]
        priority: Option<i64>,
        /// JSON for the agent (`-`: read from stdin).
        #[arg(long)]
        payload: Option<String>,
        /// When it is due (RFC 3339).
        #[arg(long)]
        deadline: Option<String>,
        /// Makes a repeat answer the first task.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Take the most urgent pending task (prints nothing when there is none).
    Dequeue {
        /// The work queue.
        queue: String,
        /// Who takes it.
        #[arg(long)]
        agent: String,
    },
}

/// Runs `roost task ...`.
pub async fn run(args: TaskArgs) -> anyhow::Result<()> {
    let (client, token) = args.workspace.connect()?;
    match args.cmd {
        TaskCmd::Add {
            queue,
            name,
            priority,
            payload,
            deadline,
            idempotency_key,
        } => {
            let req = AddTask {
                name,
                priority,
                payload: payload.as_deref().map(document).transpose()?,
                deadline: deadline.map(Time::Text),
                idempotency_key,
            };
            print(&client.add_task(token, &queue, &req).await?)
        }
        TaskCmd::Dequeue { queue, agent } => match client.dequeue(token, &queue, &agent).await? {
            Some(task) => print(&task),
            None => {
                eprintln!("no task available");
                Ok(())
            }
        },
    }
}
