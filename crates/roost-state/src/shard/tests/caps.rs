//! Per-queue caps on consumers and origins.

use super::*;
use crate::command as cmd;
use crate::QueueCaps;

const CAPS: QueueCaps = QueueCaps {
    max_consumers: 3,
    max_origins: 2,
};

fn capped(command: Command) -> Command {
    Command::Capped(cmd::Capped {
        caps: CAPS,
        command: Box::new(command),
    })
}

fn ack(q: &QueueId, consumer: &str) -> Command {
    capped(Command::Ack(cmd::Ack {
        queue: q.clone(),
        auth: KEY,
        consumer: consumer.into(),
        cursor: 0,
    }))
}

fn refused(r: &Response) -> Option<&CommandError> {
    match r {
        Response::Refused(e) => Some(e),
        _ => None,
    }
}

#[test]
fn consumers_stop_at_the_cap_and_changing_nothing_when_refused() {
    let mut h = Harness::new();
    let q = h.create(); // registers "me" (inspection ids are never registered)
    assert!(matches!(h.run(2, ack(&q, "a")), Response::Acked { .. }));
    assert!(matches!(h.run(2, ack(&q, "b")), Response::Acked { .. }));
    let over = h.run(3, ack(&q, "x"));
    assert_eq!(
        refused(&over),
        Some(&CommandError::TooManyConsumers { max: 3 })
    );
    assert!(!h
        .state
        .queue(&q)
        .expect("queue")
        .consumers
        .contains_key("x"));
    // A known consumer still acks; a wrong key gets its own refusal, not the cap.
    assert!(matches!(h.run(4, ack(&q, "a")), Response::Acked { .. }));
    let wrong = capped(Command::Ack(cmd::Ack {
        queue: q.clone(),
        auth: [0; 32],
        consumer: "z".into(),
        cursor: 0,
    }));
    assert_eq!(refused(&h.run(5, wrong)), Some(&CommandError::Unauthorized));
    // Swapping one for another keeps the count; growing past the cap does not.
    let set = |add: &[&str], remove: &[&str]| {
        capped(Command::SetConsumers(cmd::SetConsumers {
            queue: q.clone(),
            auth: KEY,
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        }))
    };
    assert!(matches!(
        h.run(6, set(&["c"], &["a"])),
        Response::Consumers { .. }
    ));
    assert_eq!(
        refused(&h.run(7, set(&["d", "e"], &["c"]))),
        Some(&CommandError::TooManyConsumers { max: 3 })
    );
    // An uncapped command (an entry from before caps) is applied as it always was.
    let old = Command::Ack(cmd::Ack {
        queue: q.clone(),
        auth: KEY,
        consumer: "legacy".into(),
        cursor: 0,
    });
    assert!(matches!(h.run(8, old), Response::Acked { .. }));
    // Past the cap already, removing is allowed.
    assert!(matches!(
        h.run(9, set(&[], &["legacy"])),
        Response::Consumers { .. }
    ));
}

#[test]
fn origins_and_creates_respect_the_caps() {
    let mut h = Harness::new();
    let q = h.create();
    let origins = |add: &[&str]| {
        capped(Command::SetOrigins(cmd::SetOrigins {
            queue: q.clone(),
            auth: KEY,
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: vec![],
        }))
    };
    assert!(matches!(
        h.run(2, origins(&["https://a.example", "https://b.example"])),
        Response::Origins { .. }
    ));
    assert_eq!(
        refused(&h.run(3, origins(&["https://c.example"]))),
        Some(&CommandError::TooManyOrigins { max: 2 })
    );
    let create = capped(Command::CreateQueue(cmd::CreateQueue {
        id: QueueId::new(1, 43),
        key_digest: KEY,
        consumers: ["a", "b", "c", "d"].map(String::from).to_vec(),
        settings: QueueSettings::default(),
    }));
    assert_eq!(
        refused(&h.run(4, create)),
        Some(&CommandError::TooManyConsumers { max: 3 })
    );
    assert!(h.state.queue(&QueueId::new(1, 43)).is_none());
}
