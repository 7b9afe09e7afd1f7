//! Unit and property tests of the shard state machine over an in-memory [`Lookup`], split by
//! meaning; this file holds the in-memory storage and the harness they share.

mod caps;
mod dlq;
mod forms;
mod jobs;
mod members;
mod properties;
mod queues;
mod quotas;
mod stats;
mod work;

use super::*;
use crate::command as cmd;
use crate::mem::MemStore;
use crate::queue::IDEMPOTENCY_WINDOW_MS;
use crate::{Binding, FormId, Origins, QueueSettings, Retention, Source};

/// A shard plus its bulk data, applying effects as storage does.
struct Harness {
    state: ShardState,
    mem: MemStore,
}

const KEY: [u8; 32] = [7; 32];

impl Harness {
    fn new() -> Self {
        Harness {
            state: ShardState::new(1),
            mem: MemStore::default(),
        }
    }

    fn run(&mut self, stamped_ms: u64, command: Command) -> Response {
        let (resp, effects) = self
            .state
            .apply(stamped_ms, &command, &self.mem)
            .expect("lookup");
        self.mem.apply(effects).expect("consistent effects");
        resp
    }

    fn create(&mut self) -> QueueId {
        let id = QueueId::new(1, 42);
        let resp = self.run(
            1,
            Command::CreateQueue(cmd::CreateQueue {
                id: id.clone(),
                key_digest: KEY,
                consumers: vec!["me".into(), "_dash_view".into()],
                settings: QueueSettings::default(),
            }),
        );
        assert!(matches!(resp, Response::Created { .. }));
        id
    }

    fn publish(&mut self, t: u64, q: &QueueId, body: &str, key: Option<&str>) -> Response {
        self.run(
            t,
            Command::Publish(cmd::Publish {
                queue: q.clone(),
                auth: KEY,
                id: format!("qm_{t}"),
                payload: body.into(),
                source: Source::Publish,
                idempotency: key.map(|k| (k.to_owned(), [body.len() as u8; 32])),
                hold: None,
            }),
        )
    }

    fn ack(&mut self, q: &QueueId, consumer: &str, cursor: u64) -> Response {
        self.run(
            0,
            Command::Ack(cmd::Ack {
                queue: q.clone(),
                auth: KEY,
                consumer: consumer.into(),
                cursor,
            }),
        )
    }

    fn pull(&self, q: &QueueId, consumer: &str, cursor: Option<u64>, limit: usize) -> QueryResult {
        let query = Query::Pull {
            queue: q.clone(),
            auth: KEY,
            consumer: consumer.into(),
            cursor,
            limit,
        };
        self.state.query(&query, &self.mem).expect("lookup")
    }
}

fn seq_of(r: &Response) -> u64 {
    match r {
        Response::Published { seq, .. } => *seq,
        other => panic!("not published: {other:?}"),
    }
}
