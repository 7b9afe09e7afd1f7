//! What the edge does with every call's outcome, in one layer: each call is recorded in the
//! node's metrics (latency by method and status code), refused credentials
//! (`UNAUTHENTICATED`, `PERMISSION_DENIED`) are reported to the node's rate-limited warnings,
//! and a call this node forwarded to another node's leader names that leader in the
//! `roost-leader` header, all as the HTTP edge does. (A stream's publishes run in a task of
//! their own, outside the call, so streams carry no hint.)
//!
//! A unary call's failure travels in the response headers (a trailers-only response), so the
//! headers say how it ended; a reply whose headers carry no status is counted as `0` (OK),
//! and for streams the latency ends when the headers are sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use roost_node::{noting_forwards, Edge, Node};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

/// Wraps a service so its calls are recorded and refused ones reported.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    node: Arc<Node>,
}

impl<S> Observe<S> {
    /// Records the calls of `inner` in `node`'s metrics and reports its refusals to `node`.
    pub fn new(inner: S, node: Arc<Node>) -> Self {
        Observe { inner, node }
    }
}

/// Names, on a reply to a call this node forwarded, the leader it went to.
const LEADER_HEADER: http::HeaderName = http::HeaderName::from_static(roost_api::LEADER_HEADER);

/// `grpc-status` codes of refused credentials.
const UNAUTHENTICATED: &str = "16";
const PERMISSION_DENIED: &str = "7";
/// `grpc-status` of a call to a method no service has.
const UNIMPLEMENTED: &str = "12";

impl<S, B, R> tower::Service<http::Request<B>> for Observe<S>
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
        let started = Instant::now();
        let ext = req.extensions();
        let from = ext
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .or_else(|| {
                ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(|i| i.get_ref().remote_addr())
            })
            .map(|a| a.ip());
        // `/roost.client.v1.Queues/Publish` names the service and the method.
        let route = req.uri().path().to_owned();
        let node = Arc::clone(&self.node);
        let answer = self.inner.call(req);
        Box::pin(async move {
            let (resp, forwards) = noting_forwards(answer).await;
            let mut resp = resp?;
            if let Some(leader) = forwards.leader {
                resp.headers_mut()
                    .insert(LEADER_HEADER, http::HeaderValue::from(leader));
            }
            let status = resp
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("0");
            if status == UNAUTHENTICATED || status == PERMISSION_DENIED {
                node.refusals().note(from, &route, status);
            }
            // A path no service serves is the caller's to choose: never a label.
            let method = if status == UNIMPLEMENTED {
                "unknown"
            } else {
                route.rsplit_once('.').map_or(route.as_str(), |(_, m)| m)
            };
            node.metrics()
                .request(Edge::Grpc, method, status, started.elapsed());
            Ok(resp)
        })
    }
}
