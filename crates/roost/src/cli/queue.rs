//! `roost queue`: create, publish, pull, ack, nack, dead letters, replay.

use std::io::BufRead;

use anyhow::Context;
use roost_client::wire::{Ack, CreateQueue, Doc, Nack, OriginsField, Pull};
use roost_client::Publish;

use super::{document, print, NodeArgs};

/// `roost queue ...`.
#[derive(clap::Args, Debug)]
pub struct QueueArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The queue's key (from `roost queue create`).
    #[arg(
        long,
        env = "ROOST_QUEUE_API_KEY",
        hide_env_values = true,
        global = true
    )]
    key: Option<String>,
    #[command(subcommand)]
    cmd: QueueCmd,
}

#[derive(clap::Subcommand, Debug)]
enum QueueCmd {
    /// Create a queue; its key is in the reply, shown this once.
    Create {
        /// A consumer registered from the start (repeatable).
        #[arg(long = "consumer")]
        consumers: Vec<String>,
        /// Failed deliveries before a message is dead-lettered (1-100).
        #[arg(long)]
        max_deliveries: Option<u32>,
        /// Browser origins allowed to call it: `*` or comma-separated origins.
        #[arg(long)]
        allowed_origins: Option<String>,
    },
    /// Publish a JSON message; without one, each line of stdin is a message.
    Publish {
        /// The queue.
        queue: String,
        /// The message (JSON).
        payload: Option<String>,
        /// Makes a repeat answer the first publish (one message only).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Pull messages past a cursor: one line per message.
    Pull {
        /// The queue.
        queue: String,
        /// Who is reading.
        #[arg(long)]
        consumer: String,
        /// Read messages with seq greater than this (default: the consumer's acked cursor).
        #[arg(long)]
        cursor: Option<u64>,
        /// Most messages (1-1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Seconds to wait for a message when there is none (0-30).
        #[arg(long)]
        wait: Option<u64>,
    },
    /// Move a consumer's cursor: everything at or below it is done.
    Ack {
        /// The queue.
        queue: String,
        /// Whose cursor.
        #[arg(long)]
        consumer: String,
        /// The seq of the last message handled.
        #[arg(long)]
        cursor: u64,
    },
    /// Report a failed delivery; after max_deliveries the message is dead-lettered.
    Nack {
        /// The queue.
        queue: String,
        /// Who failed to process it.
        #[arg(long)]
        consumer: String,
        /// The message.
        #[arg(long)]
        seq: u64,
        /// Why.
        #[arg(long, default_value = "")]
        error: String,
        /// Dead-letter it now.
        #[arg(long)]
        dead_letter: bool,
    },
    /// List dead letters: one line per message.
    Dlq {
        /// The queue.
        queue: String,
        /// Start after this row.
        #[arg(long)]
        cursor: Option<u64>,
        /// Most dead letters (1-1000).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Publish a dead letter again, as a new message.
    Replay {
        /// The queue.
        queue: String,
        /// The dead letter's message id.
        id: String,
    },
}

/// Runs `roost queue ...`.
pub async fn run(args: QueueArgs) -> anyhow::Result<()> {
    let client = args.node.client()?;
    let key = || {
        args.key
            .as_deref()
            .context("this needs the queue's key: --key or ROOST_QUEUE_API_KEY")
    };
    match args.cmd {
        QueueCmd::Create {
            consumers,
            max_deliveries,
            allowed_origins,
        } => {
            let req = CreateQueue {
                consumers,
                max_deliveries,
                allowed_origins: allowed_origins.map(OriginsField::One),
            };
            print(&client.create_queue(&req).await?)
        }
        QueueCmd::Publish {
            queue,
            payload,
            idempotency_key,
        } => {
            let key = key()?;
            let payloads = match payload {
                Some(p) => vec![document(&p)?],
                None => stdin_documents()?,
            };
            for p in &payloads {
                match client
                    .publish(&queue, key, p, idempotency_key.as_deref())
                    .await?
                {
                    Publish::Stored { reply, .. } => print(&reply)?,
                    Publish::Held(held) => print(&held)?,
                }
            }
            Ok(())
        }
        QueueCmd::Pull {
            queue,
            consumer,
            cursor,
            limit,
            wait,
        } => {
            let req = Pull {
                consumer_id: consumer,
                cursor,
                limit,
                wait,
            };
            let pulled = client.pull(&queue, key()?, &req).await?;
            pulled.messages.iter().try_for_each(print)
        }
        QueueCmd::Ack {
            queue,
            consumer,
            cursor,
        } => {
            let req = Ack {
                cursor,
                consumer_id: consumer,
            };
            print(&client.ack(&queue, key()?, &req).await?)
        }
        QueueCmd::Nack {
            queue,
            consumer,
            seq,
            error,
            dead_letter,
        } => {
            let req = Nack {
                consumer_id: consumer,
                seq,
                error,
                dead_letter,
            };
            print(&client.nack(&queue, key()?, &req).await?)
        }
        QueueCmd::Dlq {
            queue,
            cursor,
            limit,
        } => {
            let page = client.dead_letters(&queue, key()?, cursor, limit).await?;
            page.messages.iter().try_for_each(print)
        }
        QueueCmd::Replay { queue, id } => print(&client.replay(&queue, key()?, &id).await?),
    }
}

/// Each non-empty line of stdin as a JSON document.
fn stdin_documents() -> anyhow::Result<Vec<Doc>> {
    let mut docs = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let doc = Doc::parse(line.trim().to_owned())
            .with_context(|| format!("stdin line {} is not a JSON document", n + 1))?;
        docs.push(doc);
    }
    Ok(docs)
}
