//! One simulated run: nodes and clients on turmoil, a seeded schedule of faults while the
//! clients work, then healing, the final read and the checker's verdict.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jepsen_tests::{Event, FinalState, Report};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::client::{self, Recorder};
use crate::net::host;
use crate::store::Disk;
use crate::NodeId;
use crate::{jobs, node};

/// What the clients do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Idempotent publishers and an acking consumer on one queue.
    Queue,
    /// Job enqueuers and workers.
    Jobs,
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The clients' workload.
    pub workload: Workload,
    /// Nodes in the group (3 or 5).
    pub nodes: u64,
    /// Simulated time the clients work and the faults strike.
    pub work_for: Duration,
    /// Whether faults strike at all (off: a baseline).
    pub faults: bool,
    /// Nodes' snapshots miss their newest batch ([`Disk::with_broken_snapshots`]): a broken
    /// store the checker must catch.
    pub broken_snapshots: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            workload: Workload::Queue,
            nodes: 3,
            work_for: Duration::from_secs(20),
            faults: true,
            broken_snapshots: false,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// The seed that reproduces it.
    pub seed: u64,
    /// The clients' history.
    pub history: Vec<Event>,
    /// The queue after healing.
    pub final_state: FinalState,
    /// The checker's verdict.
    pub report: Report,
    /// The faults, in order, with their simulated start times.
    pub faults: Vec<(Duration, String)>,
}

/// Why a run could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A host failed, or the simulation itself did.
    #[error("simulation failed: {0}")]
    Turmoil(String),
    /// The clients could not create the queue or read the final state.
    #[error("seed {0}: the clients could not {1}")]
    Stuck(u64, &'static str),
}

/// One fault at a time, healed before the next.
enum Fault {
    /// A node cut off from every other node.
    Isolate(NodeId),
    /// A node crashed (restarted at the heal).
    Crash(NodeId),
    /// Links failing at random (turmoil's fail rate), for a while.
    Lossy,
    /// Messages between two nodes held back (delivered at the heal).
    Hold(NodeId, NodeId),
}

impl Fault {
    fn pick(rng: &mut StdRng, nodes: u64) -> Fault {
        let a = rng.random_range(1..=nodes);
        let b = a % nodes + 1;
        match rng.random_range(0..4) {
            0 => Fault::Isolate(a),
            1 => Fault::Crash(a),
            2 => Fault::Lossy,
            _ => Fault::Hold(a, b),
        }
    }

    fn describe(&self) -> String {
        match self {
            Fault::Isolate(n) => format!("isolate {n}"),
            Fault::Crash(n) => format!("crash {n}"),
            Fault::Lossy => "lossy links".into(),
            Fault::Hold(a, b) => format!("hold {a}<->{b}"),
        }
    }
}

/// Runs `plan` with everything random drawn from `seed`.
pub fn run(seed: u64, plan: &Plan) -> Result<Run, SimError> {
    crate::runtime::seed(seed);
    let nodes = plan.nodes;
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(plan.work_for + Duration::from_secs(120))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .tcp_capacity(1 << 16)
        .build();
    let members: Vec<NodeId> = (1..=nodes).collect();
    for id in 1..=nodes {
        let disk = if plan.broken_snapshots {
            Disk::with_broken_snapshots()
        } else {
            Disk::default()
        };
        let members = members.clone();
        sim.host(host(id), move || {
            node::run(id, members.clone(), disk.clone())
        });
    }
    let rec = Recorder::default();
    let outcome: Arc<Mutex<Option<Result<FinalState, &'static str>>>> = Arc::default();
    let (client_rec, client_out) = (rec.clone(), Arc::clone(&outcome));
    let (work_for, workload) = (plan.work_for, plan.workload);
    sim.client("client", async move {
        let result = async {
            let mut tasks = Vec::new();
            match workload {
                Workload::Queue => {
                    if !client::create_queue(nodes).await {
                        return Err("create the queue");
                    }
                    for p in 1..=3 {
                        let rec = client_rec.clone();
                        tasks.push(tokio::spawn(client::publisher(rec, p, nodes, work_for)));
                    }
                    let rec = client_rec.clone();
                    tasks.push(tokio::spawn(client::consumer(rec, nodes, work_for)));
                }
                Workload::Jobs => {
                    for p in 1..=2 {
                        let rec = client_rec.clone();
                        tasks.push(tokio::spawn(jobs::enqueuer(rec, p, nodes, work_for)));
                    }
                    for p in 11..=13 {
                        let rec = client_rec.clone();
                        tasks.push(tokio::spawn(jobs::worker(rec, p, nodes, work_for)));
                    }
                }
            }
            for t in tasks {
                let _ = t.await;
            }
            // The schedule heals everything at `work_for`; give the group time to settle.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let fin = match workload {
                Workload::Queue => client::final_state(nodes).await,
                Workload::Jobs => jobs::final_jobs(nodes).await,
            };
            fin.ok_or("read the final state")
        }
        .await;
        *client_out.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        Ok(())
    });

    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_f00d);
    let mut faults = Vec::new();
    let mut active: Option<Fault> = None;
    let mut next = Duration::from_secs(2);
    loop {
        if sim.step().map_err(|e| SimError::Turmoil(e.to_string()))? {
            break;
        }
        let now = sim.elapsed();
        let striking = plan.faults && now < plan.work_for;
        if now < next && striking {
            continue;
        }
        if let Some(f) = active.take() {
            heal(&mut sim, &f, nodes);
        }
        if striking {
            let f = Fault::pick(&mut rng, nodes);
            strike(&mut sim, &f, nodes);
            faults.push((now, f.describe()));
            active = Some(f);
            next = now + Duration::from_millis(rng.random_range(500..3000));
        } else {
            next = Duration::MAX;
        }
    }
    let final_state = match outcome.lock().unwrap_or_else(|e| e.into_inner()).take() {
        Some(Ok(fin)) => fin,
        Some(Err(what)) => return Err(SimError::Stuck(seed, what)),
        None => return Err(SimError::Stuck(seed, "finish")),
    };
    let history = rec.history();
    let report = jepsen_tests::check(&history, &final_state);
    Ok(Run {
        seed,
        history,
        final_state,
        report,
        faults,
    })
}

fn strike(sim: &mut turmoil::Sim<'_>, fault: &Fault, nodes: u64) {
    match *fault {
        Fault::Isolate(n) => {
            for other in (1..=nodes).filter(|o| *o != n) {
                sim.partition(host(n), host(other));
            }
        }
        Fault::Crash(n) => sim.crash(host(n)),
        Fault::Lossy => sim.set_fail_rate(0.05),
        Fault::Hold(a, b) => sim.hold(host(a), host(b)),
    }
}

fn heal(sim: &mut turmoil::Sim<'_>, fault: &Fault, nodes: u64) {
    match *fault {
        Fault::Isolate(n) => {
            for other in (1..=nodes).filter(|o| *o != n) {
                sim.repair(host(n), host(other));
            }
        }
        Fault::Crash(n) => sim.bounce(host(n)),
        // Failed links repair on the next tick (turmoil's repair rate is 1).
        Fault::Lossy => sim.set_fail_rate(0.0),
        Fault::Hold(a, b) => sim.release(host(a), host(b)),
    }
}
