//! The HTTP listener, for clients that misbehave. axum's own `serve` gives hyper no timer, so a
//! half-sent header, a stalled body or an idle keep-alive connection stayed open for good, and
//! it accepts without bound. Here every connection gets a header deadline (which also ends idle
//! keep-alive connections, since hyper starts it while waiting for the next request), request
//! bodies a deadline between chunks, and the number of open connections a cap; over the cap a
//! connection gets a JSON 503 and is closed. Requests hyper cannot parse get JSON answers too
//! ([`JsonParseErrors`]).

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
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
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

/// Serves `router` over plain TCP as [`serve`] does, each connection with `TCP_NODELAY` (as
/// `roost_tls::TlsListener` sets it): a reply leaves when it is written, not once the client
/// has acknowledged the previous one (Nagle's algorithm).
pub async fn serve_tcp(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    serve(listener, router, limits, shutdown).await
}

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
            .serve_connection_with_upgrades(
                TokioIo::new(JsonParseErrors::new(io)),
                TowerToHyperService::new(service),
            )
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

/// hyper answers a request it cannot parse (a bad request line or header, a URI or headers
/// past its limits) by itself, with an empty body and `connection: close`, before any handler
/// runs. This connection wrapper rewrites exactly that answer into the JSON error every other
/// answer has; everything else passes through untouched.
struct JsonParseErrors<IO> {
    io: IO,
    /// The JSON answer being written in place of hyper's, and how much of it is out.
    replacing: Option<(Vec<u8>, usize)>,
}

impl<IO> JsonParseErrors<IO> {
    fn new(io: IO) -> Self {
        JsonParseErrors {
            io,
            replacing: None,
        }
    }
}

/// The JSON answer for hyper's own error answer `head`, if `head` is one.
fn json_parse_error(head: &[u8]) -> Option<Vec<u8>> {
    const MARK: &[u8] = b"\r\nconnection: close\r\ncontent-length: 0\r\n";
    let rest = head.strip_prefix(b"HTTP/1.1 4")?;
    if !head.ends_with(b"\r\n\r\n") || !head.windows(MARK.len()).any(|w| w == MARK) {
        return None;
    }
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let status_line = std::str::from_utf8(&head[..line_end]).ok()?;
    let status = format!("4{}", std::str::from_utf8(rest.get(..2)?).ok()?);
    let (code, message) = match status.as_str() {
        "414" => ("uri_too_long", "the request URI is too long"),
        "431" => ("headers_too_large", "the request headers are too large"),
        _ => ("bad_request", "the request is not valid HTTP/1.1"),
    };
    let body = format!(
        "{{\"error\":\"{message}\",\"code\":\"{code}\",\"_help\":\"Send a well-formed HTTP/1.1 request: a method, a path of at most a few KiB, and headers of the form 'Name: value'.\"}}"
    );
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<IO: AsyncWrite + Unpin> JsonParseErrors<IO> {
    /// Writes the replacement answer; `buf_len` is what hyper is told was written.
    fn poll_replace(
        &mut self,
        cx: &mut Context<'_>,
        buf_len: usize,
    ) -> Poll<std::io::Result<usize>> {
        while let Some((bytes, done)) = &mut self.replacing {
            if *done == bytes.len() {
                self.replacing = None;
                return Poll::Ready(Ok(buf_len));
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(buf_len))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonParseErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.replacing.is_none() {
            self.replacing = json_parse_error(buf).map(|json| (json, 0));
        }
        if self.replacing.is_some() {
            return self.poll_replace(cx, buf.len());
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty());
        if self.replacing.is_none() {
            self.replacing = first
                .and_then(|b| json_parse_error(b))
                .map(|json| (json, 0));
        }
        if self.replacing.is_some() {
            return self.poll_replace(cx, first.map_or(0, |b| b.len()));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_error_answers_are_rewritten() {
        let hyper = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 17:56:10 GMT\r\n\r\n";
        let json = json_parse_error(hyper).expect("rewritten");
        let text = String::from_utf8(json).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["code"], "bad_request");
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n";
        assert!(json_parse_error(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(json_parse_error(ok).is_none());
    }
}
