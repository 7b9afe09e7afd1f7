//! The operations at the `Api` level, once each, with their refusals: both edges (and MCP)
//! call exactly these methods, so what holds here holds over every edge. A single in-process
//! node on loopback; time and randomness from a fixed source.

mod accounts;
mod admin;
mod forms;
mod harness;
mod jobs;
mod queues;
mod views;
mod work;
