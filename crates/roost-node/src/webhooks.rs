//! Job webhooks: when a job with a `webhook` finishes, its shard's leader POSTs the outcome,
//! signed the Standard Webhooks way, retrying with backoff for hours, and records each attempt
//! in the job's event log. Delivery is at least once: an attempt whose report is lost repeats.
//! Loopback, private and link-local addresses are refused unless the operator allows them.

use roost_state::command as cmd;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use roost_state::{Command, GroupId, Job, Query, QueryResult};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::{Node, NodeError};

/// Due deliveries read per shard per tick.
const BATCH: usize = 32;

/// How webhooks are signed and where they may go.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The HMAC-SHA256 key (the bytes behind a `whsec_…` secret).
    pub secret: Vec<u8>,
    /// Allow loopback, private and link-local receivers (tests, trusted networks).
    pub allow_private: bool,
}

/// Whether `ip` is one webhooks must not reach by default.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 0 // "this network"
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || (v6.segments()[0] & 0xffc0) == 0xfec0 // site local
                || v6.to_ipv4().is_some_and(|v4| is_private(IpAddr::V4(v4))) // mapped or compatible
                || (v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // NAT64 of a private address
                    && is_private(IpAddr::V4(std::net::Ipv4Addr::new(
                        (v6.segments()[6] >> 8) as u8,
                        v6.segments()[6] as u8,
                        (v6.segments()[7] >> 8) as u8,
                        v6.segments()[7] as u8,
                    ))))
        }
    }
}

/// The Standard Webhooks signature header value for `body`.
pub fn sign(secret: &[u8], id: &str, timestamp: u64, body: &str) -> String {
    // HMAC takes keys of any length, so building it cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{sig}")
}

/// The webhook body (Standard Webhooks' `type`, `timestamp`, `data`), with the job's result
/// served as it was stored.
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: String,
    timestamp: String,
    data: EventData<'a>,
}

#[derive(serde::Serialize)]
struct EventData<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    job_type: &'a str,
    status: &'static str,
    attempt: u32,
    result: Option<&'a serde_json::value::RawValue>,
    error: Option<&'a str>,
}

fn payload(job: &Job) -> String {
    let ts = |ms: u64| {
        humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
    };
    let event = Event {
        kind: format!("job.{}", job.status.as_str()),
        timestamp: ts(job.finished_ms.unwrap_or(job.updated_ms)),
        data: EventData {
            id: &job.id,
            job_type: &job.spec.job_type,
            status: job.status.as_str(),
            attempt: job.attempt,
            result: job
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok()),
            error: job.error.as_deref(),
        },
    };
    // Plain strings, numbers and stored JSON: serializing cannot fail.
    serde_json::to_string(&event).unwrap_or_default()
}

/// One delivery attempt; `Err((why, give_up))` when nothing was delivered.
async fn deliver(cfg: &WebhookConfig, job: &Job, url: &str) -> Result<u16, (String, bool)> {
    let parsed = reqwest::Url::parse(url).map_err(|e| (format!("bad url: {e}"), true))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| ("url has no host".to_owned(), true))?
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    // An IPv6 literal is written in brackets in a URL (`http://[::1]:8080/`), not in a lookup.
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let lookup = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((name, port)),
    );
    let addrs: Vec<SocketAddr> = lookup
        .await
        .map_err(|_| (format!("resolving {host} timed out"), false))?
        .map_err(|e| (format!("cannot resolve {host}: {e}"), false))?
        .collect();
    if !cfg.allow_private && addrs.iter().any(|a| is_private(a.ip())) {
        return Err((
            format!("{host} resolves to a private or loopback address"),
            true,
        ));
    }
    let Some(addr) = addrs.first().copied() else {
        return Err((format!("{host} has no address"), false));
    };
    // Connect to the address just checked, not to a second lookup's answer.
    let client = reqwest::Client::builder()
        .resolve(&host, addr)
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| (e.to_string(), false))?;
    let body = payload(job);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Stable across retries of one delivery, new for each finish of the job.
    let generation = job.webhook_delivery.as_ref().map_or(0, |d| d.generation);
    let msg_id = format!("{}-{}-{generation}", job.id, job.status.as_str());
    let resp = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sign(&cfg.secret, &msg_id, now, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| (e.to_string(), false))?;
    Ok(resp.status().as_u16())
}

