//! Accounts, plans and quotas: the operator's calls, the claim, and publishes over quota.

use roost_api::{digest, ErrorCode, Published, Replayed, Settings};
use roost_state::PlanLimits;

use crate::harness::{env_with, queue, refused};

const OPERATOR: &str = "operator-secret";

fn quotas() -> roost_node::Quotas {
    roost_node::Quotas {
        plans: PlanLimits { free: 2, pro: 100 },
        max_held_bytes: 1 << 20,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_quotas_the_operator_calls_are_refused() -> anyhow::Result<()> {
    let settings = Settings {
        operator_key_digest: Some(digest(OPERATOR.as_bytes())),
        ..Settings::default()
    };
    let env = env_with(settings, None).await?;
    refused(
        env.api.create_account(Some(OPERATOR), None).await,
        ErrorCode::QuotasDisabled,
    );
    // Without the key nothing is told, not even that quotas are off.
    refused(
        env.api.create_account(None, None).await,
        ErrorCode::MissingApiKey,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_over_quota_are_held_until_the_plan_is_raised() -> anyhow::Result<()> {
    let settings = Settings {
        operator_key_digest: Some(digest(OPERATOR.as_bytes())),
        ..Settings::default()
    };
    let env = env_with(settings, Some(quotas())).await?;
    refused(
        env.api.create_account(None, None).await,
        ErrorCode::MissingApiKey,
    );
    refused(
        env.api.create_account(Some("nope"), None).await,
        ErrorCode::InvalidOperatorKey,
    );
    refused(
        env.api.create_account(Some(OPERATOR), Some("gold")).await,
        ErrorCode::InvalidPlan,
    );
    refused(
        env.api.get_account(Some(OPERATOR), "acct_x").await,
        ErrorCode::AccountNotFound,
    );
    let account = env.api.create_account(Some(OPERATOR), None).await?;
    let minted = env
        .api
        .mint_account_key(Some(OPERATOR), &account.id)
        .await?;
    assert!(minted.key.starts_with("ak_"));

    let q = queue(&env, &["me"], None).await?;
    refused(
        env.api.claim_queue(&q, "ak_wrong").await,
        ErrorCode::InvalidAccountKey,
    );
    env.api.claim_queue(&q, &minted.key).await?;
    let listed = env.api.get_account(Some(OPERATOR), &account.id).await?;
    assert!(listed.queues.contains(&q.id), "the claim lists the queue");

    for i in 0..2 {
        let r = env
            .api
            .publish(&q, None, format!("[{i}]").as_bytes(), None)
            .await?;
        assert!(matches!(r, Published::Stored { .. }), "{r:?}");
    }
    let held = env.api.publish(&q, None, b"[2]", None).await?;
    let Published::Held {
        denied: Some(d), ..
    } = held
    else {
        anyhow::bail!("not held: {held:?}");
    };
    assert!(d.owned && d.used == 2, "{d:?}");
    assert_eq!(env.api.get_queue(&q).await?.held_len, 1);

    // A replay over quota replays nothing; the dead letter stays.
    let nack = roost_api::Nack {
        consumer_id: "me".into(),
        seq: 1,
        error: String::new(),
        dead_letter: true,
    };
    env.api.nack(&q, nack).await?;
    let dead = env.api.dead_letters(&q, None, None).await?;
    let id = dead.rows[0].1.envelope.id.clone();
    let replayed = env.api.replay(&q, None, &id).await?;
    assert!(matches!(replayed, Replayed::OverQuota(_)), "{replayed:?}");
    assert_eq!(env.api.dead_letters(&q, None, None).await?.rows.len(), 1);

    refused(
        env.api.set_plan(Some(OPERATOR), &account.id, None).await,
        ErrorCode::InvalidPlan,
    );
    env.api
        .set_plan(Some(OPERATOR), &account.id, Some("pro"))
        .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let queue = env.api.get_queue(&q).await?;
        if queue.held_len == 0 {
            assert_eq!(queue.head_seq, 3, "the held publish was published");
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "never drained");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
