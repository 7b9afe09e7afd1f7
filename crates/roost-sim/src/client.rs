//! The simulated clients, as in the chaos runs on real processes: idempotent publishers that
//! retry an unknown outcome with the same key, and a consumer that pulls and acks, each
//! recording a history for `jepsen-tests`' checker; then the final read after healing.

use roost_state::command as cmd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jepsen_tests::{Event, FinalState, Op, Outcome};
use roost_state::{
    Command, CommandError, Query, QueryResult, QueueId, QueueSettings, Response, Source,
};

use crate::net::{self, ClientError, Reply, Rpc};
use crate::node::GROUP;
use crate::NodeId;

/// The queue's key digest.
const KEY: [u8; 32] = [9; 32];
/// How long a client waits for a node's answer before calling the outcome unknown.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Retries of a publish whose outcome is unknown, with the same key.
const RETRIES: u64 = 3;

/// The one queue every client uses.
pub fn queue() -> QueueId {
    QueueId::new(GROUP, 0x5151)
}

/// Simulated time since the start, ns (the history's clock).
fn now_ns() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_nanos() as u64)
}

/// Records events; clones share the history.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// The events in the order they happened.
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    /// Records one event of `process`.
    pub fn log(&self, process: u64, outcome: Outcome, op: Op) {
        let time = now_ns();
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.push(Event {
            process,
            outcome,
            op,
            time,
        });
    }

    /// Everything recorded.
    pub fn history(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Sends `rpc` to node `n`; `None` when the outcome is unknown (no answer in time).
pub(crate) async fn ask(n: NodeId, rpc: Rpc) -> Option<Reply> {
    net::call(&net::host(n), &rpc, CLIENT_TIMEOUT).await.ok()
}

/// Creates the queue, trying each node in turn until one leader answers.
pub async fn create_queue(nodes: u64) -> bool {
    for attempt in 0..200 {
        let command = Command::CreateQueue(cmd::CreateQueue {
            id: queue(),
            key_digest: KEY,
            consumers: vec!["c".into()],
            settings: QueueSettings::default(),
        });
        match ask(attempt % nodes + 1, Rpc::Write(command)).await {
            Some(Reply::Written(Ok(Response::Created { .. })))
            | Some(Reply::Written(Ok(Response::Refused(CommandError::QueueExists)))) => {
                return true
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    false
}

/// A stand-in for the body digest an edge computes: equal for equal values.
fn digest(value: &str) -> [u8; 32] {
    let mut d = [0u8; 32];
    for (i, b) in value.bytes().enumerate() {
        d[i % 32] ^= b;
    }
    d
}

/// Publishes unique values until `until` (simulated time), round-robin over the nodes.
pub async fn publisher(rec: Recorder, process: u64, nodes: u64, until: Duration) {
    let mut n = 0;
    while turmoil::sim_elapsed().unwrap_or_default() < until {
        let value = format!("p{process}-{n}");
        let key = format!("k-{value}");
        for attempt in 0..=RETRIES {
            let op = |seq| Op::Publish {
                key: key.clone(),
                value: value.clone(),
                seq,
            };
            rec.log(process, Outcome::Invoke, op(None));
            let command = Command::Publish(cmd::Publish {
                queue: queue(),
                auth: KEY,
                id: format!("qm_{process}_{n}_{attempt}"),
                payload: serde_json::json!({ "v": value }).to_string(),
                source: Source::Publish,
                idempotency: Some((key.clone(), digest(&value))),
                hold: None,
            });
            let node = (process + n + attempt) % nodes + 1;
            let outcome = match ask(node, Rpc::Write(command)).await {
                Some(Reply::Written(Ok(Response::Published { seq, .. }))) => {
                    rec.log(process, Outcome::Ok, op(Some(seq)));
                    break;
                }
                // Refused, or not the leader: certainly not applied.
                Some(Reply::Written(Ok(_) | Err(ClientError::NotLeader))) => Outcome::Fail,
                _ => Outcome::Info,
            };
            rec.log(process, outcome, op(None));
            if outcome == Outcome::Fail {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        n += 1;
    }
}

/// The `(seq, value)` pairs of pulled envelopes.
fn values(messages: &[roost_state::Envelope]) -> Vec<(u64, String)> {
    messages
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.payload).unwrap_or_default();
            (m.seq, v["v"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Pulls and acks until `until`, following the acked cursor.
pub async fn consumer(rec: Recorder, nodes: u64, until: Duration) {
    let process = 100;
    let (mut cursor, mut node) = (0, 1);
    while turmoil::sim_elapsed().unwrap_or_default() < until {
        let pull = |cursor, messages| Op::Pull {
            consumer: "c".into(),
            cursor,
            messages,
        };
        rec.log(process, Outcome::Invoke, pull(cursor, Vec::new()));
        let query = Query::Pull {
            queue: queue(),
            auth: KEY,
            consumer: "c".into(),
            cursor: Some(cursor),
            limit: 50,
        };
        let (start, messages) = match ask(node, Rpc::Read(query)).await {
            Some(Reply::Read(Ok(QueryResult::Pulled {
                messages, cursor, ..
            }))) => (cursor, values(&messages)),
            other => {
                let outcome = match other {
                    Some(Reply::Read(Err(ClientError::NotLeader) | Ok(_))) => Outcome::Fail,
                    _ => Outcome::Info,
                };
                rec.log(process, outcome, pull(cursor, Vec::new()));
                node = node % nodes + 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        rec.log(process, Outcome::Ok, pull(start, messages.clone()));
        let Some(last) = messages.last().map(|m| m.0) else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let ack = |stored| Op::Ack {
            consumer: "c".into(),
            cursor: last,
            stored,
        };
        rec.log(process, Outcome::Invoke, ack(None));
        let command = Command::Ack(cmd::Ack {
            queue: queue(),
            auth: KEY,
            consumer: "c".into(),
            cursor: last,
        });
        match ask(node, Rpc::Write(command)).await {
            Some(Reply::Written(Ok(Response::Acked { cursor: stored }))) => {
                rec.log(process, Outcome::Ok, ack(Some(stored)));
                cursor = stored;
            }
            Some(Reply::Written(Ok(_) | Err(ClientError::NotLeader))) => {
                rec.log(process, Outcome::Fail, ack(None));
                node = node % nodes + 1;
            }
            _ => {
                rec.log(process, Outcome::Info, ack(None));
                node = node % nodes + 1;
            }
        }
    }
}

/// Reads every envelope left in the queue through whichever node leads; `None` when no node
/// answered within the attempts.
pub async fn final_state(nodes: u64) -> Option<FinalState> {
    let mut fin = FinalState::default();
    let mut cursor = 0;
    for attempt in 0..500u64 {
        let query = Query::Pull {
            queue: queue(),
            auth: KEY,
            consumer: "_final".into(),
            cursor: Some(cursor),
            limit: 1000,
        };
        match ask(attempt % nodes + 1, Rpc::Read(query)).await {
            Some(Reply::Read(Ok(QueryResult::Pulled {
                messages,
                next_cursor,
                has_more,
                floor,
                ..
            }))) => {
                fin.floor = floor;
                fin.messages.extend(values(&messages));
                cursor = next_cursor;
                if !has_more {
                    return Some(fin);
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}
