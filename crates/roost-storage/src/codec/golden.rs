//! The log's bytes, pinned: one command of every kind, encoded as today. A command type that is
//! reshaped (fields moved into structs, variants regrouped) must still encode to exactly these
//! bytes, or every log entry already on disk and every peer of another version would read as
//! something else. A new command kind is appended here, never inserted.

use roost_state::{
    Binding, Command, FormId, JobSpec, JobTtl, Origins, Payer, Plan, PlanLimits, QueueCaps,
    QueueId, QueueSettings, Retention, Source,
};

use super::encode;
use roost_state::command as cmd;

/// One command of every kind, in the order the kinds were added.
fn samples() -> Vec<Command> {
    let q = || QueueId::new(3, 0x0102_0304_0506);
    let d = |b: u8| [b; 32];
    let s = |t: &str| t.to_owned();
    let publish = Command::Publish(cmd::Publish {
        queue: q(),
        auth: d(1),
        id: s("qm_1"),
        payload: s("{\"a\":1}"),
        source: Source::DlqReplay {
            replayed_from: s("qm_0"),
        },
        idempotency: Some((s("k"), d(2))),
        hold: Some(s("pp_1")),
    });
    vec![
        Command::Noop,
        Command::InitLayout(cmd::InitLayout { shards: 4 }),
        Command::Tick,
        Command::CreateQueue(cmd::CreateQueue {
            id: q(),
            key_digest: d(3),
            consumers: vec![s("me")],
            settings: QueueSettings {
                max_deliveries: 5,
                allowed_origins: Origins::List([s("https://a.example")].into()),
                retention: Retention {
                    max_age_ms: Some(60_000),
                    max_messages: None,
                },
            },
        }),
        Command::DeleteQueue(cmd::DeleteQueue {
            queue: q(),
            auth: d(4),
        }),
        publish.clone(),
        Command::DrainHeld(cmd::DrainHeld { queue: q() }),
        Command::SetOwner(cmd::SetOwner {
            queue: q(),
            auth: d(5),
            owner: s("acct_1"),
        }),
        Command::CreateAccount(cmd::CreateAccount {
            id: s("acct_1"),
            plan: Plan::Pro,
        }),
        Command::AddAccountKey(cmd::AddAccountKey {
            account: s("acct_1"),
            key_digest: d(6),
        }),
        Command::SetPlan(cmd::SetPlan {
            account: s("acct_1"),
            plan: Plan::Unlimited,
        }),
        Command::Claim(cmd::Claim {
            key_digest: d(7),
            queue: q(),
        }),
        Command::Charge(cmd::Charge {
            payer: Payer::Ip(s("10.0.0.1")),
            limits: PlanLimits {
                free: 100,
                pro: 10_000,
            },
        }),
        Command::DrainDone(cmd::DrainDone {
            account: s("acct_1"),
            upgrade: 2,
        }),
        Command::Ack(cmd::Ack {
            queue: q(),
            auth: d(8),
            consumer: s("me"),
            cursor: 300,
        }),
        Command::SetConsumers(cmd::SetConsumers {
            queue: q(),
            auth: d(9),
            add: vec![s("a")],
            remove: vec![s("b")],
        }),
        Command::Nack(cmd::Nack {
            queue: q(),
            auth: d(10),
            consumer: s("me"),
            seq: 7,
            error: s("boom"),
            dead_letter: true,
        }),
        Command::ReplayDlq(cmd::ReplayDlq {
            queue: q(),
            auth: d(11),
            dlq_msg_id: s("qm_2"),
            id: s("qm_3"),
        }),
        Command::CreateForm(cmd::CreateForm {
            id: FormId::new(2, 9),
            key_digest: d(12),
            name: s("contact"),
        }),
        Command::Submit(cmd::Submit {
            form: FormId::new(2, 9),
            id: s("sub_1"),
            payload: s("{\"f\":\"v\"}"),
        }),
        Command::BindForm(cmd::BindForm {
            form: FormId::new(2, 9),
            auth: d(13),
            binding: Binding {
                queue: q(),
                queue_auth: d(14),
            },
        }),
        Command::MirrorDone(cmd::MirrorDone {
            form: FormId::new(2, 9),
            through: 4,
            failed: Some(s("gone")),
            queue: q(),
        }),
        Command::CreateJob(cmd::CreateJob {
            id: s("job_1"),
            workspace: s("w"),
            spec: JobSpec {
                job_type: s("t"),
                payload: s("{}"),
                max_retries: 3,
                timeout_secs: 300,
                priority: -5,
                run_at_ms: Some(1_000),
                webhook: Some(s("https://h.example/")),
            },
            idempotency: Some(s("k")),
            ttl: JobTtl {
                completed_ms: 1,
                failed_ms: 2,
                cancelled_ms: 3,
            },
        }),
        Command::ClaimJobs(cmd::ClaimJobs {
            workspace: s("w"),
            worker_id: s("w1"),
            types: vec![s("t")],
            lease_ms: 30_000,
            tokens: vec![u64::MAX, 1],
        }),
        Command::Heartbeat(cmd::Heartbeat {
            workspace: s("w"),
            job: s("job_1"),
            token: 77,
            progress: Some(50),
            lease_ms: 30_000,
        }),
        Command::CompleteJob(cmd::CompleteJob {
            workspace: s("w"),
            job: s("job_1"),
            token: 77,
            result: s("[1]"),
        }),
        Command::FailJob(cmd::FailJob {
            workspace: s("w"),
            job: s("job_1"),
            token: 77,
            error: s("e"),
            retryable: false,
        }),
        Command::CancelJob(cmd::CancelJob {
            workspace: s("w"),
            job: s("job_1"),
        }),
        Command::WebhookAttempted(cmd::WebhookAttempted {
            job: s("job_1"),
            generation: 1,
            attempt: 2,
            outcome: Err(s("refused")),
            give_up: false,
        }),
        Command::RetryJob(cmd::RetryJob {
            workspace: s("w"),
            job: s("job_1"),
        }),
        Command::CreateWorkQueue(cmd::CreateWorkQueue {
            id: s("wq_1"),
            workspace: s("w"),
            name: s("n"),
            team: s("red"),
        }),
        Command::DeleteWorkQueue(cmd::DeleteWorkQueue {
            workspace: s("w"),
            id: s("wq_1"),
        }),
        Command::AddTask(cmd::AddTask {
            id: s("t_1"),
            workspace: s("w"),
            queue: s("wq_1"),
            name: s("n"),
            priority: 5,
            payload: s("{}"),
            deadline_ms: Some(9),
            idempotency: None,
        }),
        Command::Dequeue(cmd::Dequeue {
            workspace: s("w"),
            queue: s("wq_1"),
            agent: s("a"),
            token: 5,
            lease_ms: 300_000,
            steal: true,
        }),
        Command::TaskHeartbeat(cmd::TaskHeartbeat {
            workspace: s("w"),
            task: s("t_1"),
            token: 5,
            lease_ms: 300_000,
        }),
        Command::FinishTask(cmd::FinishTask {
            workspace: s("w"),
            task: s("t_1"),
            token: Some(5),
            outcome: Ok(s("null")),
        }),
        Command::SetOrigins(cmd::SetOrigins {
            queue: q(),
            auth: d(15),
            add: vec![s("https://b.example")],
            remove: vec![],
        }),
        Command::KeepHeld(cmd::KeepHeld {
            command: Box::new(publish.clone()),
        }),
        Command::ChargeHold(cmd::ChargeHold {
            payer: Payer::Account(s("acct_1")),
            limits: PlanLimits { free: 1, pro: 2 },
            bytes: 10,
            max_held_bytes: 1 << 24,
        }),
        Command::Refund(cmd::Refund {
            payer: Payer::Ip(s("::1")),
            month: 24_323,
        }),
        Command::DrainHeldChunk(cmd::DrainHeldChunk {
            queue: q(),
            max: 256,
        }),
        Command::ExpireUnused(cmd::ExpireUnused {
            unused_for_ms: 604_800_000,
        }),
        Command::Capped(cmd::Capped {
            caps: QueueCaps {
                max_consumers: 1000,
                max_origins: 100,
            },
            command: Box::new(Command::Ack(cmd::Ack {
                queue: q(),
                auth: d(16),
                consumer: s("me"),
                cursor: 1,
            })),
        }),
        Command::RefundHeld(cmd::RefundHeld {
            payer: Payer::Account(s("acct_1")),
            month: 24_323,
            bytes: 10,
        }),
        Command::SeedMembers(cmd::SeedMembers {
            members: [(1, (s("10.0.0.1:7000"), s("10.0.0.1:8080")))].into(),
        }),
        Command::AddMember(cmd::AddMember {
            id: 4,
            peer_addr: s("10.0.0.4:7000"),
            http_addr: s("10.0.0.4:8080"),
        }),
        Command::RemoveMember(cmd::RemoveMember { id: 2 }),
        Command::MemberStarted(cmd::MemberStarted {
            id: 4,
            incarnation: 0xfeed,
        }),
    ]
}

