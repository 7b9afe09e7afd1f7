//! TLS for the client listeners (the HTTP edge and the client gRPC API).
//!
//! [`ReloadingCert`] serves the certificate in two PEM files and replaces it when they change
//! (checked periodically and on SIGHUP, see [`watch`]): renewing a certificate needs no
//! restart, and connections already open keep the one they started with. [`TlsListener`]
//! accepts TCP connections and completes each handshake in a task of its own, so a slow or
//! silent client never holds up the others; the HTTP edge takes it as an axum listener, the
//! gRPC API as a stream of connections.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// ALPN for the HTTP edge: HTTP/2 preferred, HTTP/1.1 for everyone else.
pub const ALPN_HTTP: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN for gRPC, which is HTTP/2 only.
pub const ALPN_GRPC: &[&[u8]] = &[b"h2"];

/// A handshake that takes longer is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the server to take them.
const BACKLOG: usize = 128;

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM, or the key does not belong to the certificate.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn read(path: &Path) -> Result<(Vec<u8>, SystemTime), Error> {
    let err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(err)?;
    Ok((std::fs::read(path).map_err(err)?, modified))
}

/// The certificate chain in `cert_file` with the key in `key_file`, checked to belong together.
fn load(cert_file: &Path, key_file: &Path) -> Result<(CertifiedKey, [SystemTime; 2]), Error> {
    let invalid = |path: &Path, reason: String| Error::Invalid {
        path: path.to_owned(),
        reason,
    };
    let (cert_pem, cert_time) = read(cert_file)?;
    let (key_pem, key_time) = read(key_file)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert_file, e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid(cert_file, "no PEM certificate found".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid(key_file, e.to_string()))?;
    let key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| invalid(key_file, e.to_string()))?;
    let certified = CertifiedKey::new(chain, key);
    certified
        .keys_match()
        .map_err(|e| invalid(key_file, format!("does not belong to the certificate: {e}")))?;
    Ok((certified, [cert_time, key_time]))
}

/// The certificate a client listener presents, replaceable while it serves.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// Modification times of the files last loaded.
    loaded: Mutex<[SystemTime; 2]>,
}

impl ReloadingCert {
    /// Loads the certificate; a bad pair of files is an error at start.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<ReloadingCert>, Error> {
        let (certified, times) = load(cert_file, key_file)?;
        Ok(Arc::new(ReloadingCert {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current: RwLock::new(Arc::new(certified)),
            loaded: Mutex::new(times),
        }))
    }

    /// Reads the files again and serves what they hold from the next handshake on. A pair
    /// that does not load (one file written, the other not yet) leaves the current one.
    pub fn reload(&self) -> Result<(), Error> {
        let (certified, times) = load(&self.cert_file, &self.key_file)?;
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(certified);
        }
        if let Ok(mut loaded) = self.loaded.lock() {
            *loaded = times;
        }
        Ok(())
    }

    /// Whether a file changed since it was last loaded.
    fn changed(&self) -> bool {
        let now = [&self.cert_file, &self.key_file].map(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
        self.loaded.lock().map(|l| *l != now).unwrap_or(false)
    }

    /// A server configuration presenting this certificate, offering `alpn`.
    pub fn server_config(self: &Arc<Self>, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Invalid {
                path: self.cert_file.clone(),
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

/// Reloads `cert` on SIGHUP and whenever its files' modification times change (looked at
/// every `every`), until `shutdown`.
pub async fn watch(cert: Arc<ReloadingCert>, every: Duration, shutdown: CancellationToken) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; certificates reload on change only");
            None
        }
    };
    let mut tick = tokio::time::interval(every);
    loop {
        let asked = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = async { match &mut hup { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
            _ = tick.tick() => false,
        };
        if !asked && !cert.changed() {
            continue;
        }
        match cert.reload() {
            Ok(()) => {
                tracing::info!(file = %cert.cert_file.display(), "reloaded the TLS certificate")
            }
            Err(e) => tracing::warn!(error = %e, "kept the current TLS certificate"),
        }
    }
}

/// TLS connections of a TCP listener, each handshake finished in a task of its own.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `listener` until `shutdown`, handshaking with `config`.
    pub fn new(
        listener: TcpListener,
        config: Arc<ServerConfig>,
        shutdown: CancellationToken,
    ) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(BACKLOG);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, then go on.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }

    /// The connections as a stream, for tonic's `serve_with_incoming`.
    pub fn into_stream(
        self,
    ) -> impl futures::Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> {
        futures::stream::unfold(self.ready, |mut ready| async move {
            let (tls, _) = ready.recv().await?;
            Some((Ok(tls), ready))
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task ended (shutdown): nothing will come; the server is stopping.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf, Vec<u8>)> {
        let key = rcgen::KeyPair::generate()?;
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])?.self_signed(&key)?;
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.pem())?;
        std::fs::write(&k, key.serialize_pem())?;
        Ok((c, k, cert.der().to_vec()))
    }

    fn served(cert: &ReloadingCert) -> Vec<u8> {
        let current = cert.current.read().map(|c| Arc::clone(&c));
        current.map(|c| c.cert[0].to_vec()).unwrap_or_default()
    }

    #[test]
    fn a_replaced_pair_is_served_and_a_broken_one_is_not() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (c, k, first) = write_pair(dir.path(), "one.example")?;
        let cert = ReloadingCert::load(&c, &k)?;
        assert_eq!(served(&cert), first);
        // The certificate replaced but its key not yet: refused, the old pair stays.
        let other = tempfile::tempdir()?;
        let (c2, _, second) = write_pair(other.path(), "two.example")?;
        std::fs::copy(&c2, &c)?;
        assert!(cert.reload().is_err());
        assert_eq!(served(&cert), first);
        std::fs::copy(other.path().join("key.pem"), &k)?;
        cert.reload()?;
        assert_eq!(served(&cert), second);
        std::fs::write(&k, "not a key")?;
        assert!(ReloadingCert::load(&c, &k).is_err());
        Ok(())
    }

    /// What [`watch`] looks at between SIGHUPs: a file written since the last load.
    #[test]
    fn a_file_written_since_the_last_load_is_noticed() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (c, k, _) = write_pair(dir.path(), "one.example")?;
        let cert = ReloadingCert::load(&c, &k)?;
        assert!(!cert.changed());
        // Modification times have a coarse grain on some file systems: set one explicitly.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&c)?
            .set_modified(later)?;
        assert!(cert.changed());
        cert.reload()?;
        assert!(!cert.changed());
        Ok(())
    }
}
