//! A Roost node: one storage instance, every Raft group, and routing of client operations.
//!
//! Every node runs the metadata group (0) and all shard groups (1..=N) over one RocksDB. A
//! client operation names its group; [`Node::write`] and [`Node::read`] run it on the local
//! Raft when this node leads the group, and otherwise forward it to the leader over the peer
//! network, so clients can talk to any node.

pub mod backup;
mod changes;
mod cluster_id;
mod config;
mod drain;
mod error;
mod forwards;
mod group;
mod identity;
mod membership;
mod metrics;
mod mirror;
mod node;
mod proposer;
mod quota;
mod quota_drain;
mod read_barrier;
mod refusals;
mod status;
mod survey;
mod ticker;
mod waiters;
mod webhooks;

pub use changes::Subscription;
pub use config::{Member, NodeConfig, RaftTuning};
pub use error::NodeError;
pub use forwards::{noting_forwards, Forwards};
pub use metrics::{Edge, Metrics, CONTENT_TYPE as METRICS_CONTENT_TYPE};
pub use node::{Node, NotReady};
pub use quota::{Charged, Denied, Quotas, Replay};
pub use refusals::Refusals;
pub use roost_network::PeerTls;
pub use status::{ClusterStatus, GroupStatus};
pub use survey::{at_risk, lag, live, voters, Leaving, Survey};
pub use waiters::WaitSlot;
pub use webhooks::{sign as sign_webhook, WebhookConfig};
