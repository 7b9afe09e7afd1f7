//! A Rust client for Roost: one typed async method per operation of the HTTP API (queues,
//! jobs, work queues), and the client gRPC API's publish stream for bulk publishing.
//!
//! Replies are `roost-wire`'s types, the very definitions the server's JSON follows, so a
//! reply written back with `serde_json` is the JSON the server sent, stored documents byte
//! for byte. Credentials go with each call: the queue's key for queue calls, a workspace
//! token for jobs and work queues. Depends on neither openraft nor RocksDB.

mod error;
mod jobs;
mod queues;
mod stream;
mod work;

pub use error::Error;
pub use queues::Publish;
pub use roost_wire as wire;
pub use stream::{pb, publish_stream, StreamPublish, StreamRefusal, StreamStored};

use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

/// The longest a call may take: longer than the longest long poll (30 s) and job wait.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A client of one node's HTTP API (any node answers any call). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
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
        Ok(Client { http, base })
    }

    /// The node's URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// A request to the path made of `segments` (each escaped), with `credential` as Bearer.
    fn request(
        &self,
        method: Method,
        segments: &[&str],
        credential: Option<&str>,
    ) -> RequestBuilder {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let req = self.http.request(method, url);
        match credential {
            Some(c) => req.bearer_auth(c),
            None => req,
        }
    }

    /// Sends `req` and reads the reply as `T`; an error status is the server's error.
    async fn call<T: DeserializeOwned>(req: RequestBuilder) -> Result<T, Error> {
        Self::send(req).await?.decode()
    }

    /// Sends `req`: a successful answer, or the server's error.
    async fn send(req: RequestBuilder) -> Result<Answer, Error> {
        let resp = req.send().await?;
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

/// `value` as a JSON request body; a value JSON cannot carry is the caller's error.
fn json<T: serde::Serialize>(req: RequestBuilder, value: &T) -> Result<RequestBuilder, Error> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Request(e.to_string()))?;
    Ok(req.header(CONTENT_TYPE, "application/json").body(body))
}
