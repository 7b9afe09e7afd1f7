//! Per-queue caps on consumers and allowed origins. Registering either needs only the queue's
//! key, and each one is state every replica keeps in memory; without a cap one queue took 5,001
//! consumers and 3,000 origins. A change that shrinks a queue already past a cap is allowed.

use crate::command as cmd;
use std::collections::BTreeSet;

use super::ShardState;
use crate::{Command, CommandError, Origins, QueueCaps};

impl ShardState {
    /// Why `command` would take its queue past `caps`, if it would. Commands the queue's key
    /// does not authorize are left to their own refusal, so a wrong key learns nothing here.
    pub(super) fn breaks_caps(&self, caps: &QueueCaps, command: &Command) -> Option<CommandError> {
        let too_many_consumers = CommandError::TooManyConsumers {
            max: caps.max_consumers,
        };
        let too_many_origins = CommandError::TooManyOrigins {
            max: caps.max_origins,
        };
        let over = |n: usize, max: u32| n > max as usize;
        match command {
            Command::CreateQueue(cmd::CreateQueue {
                consumers,
                settings,
                ..
            }) => {
                let unique: BTreeSet<&String> = consumers.iter().collect();
                if over(unique.len(), caps.max_consumers) {
                    return Some(too_many_consumers);
                }
                match &settings.allowed_origins {
                    Origins::List(list) if over(list.len(), caps.max_origins) => {
                        Some(too_many_origins)
                    }
                    _ => None,
                }
            }
            Command::Ack(cmd::Ack {
                queue,
                auth,
                consumer,
                ..
            }) => {
                let q = self.authorized(queue, auth).ok()?;
                let grows = !q.consumers.contains_key(consumer);
                (grows && over(q.consumers.len() + 1, caps.max_consumers))
                    .then_some(too_many_consumers)
            }
            Command::SetConsumers(cmd::SetConsumers {
                queue,
                auth,
                add,
                remove,
            }) => {
                let q = self.authorized(queue, auth).ok()?;
                let after = changed(q.consumers.keys(), add, remove);
                let grows = after.len() > q.consumers.len();
                (grows && over(after.len(), caps.max_consumers)).then_some(too_many_consumers)
            }
            Command::SetOrigins(cmd::SetOrigins {
                queue,
                auth,
                add,
                remove,
            }) => {
                let q = self.authorized(queue, auth).ok()?;
                let now = match &q.settings.allowed_origins {
                    // `Any` ignores additions.
                    Origins::Any => return None,
                    Origins::None => BTreeSet::new(),
                    Origins::List(list) => list.iter().collect(),
                };
                let after = changed(now.iter().copied(), add, remove);
                let grows = after.len() > now.len();
                (grows && over(after.len(), caps.max_origins)).then_some(too_many_origins)
            }
            _ => None,
        }
    }
}

/// A set after adding `add`, then removing `remove` (the order the commands apply them in).
fn changed<'a>(
    now: impl Iterator<Item = &'a String>,
    add: &'a [String],
    remove: &[String],
) -> BTreeSet<&'a String> {
    let mut after: BTreeSet<&String> = now.chain(add).collect();
    for r in remove {
        after.remove(r);
    }
    after
}
