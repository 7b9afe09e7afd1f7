//! Refused credentials over gRPC (`UNAUTHENTICATED`, `PERMISSION_DENIED`) are reported to the
//! node's rate-limited warnings, as the HTTP edge does. Refusals happen before any reply
//! message, so their status travels in the response headers, where this layer sees it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use roost_node::Node;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

/// Wraps a service so refused calls are reported.
#[derive(Clone)]
pub struct LogRefused<S> {
    inner: S,
    node: Arc<Node>,
}

impl<S> LogRefused<S> {
    /// Reports the refused calls of `inner` to `node`.
    pub fn new(inner: S, node: Arc<Node>) -> Self {
        LogRefused { inner, node }
    }
}

/// `grpc-status` codes of refused credentials.
const UNAUTHENTICATED: &[u8] = b"16";
const PERMISSION_DENIED: &[u8] = b"7";

impl<S, B, R> tower::Service<http::Request<B>> for LogRefused<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let ext = req.extensions();
        let from = ext
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .or_else(|| {
                ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(|i| i.get_ref().remote_addr())
            })
            .map(|a| a.ip());
        let route = req.uri().path().to_owned();
        let node = Arc::clone(&self.node);
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            if let Some(status) = resp.headers().get("grpc-status") {
                let status = status.as_bytes();
                if status == UNAUTHENTICATED || status == PERMISSION_DENIED {
                    let status = String::from_utf8_lossy(status);
                    node.refusals().note(from, &route, &status);
                }
            }
            Ok(resp)
        })
    }
}
