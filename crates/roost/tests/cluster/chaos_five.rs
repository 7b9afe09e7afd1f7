//! Five nodes, each in its own network namespace with its wall clock under libfaketime, under a
//! schedule that takes every nemesis in turn: partitions of every shape, pauses, kills and
//! clock skew. Same workload and checks as the three-node runs (`chaos.rs`).

use std::time::{Duration, Instant};

use jepsen_tests::Outcome;

use crate::api::create;
use crate::chaos::{run_and_check, run_length, Recorder};
use crate::harness::Cluster;

/// Faults in the schedule.
const STEPS: usize = 7;
/// Clock offsets (s) of nodes 1-5 for the skew steps, in turn.
const SKEWS: [[i64; 5]; 2] = [[300, -120, 3600, -600, 0], [-3600, 0, 90, 1800, -45]];

#[tokio::test]
async fn five_nodes_under_a_schedule_of_nemeses_have_no_anomaly() -> anyhow::Result<()> {
    let c = Cluster::start_isolated_skewable(5, 2).await?;
    let q = create(&c, 1, &["c"]).await?;
    let net = c.net()?;
    let rec = Recorder::new();
    let until = Instant::now() + run_length(26);
    // Each fault alone for 2 s, then healed: halves (a different minority each time), the
    // shard leader cut off, a ring, a bridge, the leader paused, a node killed and restarted,
    // every wall clock skewed (minutes to an hour, both ways; healing jumps them back).
    let nemesis = async {
        let minorities = [[1, 2], [2, 4], [3, 5]];
        let mut step = 0usize;
        while Instant::now() + Duration::from_secs(4) < until {
            let mut paused = None;
            let fault = match step % STEPS {
                0 => {
                    let minority = minorities[step / 6 % 3];
                    net.partition(&minority)?;
                    format!("halves {minority:?}")
                }
                1 => {
                    let leader = c.wait_leader(q.shard(), Duration::from_secs(15)).await?;
                    net.partition(&[leader])?;
                    format!("isolate leader {leader}")
                }
                2 => {
                    net.ring()?;
                    "ring".to_owned()
                }
                3 => {
                    net.bridge_through(3)?;
                    "bridge through 3".to_owned()
                }
                4 => {
                    let leader = c.wait_leader(q.shard(), Duration::from_secs(15)).await?;
                    c.signal(leader, "STOP")?;
                    paused = Some(leader);
                    format!("pause {leader}")
                }
                5 => {
                    c.kill(step as u64 % 5 + 1)?;
                    format!("kill {}", step as u64 % 5 + 1)
                }
                _ => {
                    let skews = SKEWS[step / STEPS % SKEWS.len()];
                    for (id, secs) in (1..=5).zip(skews) {
                        c.skew(id, secs)?;
                    }
                    format!("clocks {skews:?}")
                }
            };
            rec.fault(fault.clone(), Outcome::Invoke);
            tokio::time::sleep(Duration::from_secs(2)).await;
            net.heal()?;
            if let Some(leader) = paused {
                c.signal(leader, "CONT")?;
            }
            match step % STEPS {
                5 => c.spawn(step as u64 % 5 + 1)?,
                6 => {
                    for id in 1..=5 {
                        c.skew(id, 0)?;
                    }
                }
                _ => {}
            }
            rec.fault(fault, Outcome::Ok);
            tokio::time::sleep(Duration::from_millis(800)).await;
            step += 1;
        }
        anyhow::Ok(())
    };
    let checked = run_and_check("five_nodes_schedule", &c, &q, until, &rec, nemesis).await;
    net.heal()?;
    checked
}
