//! Counting what applied commands and answered pulls did, from the answers the leader gets
//! back. Each command is counted once in the cluster, on the node that proposed it as leader,
//! so summing a counter over the nodes gives the cluster's total.

use roost_state::{Command, QueryResult, Response};

use super::{Metrics, StatusLabels};

/// What a command is, as far as the counters care (wrappers such as `Capped` unwrapped).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Answers `JobState`, with `created: false` for an idempotent repeat.
    JobCreate,
    /// Answers `JobState` whose job entered a status.
    JobChange,
    /// Answers `TaskState`, with `created: false` for an idempotent repeat.
    TaskCreate,
    /// Answers `TaskState` whose task entered a status.
    TaskChange,
    /// Anything else: its answer alone says what happened.
    Other,
}

impl Kind {
    /// The kind of `command`.
    pub(crate) fn of(command: &Command) -> Kind {
        match command {
            Command::Capped(c) => Kind::of(&c.command),
            Command::KeepHeld(c) => Kind::of(&c.command),
            Command::CreateJob(_) => Kind::JobCreate,
            Command::CompleteJob(_)
            | Command::FailJob(_)
            | Command::CancelJob(_)
            | Command::RetryJob(_) => Kind::JobChange,
            Command::AddTask(_) => Kind::TaskCreate,
            Command::FinishTask(_) => Kind::TaskChange,
            _ => Kind::Other,
        }
    }
}

impl Metrics {
    /// Counts what one applied command of `kind` did, from its `response`.
    pub(crate) fn applied(&self, kind: Kind, response: &Response) {
        match response {
            Response::Published {
                replayed: false, ..
            } => {
                self.published.inc();
            }
            // Held publishes released after a plan was raised.
            Response::Drained { count } => {
                self.published.inc_by(*count);
            }
            Response::Replayed { .. } => {
                self.replayed.inc();
                self.published.inc();
            }
            Response::Acked { .. } => {
                self.acks.inc();
            }
            Response::Nacked { dead_lettered, .. } => {
                self.nacks.inc();
                if *dead_lettered {
                    self.dead_lettered.inc();
                }
            }
            // An idempotent repeat of a create (`created: false`) changed nothing.
            Response::JobState { job, created }
                if kind == Kind::JobChange || (kind == Kind::JobCreate && *created) =>
            {
                self.job(job.status.as_str());
            }
            Response::Claimed { jobs } => {
                for _ in jobs {
                    self.job("running");
                }
            }
            Response::TaskState { task, created }
                if kind == Kind::TaskChange || (kind == Kind::TaskCreate && *created) =>
            {
                self.task(task.status.as_str());
            }
            Response::Dequeued { task: Some(_) } => self.task("assigned"),
            _ => {}
        }
    }

    /// Counts the messages a pull handed out.
    pub(crate) fn answered(&self, result: &QueryResult) {
        if let QueryResult::Pulled { messages, .. } = result {
            self.pulled.inc_by(messages.len() as u64);
        }
    }

    fn job(&self, status: &'static str) {
        self.jobs.get_or_create(&StatusLabels { status }).inc();
    }

    fn task(&self, status: &'static str) {
        self.tasks.get_or_create(&StatusLabels { status }).inc();
    }
}
