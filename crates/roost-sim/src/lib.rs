//! Deterministic simulation of a Roost shard group: the real openraft and the real state
//! machine (`roost-state`), with in-memory storage behind openraft's storage traits
//! ([`store`]), on turmoil's simulated network ([`net`]), driven by a seeded schedule of
//! partitions, crashes with restarts, and lossy links ([`sim`]). Clients (the queue workload
//! in [`client`], the jobs workload in [`jobs`]) record a Jepsen-style history that `jepsen-tests`' checker judges against the final state. Everything
//! random comes from the seed, so a failing seed replays exactly.

pub mod client;
pub mod jobs;
pub mod net;
pub mod node;
pub mod runtime;
pub mod sim;
pub mod store;

pub use sim::{run, Plan, Run, SimError, Workload};

// Without the flag tokio's schedulers draw unseeded random numbers and seeds stop replaying.
#[cfg(not(tokio_unstable))]
compile_error!("build roost-sim with `--cfg tokio_unstable` (its .cargo/config.toml sets it)");

use std::io::Cursor;

openraft::declare_raft_types!(
    /// The simulated group's types: Roost's batches and responses, the seeded runtime.
    pub SimConfig:
        D = roost_state::Batch,
        R = Vec<roost_state::Response>,
        AsyncRuntime = runtime::SimRuntime,
);

/// A node id.
pub type NodeId = u64;
/// A log entry.
pub type Entry = openraft::Entry<SimConfig>;
/// A log id.
pub type LogId = openraft::LogId<NodeId>;
/// A storage error as openraft reports it.
pub type StorageError = openraft::StorageError<NodeId>;
/// A Raft instance.
pub type Raft = openraft::Raft<SimConfig>;