/// Deliveries under way at once, over every receiver.
const IN_FLIGHT: usize = 64;
/// Deliveries under way at once to one receiver (host and port).
const PER_RECEIVER: usize = 4;

/// The deliveries under way: each runs in a task of its own, so a slow receiver holds up only
/// its own webhooks (at most [`PER_RECEIVER`] of them), never another tenant's.
struct InFlight {
    /// Jobs whose delivery is under way; a tick skips them.
    jobs: Mutex<HashSet<String>>,
    /// One limit per receiver, dropped once nothing uses it.
    receivers: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// The limit over every receiver.
    total: Arc<Semaphore>,
}

/// Delivers due webhooks of the shards this node leads, every `every`, until `shutdown`. Its own
/// loop, so a slow receiver never delays ticks (lease expiry, retention).
pub async fn run(node: Arc<Node>, every: Duration, shutdown: tokio_util::sync::CancellationToken) {
    let flight = Arc::new(InFlight {
        jobs: Mutex::default(),
        receivers: Mutex::default(),
        total: Arc::new(Semaphore::new(IN_FLIGHT)),
    });
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        for group in 1..=node.shards() {
            if node.leads(group) {
                if let Err(e) = dispatch(&node, group, &flight).await {
                    tracing::debug!(group, error = %e, "webhooks will retry");
                }
            }
        }
    }
}

/// Starts a delivery of every webhook of `group` that is due and not already under way.
async fn dispatch(
    node: &Arc<Node>,
    group: GroupId,
    flight: &Arc<InFlight>,
) -> Result<(), NodeError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let QueryResult::Jobs(jobs) = node
        .read(
            group,
            Query::WebhooksDue {
                until_ms: now,
                limit: BATCH,
            },
        )
        .await?
    else {
        return Ok(());
    };
    for job in jobs {
        let (Some(url), Some(delivery)) = (job.spec.webhook.clone(), job.webhook_delivery.clone())
        else {
            continue;
        };
        if !lock(&flight.jobs).insert(job.id.clone()) {
            continue;
        }
        let receiver = {
            let mut receivers = lock(&flight.receivers);
            receivers.retain(|_, s| Arc::strong_count(s) > 1);
            let key = reqwest::Url::parse(&url)
                .map(|u| {
                    let port = u.port_or_known_default().unwrap_or(0);
                    format!("{}:{port}", u.host_str().unwrap_or(""))
                })
                .unwrap_or_default();
            receivers
                .entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(PER_RECEIVER)))
                .clone()
        };
        let (node, flight) = (Arc::clone(node), Arc::clone(flight));
        tokio::spawn(async move {
            let permits = (
                flight.total.clone().acquire_owned().await,
                receiver.acquire_owned().await,
            );
            if let (Ok(_), Ok(_)) = permits {
                let (outcome, give_up) = match deliver(&node.config().webhooks, &job, &url).await {
                    Ok(status) => (Ok(status), false),
                    Err((why, give_up)) => (Err(why), give_up),
                };
                let delivered = matches!(outcome, Ok(200..=299));
                node.metrics().webhook(delivered);
                let report = Command::WebhookAttempted(cmd::WebhookAttempted {
                    job: job.id.clone(),
                    generation: delivery.generation,
                    attempt: delivery.attempts + 1,
                    outcome,
                    give_up,
                });
                // Unreported, the attempt repeats: delivery is at least once.
                if let Err(e) = node.write(group, report).await {
                    tracing::debug!(group, error = %e, "webhook attempt not recorded");
                }
            }
            lock(&flight.jobs).remove(&job.id);
        });
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognized() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.1.2.3",
            "198.18.0.1",
            "fec0::1",
            "::10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // HMAC-SHA256 over "id.timestamp.body", base64, prefixed with the version.
        let s = sign(b"key", "msg_1", 1_700_000_000, "{}");
        assert!(s.starts_with("v1,"));
        assert_eq!(s, sign(b"key", "msg_1", 1_700_000_000, "{}"));
        assert_ne!(s, sign(b"key", "msg_1", 1_700_000_001, "{}"));
    }
}
