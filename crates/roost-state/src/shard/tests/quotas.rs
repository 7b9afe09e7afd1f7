//! Charges, accounts and held publishes.

use super::*;
use crate::command as cmd;

#[test]
fn charges_count_monthly_and_refuse_over_the_limit() {
    let mut meta = Harness {
        state: ShardState::new(crate::META_GROUP),
        mem: crate::mem::MemStore::default(),
    };
    let limits = crate::PlanLimits { free: 2, pro: 3 };
    let charge = |h: &mut Harness, t: u64, payer: crate::Payer| match h
        .run(t, Command::Charge(cmd::Charge { payer, limits }))
    {
        Response::Charged { allowed, used, .. } => (allowed, used),
        other => panic!("{other:?}"),
    };
    meta.run(
        1,
        Command::CreateAccount(cmd::CreateAccount {
            id: "acct_1".into(),
            plan: crate::Plan::Free,
        }),
    );
    meta.run(
        1,
        Command::AddAccountKey(cmd::AddAccountKey {
            account: "acct_1".into(),
            key_digest: [8; 32],
        }),
    );
    let acct = || crate::Payer::Account("acct_1".into());
    assert_eq!(charge(&mut meta, 2, acct()), (true, 1));
    assert_eq!(charge(&mut meta, 3, acct()), (true, 2));
    assert_eq!(charge(&mut meta, 4, acct()), (false, 2));
    // Per-IP counting for unclaimed queues, on the free limit.
    let ip = || crate::Payer::Ip("10.0.0.1".into());
    assert_eq!(charge(&mut meta, 5, ip()), (true, 1));
    // A raise lifts the limit and asks for a drain; a new month resets the count.
    match meta.run(
        6,
        Command::SetPlan(cmd::SetPlan {
            account: "acct_1".into(),
            plan: crate::Plan::Pro,
        }),
    ) {
        Response::AccountState { account } => {
            assert_eq!((account.upgrades, account.drained), (1, 0))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(charge(&mut meta, 7, acct()), (true, 3));
    let next_month = 40 * 86_400_000;
    assert_eq!(charge(&mut meta, next_month, acct()), (true, 1));
    // Claims find the account by key.
    let q = QueueId::new(1, 1);
    assert_eq!(
        meta.run(
            8,
            Command::Claim(cmd::Claim {
                key_digest: [8; 32],
                queue: q.clone()
            })
        ),
        Response::Owner {
            owner: "acct_1".into()
        }
    );
    assert_eq!(
        meta.run(
            8,
            Command::Claim(cmd::Claim {
                key_digest: [9; 32],
                queue: q
            })
        ),
        Response::Refused(CommandError::AccountNotFound)
    );
    match meta
        .state
        .query(&Query::DrainWork, &meta.mem)
        .expect("lookup")
    {
        QueryResult::DrainWork(work) => assert_eq!(work.len(), 1),
        other => panic!("{other:?}"),
    }
    meta.run(
        9,
        Command::DrainDone(cmd::DrainDone {
            account: "acct_1".into(),
            upgrade: 1,
        }),
    );
    match meta
        .state
        .query(&Query::DrainWork, &meta.mem)
        .expect("lookup")
    {
        QueryResult::DrainWork(work) => assert!(work.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn held_publishes_drain_first_and_in_order() {
    let mut h = Harness::new();
    let q = h.create();
    h.publish(2, &q, "{\"n\":1}", None);
    let hold = |h: &mut Harness, n: u32, key: Option<&str>| {
        h.run(
            3,
            Command::Publish(cmd::Publish {
                queue: q.clone(),
                auth: KEY,
                id: format!("qm_h{n}"),
                payload: format!("{{\"n\":{n}}}"),
                source: Source::Publish,
                idempotency: key.map(|k| (k.to_owned(), [n as u8; 32])),
                hold: Some(format!("pp_{n}")),
            }),
        )
    };
    assert_eq!(
        hold(&mut h, 2, Some("k2")),
        Response::Held {
            pending_id: "pp_2".into()
        }
    );
    // A retried held publish is the same pending row, not a new one.
    assert_eq!(
        hold(&mut h, 2, Some("k2")),
        Response::Held {
            pending_id: "pp_2".into()
        }
    );
    hold(&mut h, 3, None);
    assert_eq!(h.mem.held.len(), 2);
    assert_eq!(h.mem.messages.len(), 1);
    // The next allowed publish drains the held ones first, keeping the order they were sent in.
    let r = h.publish(4, &q, "{\"n\":4}", None);
    assert_eq!(seq_of(&r), 4);
    let order: Vec<(u64, String, &'static str)> = h
        .mem
        .messages
        .values()
        .map(|e| (e.seq, e.payload.clone(), e.source.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (1, "{\"n\":1}".into(), "publish"),
            (2, "{\"n\":2}".into(), "quota-drain"),
            (3, "{\"n\":3}".into(), "quota-drain"),
            (4, "{\"n\":4}".into(), "publish"),
        ]
    );
    assert!(h.mem.held.is_empty());
    // The held publish's key now answers its real seq.
    assert!(matches!(
        hold(&mut h, 2, Some("k2")),
        Response::Published {
            seq: 2,
            replayed: true,
            ..
        }
    ));
    assert_eq!(
        h.run(5, Command::DrainHeld(cmd::DrainHeld { queue: q.clone() })),
        Response::Drained { count: 0 }
    );
}

#[test]
fn a_charged_publish_leaves_held_ones_held_and_drains_come_in_chunks() {
    let mut h = Harness::new();
    let q = h.create();
    for n in 1..=3u32 {
        h.run(
            2,
            Command::Publish(cmd::Publish {
                queue: q.clone(),
                auth: KEY,
                id: format!("qm_h{n}"),
                payload: format!("{{\"n\":{n}}}"),
                source: Source::Publish,
                idempotency: None,
                hold: Some(format!("pp_{n}")),
            }),
        );
    }
    let charged = Command::KeepHeld(cmd::KeepHeld {
        command: Box::new(Command::Publish(cmd::Publish {
            queue: q.clone(),
            auth: KEY,
            id: "qm_new".into(),
            payload: "{\"n\":4}".into(),
            source: Source::Publish,
            idempotency: None,
            hold: None,
        })),
    });
    assert_eq!(seq_of(&h.run(3, charged)), 1, "appended alone");
    assert_eq!(h.mem.held.len(), 3, "the held ones stay held");
    assert_eq!(h.state.queue(&q).map(|q| q.held_len), Some(3));
    let chunk = || {
        Command::DrainHeldChunk(cmd::DrainHeldChunk {
            queue: q.clone(),
            max: 2,
        })
    };
    assert_eq!(h.run(4, chunk()), Response::Drained { count: 2 });
    assert_eq!(h.run(5, chunk()), Response::Drained { count: 1 });
    assert_eq!(h.run(6, chunk()), Response::Drained { count: 0 });
    let payloads: Vec<String> = h.mem.messages.values().map(|e| e.payload.clone()).collect();
    assert_eq!(
        payloads,
        ["{\"n\":4}", "{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]
    );
}

#[test]
fn a_refund_gives_back_one_charge_of_its_month_only() {
    let mut meta = Harness {
        state: ShardState::new(crate::META_GROUP),
        mem: crate::mem::MemStore::default(),
    };
    let limits = crate::PlanLimits { free: 5, pro: 5 };
    let ip = || crate::Payer::Ip("10.0.0.9".into());
    let used = |h: &Harness| h.state.ip_usage("10.0.0.9").map(|(_, u)| u);
    meta.run(
        2,
        Command::Charge(cmd::Charge {
            payer: ip(),
            limits,
        }),
    );
    meta.run(
        3,
        Command::Charge(cmd::Charge {
            payer: ip(),
            limits,
        }),
    );
    let month = crate::month_of(3);
    meta.run(4, Command::Refund(cmd::Refund { payer: ip(), month }));
    assert_eq!(used(&meta), Some(1));
    meta.run(
        5,
        Command::Refund(cmd::Refund {
            payer: ip(),
            month: month + 1,
        }),
    );
    assert_eq!(
        used(&meta),
        Some(1),
        "another month's refund changes nothing"
    );
    meta.run(6, Command::Refund(cmd::Refund { payer: ip(), month }));
    meta.run(7, Command::Refund(cmd::Refund { payer: ip(), month }));
    assert_eq!(used(&meta), Some(0), "never below zero");
}

#[test]
fn held_bytes_are_bounded_per_payer_and_month() {
    let mut meta = Harness {
        state: ShardState::new(crate::META_GROUP),
        mem: crate::mem::MemStore::default(),
    };
    let limits = crate::PlanLimits { free: 1, pro: 1 };
    let charge = |h: &mut Harness, t: u64, bytes: u64| {
        h.run(
            t,
            Command::ChargeHold(cmd::ChargeHold {
                payer: crate::Payer::Ip("10.0.0.5".into()),
                limits,
                bytes,
                max_held_bytes: 100,
            }),
        )
    };
    assert!(matches!(
        charge(&mut meta, 1, 500),
        Response::Charged { allowed: true, .. }
    ));
    assert!(matches!(
        charge(&mut meta, 2, 60),
        Response::Charged { allowed: false, .. }
    ));
    assert_eq!(
        charge(&mut meta, 3, 60),
        Response::Refused(CommandError::HeldFull { max_bytes: 100 })
    );
    assert!(matches!(
        charge(&mut meta, 4, 40),
        Response::Charged { allowed: false, .. }
    ));
    // Bytes given back (a retry that held nothing new) make room again.
    meta.run(
        5,
        Command::RefundHeld(cmd::RefundHeld {
            payer: crate::Payer::Ip("10.0.0.5".into()),
            month: crate::month_of(5),
            bytes: 100,
        }),
    );
    assert!(matches!(
        charge(&mut meta, 6, 100),
        Response::Charged { allowed: false, .. }
    ));
    let next_month = 40 * 86_400_000;
    assert!(matches!(
        charge(&mut meta, next_month, 1),
        Response::Charged { allowed: true, .. }
    ));
    assert!(matches!(
        charge(&mut meta, next_month + 1, 90),
        Response::Charged { allowed: false, .. }
    ));
}
