//! Work queues: tasks by urgency (priority, then earliest deadline, then FIFO), leases with
//! fencing tokens, stealing across a team's queues, lapsed leases back to pending.

use std::collections::{BTreeMap, BTreeSet};

use super::{refuse, Effect, Effects, Outcome, ShardState};
use crate::{CommandError, QueryResult, Response, Task, TaskStatus, WorkQueue};

/// Indexes kept beside the tasks; rebuilt from them at load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct WorkIndex {
    /// Pending tasks by urgency: `(queue, -priority, deadline or MAX, seq, id)`.
    pub pending: BTreeSet<(String, i16, u64, u64, String)>,
    /// Assigned tasks by lease expiry.
    pub leases: BTreeSet<(u64, String)>,
    /// `(workspace, queue, key) -> task id`: a key names one task of one queue.
    pub keys: BTreeMap<(String, String, String), String>,
}

fn urgency(t: &Task) -> (String, i16, u64, u64, String) {
    (
        t.queue.clone(),
        -i16::from(t.priority),
        t.deadline_ms.unwrap_or(u64::MAX),
        t.seq,
        t.id.clone(),
    )
}

impl WorkIndex {
    /// Adds `t` to the indexes its state calls for.
    pub fn insert(&mut self, t: &Task) {
        if let Some(k) = &t.idempotency_key {
            self.keys.insert(
                (t.workspace.clone(), t.queue.clone(), k.clone()),
                t.id.clone(),
            );
        }
        match t.status {
            TaskStatus::Pending => {
                self.pending.insert(urgency(t));
            }
            TaskStatus::Assigned => {
                if let Some(e) = t.lease_expires_ms {
                    self.leases.insert((e, t.id.clone()));
                }
            }
            _ => {}
        }
    }

    /// Removes `t` (as it is now) from every index.
    pub fn remove(&mut self, t: &Task) {
        if let Some(k) = &t.idempotency_key {
            self.keys
                .remove(&(t.workspace.clone(), t.queue.clone(), k.clone()));
        }
        self.pending.remove(&urgency(t));
        if let Some(e) = t.lease_expires_ms {
            self.leases.remove(&(e, t.id.clone()));
        }
    }
}

impl ShardState {
    fn work_queue_in(&self, workspace: &str, id: &str) -> Result<&WorkQueue, CommandError> {
        self.work_queues
            .get(id)
            .filter(|q| q.workspace == workspace)
            .ok_or(CommandError::WorkNotFound("work queue".into()))
    }

    fn task_in(&self, workspace: &str, id: &str) -> Result<&Task, CommandError> {
        self.tasks
            .get(id)
            .filter(|t| t.workspace == workspace)
            .ok_or(CommandError::WorkNotFound("task".into()))
    }

    /// Changes task `id` through `change`, keeping the indexes right and persisting it.
    fn with_task<T>(
        &mut self,
        id: &str,
        fx: &mut Effects,
        change: impl FnOnce(&mut Task) -> T,
    ) -> Option<T> {
        let t = self.tasks.get_mut(id)?;
        self.work_index.remove(t);
        let out = change(t);
        self.work_index.insert(t);
        fx.push(Effect::PutTask(id.to_owned()));
        Some(out)
    }

    pub(super) fn create_work_queue(
        &mut self,
        now: u64,
        id: &str,
        workspace: &str,
        name: &str,
        team: &str,
        fx: &mut Effects,
    ) -> Outcome {
        if self.work_queues.contains_key(id) {
            return refuse(CommandError::Invalid("work queue id already exists".into()));
        }
        let queue = WorkQueue {
            id: id.to_owned(),
            workspace: workspace.to_owned(),
            name: name.to_owned(),
            team: team.to_owned(),
            created_ms: now,
        };
        self.work_queues.insert(id.to_owned(), queue.clone());
        fx.push(Effect::PutWorkQueue(id.to_owned()));
        Ok(Ok(Response::WorkQueueState { queue }))
    }

