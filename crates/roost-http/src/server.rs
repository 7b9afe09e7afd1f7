//! The HTTP listener, for clients that misbehave. axum's own `serve` gives hyper no timer, so a
//! half-sent header, a stalled body or an idle keep-alive connection stayed open for good, and
//! it accepts without bound. Here every connection gets a header deadline (which also ends idle
//! keep-alive connections, since hyper starts it while waiting for the next request), request
//! bodies a deadline between chunks, and the number of open connections a cap; over the cap a
//! connection gets a JSON 503 and is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How the listener treats connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Longest wait for a request's headers, counted from when the connection is ready for
    /// the next request (so it is also the keep-alive idle timeout).
    pub header_timeout: Duration,
    /// Longest wait for the next chunk of a request body.
    pub body_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// hyper's own header-count limit; set above [`crate::wire::MAX_HEADERS`] so that requests
/// between the two get our JSON 431 rather than hyper's empty one.
const HYPER_MAX_HEADERS: usize = 256;

/// Serves `router` on `listener` (plain TCP, or `roost_tls::TlsListener`) until `shutdown`
/// fires, then finishes in-flight requests.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_timeout,
    ));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(HYPER_MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse_busy(io, limits.max_connections));
            continue;
        };
        // hyper's header deadline starts only once the protocol is known, which takes the
        // first bytes; a connection that sends none is timed here.
        let first_request = Arc::new(Notify::new());
        let seen = Arc::clone(&first_request);
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                seen.notify_one();
                req.extensions_mut().insert(ConnectInfo(addr));
                req.map(Body::new)
            });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        let conn = graceful.watch(conn);
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let ended = tokio::select! {
                ended = conn.as_mut() => Some(ended),
                first = tokio::time::timeout(header_timeout, first_request.notified()) => {
                    match first {
                        Ok(()) => Some(conn.await),
                        Err(_) => None,
                    }
                }
            };
            if let Some(Err(e)) = ended {
                tracing::debug!(%addr, error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers a connection over the cap with a JSON 503 and closes it, without reading from it.
async fn refuse_busy<W: AsyncWrite + Unpin>(mut io: W, cap: usize) {
    let body = format!(
        "{{\"error\":\"this node has {cap} connections open, its limit\",\"code\":\"too_many_connections\",\"_help\":\"Retry shortly, reuse connections (keep-alive), or raise [http] max_connections.\"}}"
    );
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        io.write_all(reply.as_bytes()).await?;
        io.shutdown().await
    };
    // A client that does not read is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(5), write).await;
}
