//! Chaos evidence for Roost: the history format clients record, and a checker that reads a
//! history plus the cluster's final state and reports every anomaly with the operations
//! involved. Timed-out operations (`info`) are indeterminate: they may or may not have taken
//! effect, and are never counted as failures.

pub mod checker;
pub mod history;
pub mod run;

pub use checker::{check, Anomaly, AnomalyKind, Report};
pub use history::{Event, FinalState, History, Op, Outcome};
