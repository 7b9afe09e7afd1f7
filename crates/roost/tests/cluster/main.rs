//! Real clusters of `roost` processes on loopback (or in network namespaces): replication,
//! forwarding, failover, catch-up, chaos, and the container deployments of `deploy/`.

mod api;
mod backup;
mod catch_up;
mod chaos;
mod chaos_five;
mod chaos_jobs;
mod chaos_work;
mod cli;
mod client;
mod deploy;
mod failover;
mod fixture;
mod forms;
mod grpc;
mod grpc_workspace;
mod harness;
mod idle;
mod jobs;
mod mcp;
mod membership;
mod metrics;
mod netns;
mod payloads;
mod perimeter;
mod queue_limits;
mod queue_rung;
mod quotas;
mod rolling;
mod single;
mod slow_clients;
mod teams;
mod tls;
mod webhooks;