/// Checks that `samples` encode, in order, to the hex lines of `pinned` (the contents of
/// `src/codec/<file>`), and that each line decodes back to its sample and starts with its
/// variant's index. `ROOST_WRITE_GOLDEN=1` writes the file instead, for a new kind appended.
pub(crate) fn check<T>(file: &str, pinned: &str, samples: &[T])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let actual: Vec<String> = samples
        .iter()
        .map(|c| encode(c).map(|b| b.iter().map(|x| format!("{x:02x}")).collect()))
        .collect::<Result<_, _>>()
        .expect("encodes");
    if std::env::var_os("ROOST_WRITE_GOLDEN").is_some() {
        let path = format!("{}/src/codec/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(path, actual.join("\n") + "\n").expect("write the golden file");
        return;
    }
    let pinned: Vec<&str> = pinned.lines().collect();
    assert_eq!(actual.len(), pinned.len(), "a kind was added or removed");
    for (i, (a, p)) in actual.iter().zip(&pinned).enumerate() {
        assert_eq!(a, p, "#{i} ({:?}) encodes differently", samples[i]);
        let bytes: Vec<u8> = (0..p.len())
            .step_by(2)
            .map(|j| u8::from_str_radix(&p[j..j + 2], 16).expect("hex"))
            .collect();
        // Variant indexes below 128 are one byte: every kind is sampled, in order.
        assert_eq!(usize::from(bytes[0]), i, "sample #{i} is not kind #{i}");
        let back: T = super::decode("golden", &bytes).expect("decodes");
        assert_eq!(back, samples[i], "#{i} decodes differently");
    }
}

#[test]
fn every_command_kind_encodes_to_its_pinned_bytes() {
    check("commands.hex", include_str!("commands.hex"), &samples());
}