    pub(super) fn delete_work_queue(
        &mut self,
        workspace: &str,
        id: &str,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.work_queue_in(workspace, id) {
            return refuse(e);
        }
        self.work_queues.remove(id);
        fx.push(Effect::PutWorkQueue(id.to_owned()));
        let ids: Vec<String> = self
            .tasks
            .values()
            .filter(|t| t.queue == id)
            .map(|t| t.id.clone())
            .collect();
        for t in ids {
            if let Some(task) = self.tasks.remove(&t) {
                self.work_index.remove(&task);
                fx.push(Effect::PutTask(t));
            }
        }
        Ok(Ok(Response::Done))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_task(
        &mut self,
        now: u64,
        id: &str,
        workspace: &str,
        queue: &str,
        name: &str,
        priority: u8,
        payload: &str,
        deadline_ms: Option<u64>,
        idempotency: Option<&String>,
        fx: &mut Effects,
    ) -> Outcome {
        if let Err(e) = self.work_queue_in(workspace, queue) {
            return refuse(e);
        }
        if let Some(key) = idempotency {
            if let Some(t) = self
                .work_index
                .keys
                .get(&(workspace.to_owned(), queue.to_owned(), key.clone()))
                .and_then(|existing| self.tasks.get(existing))
            {
                // The same key with another task is a client bug, not a retry.
                if (
                    t.name.as_str(),
                    t.priority,
                    t.payload.as_str(),
                    t.deadline_ms,
                ) != (name, priority.clamp(1, 5), payload, deadline_ms)
                {
                    return refuse(CommandError::IdempotencyMismatch);
                }
                return Ok(Ok(Response::TaskState {
                    task: Box::new(t.clone()),
                    created: false,
                }));
            }
        }
        if self.tasks.contains_key(id) {
            return refuse(CommandError::Invalid("task id already exists".into()));
        }
        self.header.job_seq += 1;
        let task = Task {
            id: id.to_owned(),
            queue: queue.to_owned(),
            workspace: workspace.to_owned(),
            name: name.to_owned(),
            priority: priority.clamp(1, 5),
            payload: payload.to_owned(),
            deadline_ms,
            status: TaskStatus::Pending,
            agent_id: None,
            token: None,
            lease_expires_ms: None,
            result: None,
            error: None,
            seq: self.header.job_seq,
            idempotency_key: idempotency.cloned(),
            created_ms: now,
            updated_ms: now,
        };
        self.work_index.insert(&task);
        self.tasks.insert(id.to_owned(), task.clone());
        fx.push(Effect::PutTask(id.to_owned()));
        Ok(Ok(Response::TaskState {
            task: Box::new(task),
            created: true,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn dequeue(
        &mut self,
        now: u64,
        workspace: &str,
        queue: &str,
        agent: &str,
        token: u64,
        lease_ms: u64,
        steal: bool,
        fx: &mut Effects,
    ) -> Outcome {
        let team = match self.work_queue_in(workspace, queue) {
            Ok(q) => q.team.clone(),
            Err(e) => return refuse(e),
        };
        // The queues to take from: this one, or (stealing) the team's others.
        let sources: BTreeSet<&str> = if steal {
            self.work_queues
                .values()
                .filter(|q| q.workspace == workspace && q.team == team && q.id != queue)
                .map(|q| q.id.as_str())
                .collect()
        } else {
            BTreeSet::from([queue])
        };
        // Most urgent across the sources: compare each source's head.
        let best = sources
            .iter()
            .filter_map(|q| {
                let lo = ((*q).to_owned(), i16::MIN, 0, 0, String::new());
                self.work_index
                    .pending
                    .range(lo..)
                    .next()
                    .filter(|k| k.0 == *q)
                    .cloned()
            })
            .min_by(|a, b| (a.1, a.2, a.3).cmp(&(b.1, b.2, b.3)));
        let Some((.., id)) = best else {
            return Ok(Ok(Response::Dequeued { task: None }));
        };
        let task = self.with_task(&id, fx, |t| {
            t.status = TaskStatus::Assigned;
            t.agent_id = Some(agent.to_owned());
            t.token = Some(token);
            t.lease_expires_ms = Some(now + lease_ms);
            t.updated_ms = now;
            t.clone()
        });
        Ok(Ok(Response::Dequeued {
            task: task.map(Box::new),
        }))
    }

    pub(super) fn task_heartbeat(
        &mut self,
        now: u64,
        workspace: &str,
        id: &str,
        token: u64,
        lease_ms: u64,
        fx: &mut Effects,
    ) -> Outcome {
        match self.task_in(workspace, id) {
            Ok(t) if t.status == TaskStatus::Assigned && t.token == Some(token) => {}
            Ok(_) => return refuse(CommandError::StaleToken),
            Err(e) => return refuse(e),
        }
        let task = self.with_task(id, fx, |t| {
            t.lease_expires_ms = Some(now + lease_ms);
            t.updated_ms = now;
            t.clone()
        });
        task.map_or_else(
            || refuse(CommandError::WorkNotFound("task".into())),
            |t| {
                Ok(Ok(Response::TaskState {
                    task: Box::new(t),
                    created: false,
                }))
            },
        )
    }

    pub(super) fn finish_task(
        &mut self,
        now: u64,
        workspace: &str,
        id: &str,
        token: Option<u64>,
        outcome: &Result<String, String>,
        fx: &mut Effects,
    ) -> Outcome {
        match self.task_in(workspace, id) {
            // Without a token (the seed's calls), only the current assignment can be finished;
            // with one, it must be the current assignment's.
            Ok(t)
                if t.status == TaskStatus::Assigned
                    && token.is_none_or(|tok| t.token == Some(tok)) => {}
            Ok(t) if t.status != TaskStatus::Assigned && token.is_none() => {
                return refuse(CommandError::JobState(format!(
                    "task is {}",
                    t.status.as_str()
                )))
            }
            Ok(_) => return refuse(CommandError::StaleToken),
            Err(e) => return refuse(e),
        }
        let task = self.with_task(id, fx, |t| {
            match outcome {
                Ok(result) => {
                    t.status = TaskStatus::Completed;
                    t.result = Some(result.clone());
                }
                Err(error) => {
                    t.status = TaskStatus::Failed;
                    t.error = Some(error.clone());
                }
            }
            t.lease_expires_ms = None;
            t.updated_ms = now;
            t.clone()
        });
        task.map_or_else(
            || refuse(CommandError::WorkNotFound("task".into())),
            |t| {
                Ok(Ok(Response::TaskState {
                    task: Box::new(t),
                    created: false,
                }))
            },
        )
    }

    /// Returns tasks whose lease lapsed to pending.
    pub(super) fn tick_work(&mut self, now: u64, fx: &mut Effects) {
        let lapsed: Vec<String> = self
            .work_index
            .leases
            .range(..=(now, String::from("\u{10ffff}")))
            .map(|(_, id)| id.clone())
            .collect();
        for id in lapsed {
            self.with_task(&id, fx, |t| {
                t.status = TaskStatus::Pending;
                t.token = None;
                t.lease_expires_ms = None;
                t.updated_ms = now;
            });
        }
    }

    fn counts(&self, queue: &str) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<String, u64> = ["pending", "assigned", "completed", "failed"]
            .into_iter()
            .map(|s| (s.to_owned(), 0))
            .collect();
        for t in self.tasks.values().filter(|t| t.queue == queue) {
            *counts.entry(t.status.as_str().to_owned()).or_default() += 1;
        }
        counts
    }

    pub(super) fn work_queues_of(
        &self,
        workspace: &str,
        only: Option<&str>,
    ) -> Result<QueryResult, CommandError> {
        if let Some(id) = only {
            let q = self.work_queue_in(workspace, id)?;
            return Ok(QueryResult::WorkQueues(vec![(q.clone(), self.counts(id))]));
        }
        Ok(QueryResult::WorkQueues(
            self.work_queues
                .values()
                .filter(|q| q.workspace == workspace)
                .map(|q| (q.clone(), self.counts(&q.id)))
                .collect(),
        ))
    }

    pub(super) fn team_of(&self, workspace: &str, id: &str) -> Result<QueryResult, CommandError> {
        let queue = match self.task_in(workspace, id) {
            Ok(task) => self.work_queue_in(workspace, &task.queue)?,
            Err(_) => self
                .work_queue_in(workspace, id)
                .map_err(|_| CommandError::WorkNotFound("work queue or task".into()))?,
        };
        Ok(QueryResult::Team(queue.team.clone()))
    }

    pub(super) fn tasks_of(
        &self,
        workspace: &str,
        queue: &str,
        status: Option<TaskStatus>,
    ) -> Result<QueryResult, CommandError> {
        self.work_queue_in(workspace, queue)?;
        let mut tasks: Vec<Task> = self
            .tasks
            .values()
            .filter(|t| t.queue == queue && status.is_none_or(|s| s == t.status))
            .cloned()
            .collect();
        tasks.sort_by_key(|t| {
            (
                -i16::from(t.priority),
                t.deadline_ms.unwrap_or(u64::MAX),
                t.seq,
            )
        });
        Ok(QueryResult::Tasks(tasks))
    }
}
