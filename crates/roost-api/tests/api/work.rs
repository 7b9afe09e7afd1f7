//! Work queues and tasks: every operation and its refusals, team scopes included.

use roost_api::{AddTask, CreateWorkQueue, ErrorCode, FinishTask, Time};
use roost_state::TaskStatus;

use crate::harness::{caller, env, refused};

fn queue(name: &str, team: &str) -> CreateWorkQueue {
    CreateWorkQueue {
        name: name.into(),
        team_id: team.into(),
    }
}

fn task(name: &str, priority: i64) -> AddTask {
    AddTask {
        name: name.into(),
        priority: Some(priority),
        ..AddTask::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_handed_out_by_urgency_fenced_and_finished() -> anyhow::Result<()> {
    let env = env().await?;
    let c = caller(&env, "w", &[])?;
    let q = env.api.create_work_queue(&c, queue("inbox", "red")).await?;
    let id = q.queue.id.clone();
    assert_eq!(env.api.get_work_queue(&c, &id).await?.queue.name, "inbox");
    assert_eq!(env.api.list_work_queues(&c).await?.len(), 1);

    let (low, created) = env.api.add_task(&c, &id, task("low", 1)).await?;
    assert!(created);
    let keyed = AddTask {
        idempotency_key: Some("t-1".into()),
        deadline: Some(Time::Ms(1)),
        ..task("high", 5)
    };
    let (high, _) = env.api.add_task(&c, &id, keyed.clone()).await?;
    assert!(high.overdue(env.api.now_ms()));
    let (repeat, created) = env.api.add_task(&c, &id, keyed).await?;
    assert_eq!((repeat.id.as_str(), created), (high.id.as_str(), false));

    let taken = env.api.take_task(&c, &id, "agent-1", false).await?;
    let taken = taken.expect("a task");
    assert_eq!(taken.id, high.id, "the most urgent first");
    let token = format!("{:016x}", taken.token.expect("token"));
    let beat = env.api.task_heartbeat(&c, &high.id, Some(&token)).await?;
    assert_eq!(beat.status, TaskStatus::Assigned);
    refused(
        env.api
            .task_heartbeat(&c, &high.id, Some("0000000000000001"))
            .await,
        ErrorCode::StaleToken,
    );
    let finish = |token: &str, result: &str| FinishTask {
        token: Some(token.into()),
        result: serde_json::from_str(result).ok(),
        error: None,
    };
    let done = env
        .api
        .complete_task(&c, &high.id, finish(&token, "42"))
        .await?;
    assert_eq!(
        (done.status, done.result.as_deref()),
        (TaskStatus::Completed, Some("42"))
    );
    refused(
        env.api
            .complete_task(&c, &high.id, finish(&token, "1"))
            .await,
        ErrorCode::StaleToken,
    );

    let taken = env
        .api
        .take_task(&c, &id, "agent-2", false)
        .await?
        .expect("low");
    assert_eq!(taken.id, low.id);
    let failed = env
        .api
        .fail_task(
            &c,
            &low.id,
            FinishTask {
                error: Some("no".into()),
                ..FinishTask::default()
            },
        )
        .await?;
    assert_eq!(failed.status, TaskStatus::Failed);
    assert!(env.api.take_task(&c, &id, "agent-2", true).await?.is_none());
    let done = env.api.list_tasks(&c, &id, Some("completed")).await?;
    assert_eq!(done.len(), 1);

    env.api.delete_work_queue(&c, &id).await?;
    refused(env.api.get_work_queue(&c, &id).await, ErrorCode::NotFound);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_tokens_reach_only_their_teams() -> anyhow::Result<()> {
    let env = env().await?;
    let all = caller(&env, "w", &[])?;
    let red = caller(&env, "w", &["red"])?;
    let blue = env.api.create_work_queue(&all, queue("b", "blue")).await?;
    let id = blue.queue.id.clone();
    let (t, _) = env.api.add_task(&all, &id, task("t", 3)).await?;
    refused(
        env.api.create_work_queue(&red, queue("b2", "blue")).await,
        ErrorCode::TeamForbidden,
    );
    refused(
        env.api.get_work_queue(&red, &id).await,
        ErrorCode::TeamForbidden,
    );
    refused(
        env.api.add_task(&red, &id, task("x", 3)).await,
        ErrorCode::TeamForbidden,
    );
    refused(
        env.api.list_tasks(&red, &id, None).await,
        ErrorCode::TeamForbidden,
    );
    refused(
        env.api.take_task(&red, &id, "a", true).await,
        ErrorCode::TeamForbidden,
    );
    refused(
        env.api.fail_task(&red, &t.id, FinishTask::default()).await,
        ErrorCode::TeamForbidden,
    );
    refused(
        env.api.delete_work_queue(&red, &id).await,
        ErrorCode::TeamForbidden,
    );
    assert!(env.api.list_work_queues(&red).await?.is_empty());
    assert_eq!(
        env.api.list_tasks(&all, &id, None).await?.len(),
        1,
        "nothing changed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_its_field() -> anyhow::Result<()> {
    let env = env().await?;
    let c = caller(&env, "w", &[])?;
    refused(
        env.api.create_work_queue(&c, queue(" ", "t")).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.create_work_queue(&c, queue("q", "")).await,
        ErrorCode::InvalidField,
    );
    let q = env.api.create_work_queue(&c, queue("q", "t")).await?;
    let id = q.queue.id;
    refused(
        env.api.add_task(&c, &id, task("t", 6)).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.add_task(&c, &id, task("", 3)).await,
        ErrorCode::InvalidField,
    );
    let late = AddTask {
        deadline: Some(Time::Text("later".into())),
        ..task("t", 3)
    };
    refused(
        env.api.add_task(&c, &id, late).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.list_tasks(&c, &id, Some("done")).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.take_task(&c, &id, "", false).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.task_heartbeat(&c, "t_x", None).await,
        ErrorCode::InvalidField,
    );
    let long = FinishTask {
        error: Some("e".repeat(4097)),
        ..FinishTask::default()
    };
    refused(
        env.api.fail_task(&c, "t_x", long).await,
        ErrorCode::InvalidField,
    );
    refused(
        env.api.get_work_queue(&c, "wq_nope").await,
        ErrorCode::NotFound,
    );
    assert!(env.api.list_tasks(&c, &id, None).await?.is_empty());
    Ok(())
}
