//! Who may use a node's peer port, and how a node proves itself to its peers.
//!
//! Two checks, both on every peer RPC:
//! - **Mutual TLS** ([`PeerTls`]): with it, the peer listener completes a handshake only with a
//!   client presenting a certificate signed by the cluster's CA, and every node dials its peers
//!   over TLS with its own certificate. Without it anyone who reaches the port could append to
//!   any group's log or forward any command.
//! - **Cluster identity** ([`ClusterId`]): every RPC carries the sender's cluster id as
//!   metadata, and a node that knows its cluster's id refuses RPCs carrying another one or none.
//!   Certificates prove membership of the CA's domain; the id keeps two clusters under one CA —
//!   or a node restarted on another cluster's data dir — from merging.
//!
//! The same interceptors carry and check the peer protocol's version (see [`crate::protocol`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};
use tonic::{Request, Status};

/// The metadata key carrying the sender's cluster id.
pub const CLUSTER_ID_HEADER: &str = "roost-cluster-id";

/// How often the same refusal is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// A node's peer identity and the CA that signs every member's certificate, as PEM.
#[derive(Clone)]
pub struct PeerTls {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
}

impl PeerTls {
    /// Checks that `cert` holds certificates, `key` a private key and `ca` certificates, so a
    /// bad file stops the start instead of failing every handshake later.
    pub fn from_pem(cert: Vec<u8>, key: Vec<u8>, ca: Vec<u8>) -> Result<PeerTls, PemError> {
        let certs = |file: &'static str, pem: &[u8]| -> Result<(), PemError> {
            let found = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| PemError::new(file, e.to_string()))?;
            if found.is_empty() {
                return Err(PemError::new(file, "no PEM certificate found".into()));
            }
            Ok(())
        };
        certs("cert_file", &cert)?;
        certs("ca_file", &ca)?;
        PrivateKeyDer::from_pem_slice(&key)
            .map_err(|e| PemError::new("key_file", e.to_string()))?;
        Ok(PeerTls { cert, key, ca })
    }

    /// The peer listener's side: this node's certificate, and only clients the CA signed.
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.ca))
    }

    /// The dialling side: the peer's certificate must be the CA's and name the address dialled;
    /// this node presents its own.
    pub(crate) fn client_config(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(Identity::from_pem(&self.cert, &self.key))
    }
}

/// Which of the peer TLS files holds no usable PEM, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct PemError {
    /// `cert_file`, `key_file` or `ca_file`.
    pub file: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl PemError {
    fn new(file: &'static str, reason: String) -> PemError {
        PemError { file, reason }
    }
}

/// Never prints the key.
impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls").finish_non_exhaustive()
    }
}

/// This node's cluster id: known from its data dir, made at bootstrap, or adopted from the
/// first peer RPC that carries one (a new member learns it from the cluster it joins). Clones
/// share it.
#[derive(Clone)]
pub struct ClusterId {
    inner: Arc<Inner>,
}

/// Keeps an adopted cluster id durably.
type Persist = dyn Fn(&str) -> Result<(), String> + Send + Sync;

struct Inner {
    id: OnceLock<MetadataValue<tonic::metadata::Ascii>>,
    /// Keeps an adopted id (in the data dir), before it is used.
    persist: Box<Persist>,
    /// Held while an id is adopted.
    adopting: Mutex<()>,
    /// When each refusal (peer, id) was last logged.
    logged: Mutex<HashMap<(String, String), Instant>>,
}

