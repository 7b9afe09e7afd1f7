//! A Rust client for Roost: one typed async method per operation of the HTTP API (queues,
//! jobs, work queues), and the client gRPC API's publish stream for bulk publishing.
//!
//! Replies are `roost-wire`'s types, the very definitions the server's JSON follows, so a
//! reply written back with `serde_json` is the JSON the server sent, stored documents byte
//! for byte. Credentials go with each call: the queue's key for queue calls, a workspace
//! token for jobs and work queues. Depends on neither openraft nor RocksDB.
//!
//! [`Client::new`] talks to one node, which forwards what it does not lead;
//! [`Client::cluster`] knows every node and sends each request to the leader a forwarded
//! reply named for its queue or workspace (see `routes`).

mod error;
mod jobs;
mod queues;
mod routes;
mod stream;
mod work;

pub use error::Error;
pub use queues::Publish;
pub use roost_wire as wire;
pub use stream::{pb, publish_stream, StreamPublish, StreamRefusal, StreamStored};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use roost_wire::LEADER_HEADER;
use routes::Routes;

/// The longest a call may take: longer than the longest long poll (30 s) and job wait.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A client of a node's HTTP API (any node answers any call), or of every node of a cluster,
/// leader-aware. Cheap to clone; clones share what they learned of the leaders.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// With [`Client::cluster`]: the nodes, and the leaders replies named.
    routes: Option<Arc<Routes>>,
}

/// The part of `GET /cluster` a leader-aware client needs.
#[derive(Deserialize)]
struct NodeId {
    node_id: u64,
}

impl Client {
    /// A client of the node at `base_url` (e.g. `http://127.0.0.1:7070`).
    pub fn new(base_url: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build()?;
        Self::with_http(base_url, http)
    }

    /// A client over `http`, for callers that set their own timeouts or connection pool.
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Result<Self, Error> {
        let bad = |why: &str| Error::Url {
            url: base_url.to_owned(),
            why: why.to_owned(),
        };
        let base = Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(bad("expected an http(s) URL"));
        }
        Ok(Client {
            http,
            base,
            routes: None,
        })
    }

    /// A leader-aware client of the cluster whose nodes are at `urls`: it asks each node its
    /// id (`GET /cluster`) and goes on as [`Client::with_nodes`] over those that answered;
    /// none answering is an error.
    pub async fn cluster(urls: &[String]) -> Result<Self, Error> {
        let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build()?;
        let mut nodes = Vec::new();
        let mut failure = no_nodes();
        for url in urls {
            let node = Self::with_http(url, http.clone())?;
            match node
                .call::<NodeId>(node.request(Method::GET, &["cluster"], None))
                .await
            {
                Ok(id) => nodes.push((id.node_id, url.clone())),
                Err(e) => failure = e,
            }
        }
        if nodes.is_empty() {
            return Err(failure);
        }
        Self::with_nodes(&nodes, http)
    }

    /// A leader-aware client of the nodes given as `(node id, URL)`, over `http`: requests go
    /// to the first node until a forwarded reply names the leader of a request's queue or
    /// workspace; the next requests about it go there.
    pub fn with_nodes(nodes: &[(u64, String)], http: reqwest::Client) -> Result<Self, Error> {
        let Some((_, first)) = nodes.first() else {
            return Err(no_nodes());
        };
        let mut client = Self::with_http(first, http)?;
        let mut urls = HashMap::new();
        for (id, url) in nodes {
            urls.insert(*id, Self::with_http(url, client.http.clone())?.base);
        }
        client.routes = Some(Arc::new(Routes::new(urls)));
        Ok(client)
    }

    /// A client of the one node at `urls`, or a leader-aware one ([`Client::cluster`]) of the
    /// several: what the command-line tools build from their `--url` list.
    pub async fn of_nodes(urls: &[String]) -> Result<Self, Error> {
        match urls {
            [url] => Self::new(url),
            urls => Self::cluster(urls).await,
        }
    }

    /// The node's URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// A request to the path made of `segments` (each escaped), with `credential` as Bearer,
    /// to the node leading what it is about when this client knows it.
    fn request(&self, method: Method, segments: &[&str], credential: Option<&str>) -> Req {
        let (about, leader) = match &self.routes {
            Some(routes) => {
                let about = routes::about(segments, credential);
                let leader = about.as_deref().and_then(|a| routes.leader(a));
                (about, leader)
            }
            None => (None, None),
        };
        let mut url = leader.unwrap_or_else(|| self.base.clone());
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let req = self.http.request(method, url);
        let builder = match credential {
            Some(c) => req.bearer_auth(c),
            None => req,
        };
        Req { builder, about }
    }

    /// Sends `req` and reads the reply as `T`; an error status is the server's error.
    async fn call<T: DeserializeOwned>(&self, req: Req) -> Result<T, Error> {
        self.send(req).await?.decode()
    }

    /// Sends `req`: a successful answer, or the server's error. Notes the leader a forwarded
    /// reply names, and forgets one that did not answer.
    async fn send(&self, req: Req) -> Result<Answer, Error> {
        let routed = self.routes.as_deref().zip(req.about.as_deref());
        let resp = match req.builder.send().await {
            Ok(resp) => resp,
            Err(e) => {
                if let Some((routes, about)) = routed {
                    routes.forget(about);
                }
                return Err(e.into());
            }
        };
        if let Some((routes, about)) = routed {
            if let Some(hint) = resp.headers().get(LEADER_HEADER) {
                routes.learn(about, hint.to_str().unwrap_or_default());
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            return Ok(Answer {
                status,
                headers,
                bytes,
            });
        }
        Err(match serde_json::from_slice(&bytes) {
            Ok(body) => Error::Api {
                status: status.as_u16(),
                body,
            },
            Err(_) => Error::Unexpected {
                status: status.as_u16(),
                detail: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            },
        })
    }
}

/// A successful answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    bytes: bytes::Bytes,
}

impl Answer {
    /// The body as `T`.
    fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.bytes).map_err(|e| Error::Unexpected {
            status: self.status.as_u16(),
            detail: format!("not the expected reply: {e}"),
        })
    }
}

/// A request about to be sent, and what it is about (for leader-aware routing).
struct Req {
    builder: RequestBuilder,
    about: Option<String>,
}

impl Req {
    /// With `query` as the URL's query string.
    fn query<T: Serialize + ?Sized>(self, query: &T) -> Req {
        Req {
            builder: self.builder.query(query),
            ..self
        }
    }

    /// With the header `name: value`.
    fn header(self, name: &'static str, value: &str) -> Req {
        Req {
            builder: self.builder.header(name, value),
            ..self
        }
    }
}

/// A leader-aware client given no node.
fn no_nodes() -> Error {
    Error::Url {
        url: String::new(),
        why: "no node URL given".to_owned(),
    }
}

/// `value` as a JSON request body; a value JSON cannot carry is the caller's error.
fn json<T: Serialize>(req: Req, value: &T) -> Result<Req, Error> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Request(e.to_string()))?;
    Ok(Req {
        builder: req
            .builder
            .header(CONTENT_TYPE, "application/json")
            .body(body),
        ..req
    })
}
