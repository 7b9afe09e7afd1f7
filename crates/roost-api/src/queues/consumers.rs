//! Consumer cursors: ack, and the registered roster.

use roost_state::command as cmd;
use std::collections::BTreeMap;

use roost_state::{Command, Response};

use super::{consumer_id, consumer_ids, QueueRef, MAX_CONSUMERS};
use crate::{Api, Error, ErrorCode};

impl Api {
    /// Moves `consumer`'s cursor up to `cursor` (never down); answers the cursor now.
    pub async fn ack(&self, q: &QueueRef, consumer: &str, cursor: u64) -> Result<u64, Error> {
        let command = self.settings().queue_caps.limit(Command::Ack(cmd::Ack {
            queue: q.id.clone(),
            auth: q.auth,
            consumer: consumer_id(consumer)?,
            cursor,
        }));
        match self.q_write(&q.id, command).await? {
            Response::Acked { cursor } => Ok(cursor),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Registers `add` and unregisters `remove`; answers every registered consumer's cursor.
    pub async fn change_consumers(
        &self,
        q: &QueueRef,
        add: &[String],
        remove: &[String],
    ) -> Result<BTreeMap<String, u64>, Error> {
        if add.len() + remove.len() > MAX_CONSUMERS {
            return Err(Error::new(
                ErrorCode::TooManyConsumersInRequest,
                format!("at most {MAX_CONSUMERS} consumers per change"),
                "Split the change into several requests.",
            ));
        }
        let command = self
            .settings()
            .queue_caps
            .limit(Command::SetConsumers(cmd::SetConsumers {
                queue: q.id.clone(),
                auth: q.auth,
                add: consumer_ids(add)?,
                remove: consumer_ids(remove)?,
            }));
        match self.q_write(&q.id, command).await? {
            Response::Consumers { consumers } => Ok(consumers),
            other => Err(Error::unexpected(&other)),
        }
    }
}