impl ClusterId {
    /// `known` from the data dir (or just made); `persist` keeps an id adopted from a peer.
    pub fn new(
        known: Option<String>,
        persist: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Result<ClusterId, String> {
        let id = OnceLock::new();
        if let Some(k) = known {
            let value = k
                .parse()
                .map_err(|_| format!("cluster id {k:?} is not printable ASCII"))?;
            let _ = id.set(value);
        }
        Ok(ClusterId {
            inner: Arc::new(Inner {
                id,
                persist: Box::new(persist),
                adopting: Mutex::new(()),
                logged: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The id, once known.
    pub fn get(&self) -> Option<&str> {
        self.inner.id.get().and_then(|v| v.to_str().ok())
    }

    /// Admits or refuses one incoming RPC (see the module docs).
    fn admit(&self, req: &Request<()>) -> Result<(), Status> {
        let theirs = req
            .metadata()
            .get(CLUSTER_ID_HEADER)
            .and_then(|v| v.to_str().ok());
        let ours = match self.get() {
            Some(ours) => ours,
            None => match theirs {
                None => return Ok(()),
                Some(t) => self.adopt(t)?,
            },
        };
        if theirs == Some(ours) {
            return Ok(());
        }
        let theirs = theirs.unwrap_or("none").to_owned();
        self.log_refusal(req.remote_addr(), &theirs, ours);
        Err(Status::permission_denied(format!(
            "cluster_id_mismatch: this node belongs to cluster {ours}, the request to cluster {theirs}"
        )))
    }

    /// Takes `theirs` as this node's id if none is known yet; returns the id in force.
    fn adopt(&self, theirs: &str) -> Result<&str, Status> {
        let value = theirs
            .parse()
            .map_err(|_| Status::invalid_argument("cluster id is not printable ASCII"))?;
        // One adoption at a time, so the id kept on disk is the one in force.
        let _adopting = self
            .inner
            .adopting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.get().is_none() {
            // Persist first: an id used but not kept would be lost at the next start.
            (self.inner.persist)(theirs).map_err(Status::unavailable)?;
            if self.inner.id.set(value).is_ok() {
                tracing::info!(cluster_id = theirs, "joined cluster");
            }
        }
        self.get()
            .ok_or_else(|| Status::internal("cluster id unreadable"))
    }

    /// Whether a refusal about (`peer`, `id`) is due to be logged now (at most once per
    /// [`LOG_EVERY`]: a refused peer retries many times a second).
    fn due(&self, peer: String, id: &str) -> bool {
        let Ok(mut logged) = self.inner.logged.lock() else {
            return false;
        };
        let now = Instant::now();
        let key = (peer, id.to_owned());
        if logged.get(&key).is_some_and(|at| now - *at < LOG_EVERY) {
            return false;
        }
        logged.retain(|_, at| now - *at < LOG_EVERY);
        logged.insert(key, now);
        true
    }

    /// Logs that peer `node` at `addr` refused this node's RPC because of its cluster id or
    /// its protocol version.
    pub(crate) fn refused_by(&self, node: u64, addr: &str, status: &Status) {
        let protocol = status.message().starts_with("protocol_unsupported");
        if protocol && self.due(addr.to_owned(), "protocol") {
            tracing::error!(
                peer = node,
                addr,
                reason = status.message(),
                "a peer refused this node's protocol version"
            );
        }
        if status.code() == tonic::Code::PermissionDenied && self.due(addr.to_owned(), "") {
            tracing::error!(
                peer = node,
                addr,
                reason = status.message(),
                "a peer refused this node: it belongs to another cluster (or this node does)"
            );
        }
    }

    /// Logs an RPC refused for its protocol version (at most once per [`LOG_EVERY`] per
    /// address).
    fn log_protocol_refusal(&self, from: Option<SocketAddr>, refused: &Status) {
        let peer = from.map(|a| a.ip().to_string()).unwrap_or_default();
        if !self.due(peer, "protocol") {
            return;
        }
        let from = from.map_or_else(|| "unknown".into(), |a| a.to_string());
        tracing::error!(%from, reason = refused.message(), "refused a peer RPC of a protocol version this node does not speak");
    }

    fn log_refusal(&self, from: Option<SocketAddr>, theirs: &str, ours: &str) {
        let peer = from.map(|a| a.ip().to_string()).unwrap_or_default();
        if !self.due(peer, theirs) {
            return;
        }
        let from = from
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown".into());
        tracing::error!(
            %from,
            their_cluster = theirs,
            our_cluster = ours,
            "refused a peer RPC from another cluster (a stray node, or a node on another cluster's data dir)"
        );
    }
}

/// On the listener: admits RPCs of this node's cluster only.
#[derive(Clone)]
pub struct Admit(pub(crate) ClusterId);

impl Interceptor for Admit {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        if let Err(refused) = crate::protocol::admit(&req) {
            self.0.log_protocol_refusal(req.remote_addr(), &refused);
            return Err(refused);
        }
        self.0.admit(&req)?;
        Ok(req)
    }
}

/// On outgoing RPCs: names this node's cluster, once known.
#[derive(Clone)]
pub(crate) struct Stamp(pub(crate) ClusterId);

impl Interceptor for Stamp {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        crate::protocol::stamp(&mut req);
        if let Some(id) = self.0.inner.id.get() {
            req.metadata_mut().insert(CLUSTER_ID_HEADER, id.clone());
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: Option<&str>) -> Request<()> {
        let mut req = Request::new(());
        if let Some(id) = id {
            req.metadata_mut()
                .insert(CLUSTER_ID_HEADER, id.parse().expect("ascii"));
        }
        req
    }

    #[test]
    fn a_known_id_admits_only_itself() -> Result<(), String> {
        let ours = ClusterId::new(Some("c-1".into()), |_| Err("must not persist".into()))?;
        assert!(ours.admit(&request(Some("c-1"))).is_ok());
        let other = ours
            .admit(&request(Some("c-2")))
            .expect_err("other cluster");
        assert_eq!(other.code(), tonic::Code::PermissionDenied);
        assert!(other.message().starts_with("cluster_id_mismatch"));
        assert!(
            ours.admit(&request(None)).is_err(),
            "a sender without an id"
        );
        Ok(())
    }

    #[test]
    fn a_new_member_adopts_and_keeps_the_first_id_it_hears() -> Result<(), String> {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sink = kept.clone();
        let id = ClusterId::new(None, move |v| {
            sink.lock().map_err(|e| e.to_string())?.push(v.to_owned());
            Ok(())
        })?;
        assert!(id.admit(&request(None)).is_ok(), "two new members");
        assert_eq!(id.get(), None);
        assert!(id.admit(&request(Some("c-1"))).is_ok());
        assert_eq!(id.get(), Some("c-1"));
        assert!(id.admit(&request(Some("c-2"))).is_err());
        assert_eq!(*kept.lock().map_err(|e| e.to_string())?, ["c-1"]);
        let mut stamped = Stamp(id)
            .call(Request::new(()))
            .map_err(|e| e.to_string())?;
        let sent = stamped.metadata_mut().get(CLUSTER_ID_HEADER).cloned();
        assert_eq!(
            sent.and_then(|v| v.to_str().ok().map(str::to_owned))
                .as_deref(),
            Some("c-1")
        );
        Ok(())
    }

    /// Two clusters reaching a new node at once: one id wins, and it is the one kept on disk.
    #[test]
    fn concurrent_adoptions_keep_what_they_use() -> Result<(), String> {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sink = kept.clone();
        let id = ClusterId::new(None, move |v| {
            std::thread::sleep(Duration::from_millis(20));
            sink.lock().map_err(|e| e.to_string())?.push(v.to_owned());
            Ok(())
        })?;
        let racers: Vec<_> = ["c-1", "c-2"]
            .into_iter()
            .map(|c| {
                let id = id.clone();
                std::thread::spawn(move || id.admit(&request(Some(c))).is_ok())
            })
            .collect();
        let admitted = racers
            .into_iter()
            .map(|t| t.join().unwrap_or(false))
            .filter(|ok| *ok)
            .count();
        assert_eq!(admitted, 1);
        let kept = kept.lock().map_err(|e| e.to_string())?.clone();
        assert_eq!(kept.len(), 1);
        assert_eq!(Some(kept[0].as_str()), id.get());
        Ok(())
    }

    #[test]
    fn an_id_that_cannot_be_kept_is_not_adopted() -> Result<(), String> {
        let id = ClusterId::new(None, |_| Err("disk full".into()))?;
        assert!(id.admit(&request(Some("c-1"))).is_err());
        assert_eq!(id.get(), None);
        Ok(())
    }
}
