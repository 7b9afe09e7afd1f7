//! The OpenAPI 3.1 document of the HTTP API, served at `/openapi.json`. The routes and their
//! `#[utoipa::path]` descriptions are registered together (`utoipa_axum::routes!`), so a route
//! cannot be served undocumented or documented unserved; what no handler can say for itself
//! (the error codes behind each status, the credentials, the CORS preflights) is added here
//! from the same tables the edge answers with.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use roost_api::ErrorCode;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, OpenApi as Document, Ref, RefOr, Required, ResponseBuilder, Schema,
};
use utoipa::{Modify, OpenApi};

use roost_api::views::ErrorView;

use crate::error;

/// A queue's key, for `/q/{id}/*` (the names of the credentials are those operations'
/// `security` lists).
pub const QUEUE_KEY: &str = "queue_key";
/// A workspace token (JWT), for jobs and work queues.
pub const WORKSPACE_TOKEN: &str = "workspace_token";
/// A form's key, for its submissions and binding.
pub const FORM_KEY: &str = "form_key";
/// The operator key, for `/admin`.
pub const OPERATOR_KEY: &str = "operator_key";
/// An account key (`X-Account-Key`), which claims the queue it is sent to.
pub const ACCOUNT_KEY: &str = "account_key";

/// The document's fixed parts; the paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roost",
        description = "A durable, Raft-replicated inbox for agents: queues (`/q`), forms, async jobs (`/jobs`) and work queues for teams (`/work-queues`). Every node answers every route. Every error is `{error, code, _help}` with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "queues", description = "Append-only queues with consumer cursors, a dead-letter queue and replay; the queue key (shown once at create) is the Bearer credential."),
        (name = "forms", description = "Public form submissions, readable with the form key, optionally mirrored into a queue."),
        (name = "jobs", description = "Async jobs: 202 and a status URL, workers claim, heartbeat, complete or fail them; a workspace token is the Bearer credential."),
        (name = "work queues", description = "Priority tasks (5 the most urgent) handed out with leases to a team's agents, with stealing; a workspace token is the Bearer credential."),
        (name = "accounts", description = "The operator's accounts and plans for publish quotas (off unless configured)."),
        (name = "cluster", description = "The operator's view and changes of the cluster's members, and online backups."),
        (name = "operations", description = "Health, readiness, the cluster's state, and this document: public."),
    ),
    components(schemas(ErrorView)),
    modifiers(&Credentials),
)]
struct Base;

/// The five credentials. Four travel as `Authorization: Bearer`; which one a route takes is
/// in its `security`.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, doc: &mut Document) {
        let bearer = |format: &str, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            QUEUE_KEY,
            bearer(
                "qk_<64 hex digits>",
                "The queue's key, returned once by POST /q/create.",
            ),
        );
        components.add_security_scheme(
            WORKSPACE_TOKEN,
            bearer(
                "JWT",
                "A workspace token (`roost token create`; a node writes its default one to `default-workspace.token` in its data dir).",
            ),
        );
        components.add_security_scheme(
            FORM_KEY,
            bearer(
                "fk_<64 hex digits>",
                "The form's key, returned once by POST /new.",
            ),
        );
        components.add_security_scheme(
            OPERATOR_KEY,
            bearer(
                "opaque",
                "The cluster's operator key (`[admin] operator_key` in the config).",
            ),
        );
        components.add_security_scheme(
            ACCOUNT_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Account-Key",
                "An account's key (POST /admin/accounts/{id}/keys). Sent with a queue's key, it claims the queue for the account's quota.",
            ))),
        );
    }
}

/// The refusals an operation can answer with, by kind of operation: each error status with the
/// error schema (`finish` names the codes behind each).
macro_rules! refusals {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),*];)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                [$($status),*].into_iter().map(|s: u16| (s.to_string(), refusal())).collect()
            }
        }
    )*};
}

refusals! {
    /// `/readyz` before every group has a leader.
    Unready = [503];
    /// `/metrics` when the node's values could not be read.
    ScrapeFailed = [500];
    /// A keyless create: bad input, too large, too many from one address, no leader.
    KeylessCreate = [400, 413, 429, 503];
    /// A read of a queue with its key (or a claim with an account key).
    QueueRead = [401, 404, 409, 503];
    /// A page of a queue: its query parameters too, and the waits of one address.
    QueuePage = [400, 401, 404, 409, 429, 503];
    /// A change of a queue: its body too, and refusals by the queue's state.
    QueueWrite = [400, 401, 404, 409, 413, 422, 503];
    /// A public form submission.
    FormSubmit = [400, 404, 413, 429, 503];
    /// A read of a form with its key.
    FormRead = [400, 401, 404, 503];
    /// A change of a form with its key.
    FormWrite = [400, 401, 404, 409, 413, 503];
    /// A read by the operator.
    OperatorRead = [400, 401, 404, 503];
    /// A change by the operator.
    OperatorWrite = [400, 401, 404, 409, 413, 503];
    /// A read in a workspace: a token that does not reach the team is 403.
    WorkspaceRead = [400, 401, 403, 404, 429, 503];
    /// A change in a workspace: its body too, and refusals by the state of the job or task.
    WorkspaceWrite = [400, 401, 403, 404, 409, 413, 422, 429, 503];
}

/// One refusal: the error schema; `finish` describes it.
fn refusal() -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description("Refused.")
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("Error"))),
            )
            .build(),
    )
}

/// The document's fixed parts, for the router to add the routes to.
pub fn base() -> Document {
    Base::openapi()
}

/// Completes the document the routes produced: each error status names the codes it stands
/// for, the error schema lists every code, and each per-queue path gets its CORS preflight.
pub fn finish(mut doc: Document) -> Document {
    let mut codes: BTreeMap<u16, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for &code in ErrorCode::ALL {
        codes
            .entry(error::status(code).as_u16())
            .or_default()
            .insert(code.as_str());
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        if path.starts_with("/q/{id}") {
            item.options = Some(preflight(path));
        }
        for op in operations(item) {
            for (status, response) in op.responses.responses.iter_mut() {
                let (Ok(status), RefOr::T(response)) = (status.parse::<u16>(), response) else {
                    continue;
                };
                // `metrics::LEADER_HEADER`, as the documentation writes it.
                response
                    .headers
                    .insert("Roost-Leader".into(), RefOr::T(leader_header()));
                if let Some(codes) = codes.get(&status).filter(|_| status >= 400) {
                    let list = codes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>();
                    response.description = format!(
                        "{} One of these codes (each route answers those that apply to it): {}.",
                        response.description,
                        list.join(", ")
                    );
                }
            }
        }
    }
    if let Some(RefOr::T(Schema::Object(error))) = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("Error"))
    {
        if let Some(RefOr::T(Schema::Object(code))) = error.properties.get_mut("code") {
            let mut all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
            all.sort_unstable();
            all.dedup();
            code.enum_values = Some(all.into_iter().map(Into::into).collect());
        }
    }
    doc
}

/// The header any reply may carry when this node forwarded the request.
fn leader_header() -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String)
                .pattern(Some("^[0-9]+$")),
        ))
        .description(Some(
            "Present when this node forwarded the request to the leader of the Raft group that \
             holds the resource: that leader's node id. A client that knows each node's URL \
             (`GET /cluster`) can send its next request for the resource there and save the hop.",
        ))
        .build()
}

/// Every operation of a path.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// `OPTIONS` on a per-queue path: the CORS preflight, granted when the queue allows the
/// request's `Origin`.
fn preflight(path: &str) -> Operation {
    let name = path
        .trim_start_matches("/q/{id}")
        .trim_start_matches('/')
        .replace('/', "_");
    let id = if name.is_empty() {
        "preflight_queue".to_owned()
    } else {
        format!("preflight_queue_{name}")
    };
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("Error"))),
            )
            .build()
    };
    OperationBuilder::new()
        .operation_id(Some(id))
        .tag("queues")
        .summary(Some("CORS preflight"))
        .description(Some(
            "Browsers send this themselves. Granted (204 with Access-Control-Allow-*) when the queue's allowed origins include the Origin.",
        ))
        .parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(utoipa::openapi::path::ParameterIn::Path)
                .required(Required::True)
                .description(Some("The queue's id."))
                .schema(Some(queue_id_schema())),
        )
        .parameter(
            ParameterBuilder::new()
                .name("Origin")
                .parameter_in(utoipa::openapi::path::ParameterIn::Header)
                .required(Required::True)
                .description(Some("The page's origin, e.g. https://app.example."))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String),
                )),
        )
        .response(
            "204",
            ResponseBuilder::new()
                .description("The preflight is granted.")
                .build(),
        )
        .response("400", error("`missing_origin`: no Origin header."))
        .response("403", error("`origin_not_allowed`: the queue does not allow this origin."))
        .response("404", error("`queue_not_found`: no such queue."))
        .response(
            "503",
            error("`unavailable`: the queue's shard has no leader right now; retry."),
        )
        .build()
}

/// The schema of a queue id: `q_`, two hex digits of shard, 14 random hex digits.
fn queue_id_schema() -> utoipa::openapi::ObjectBuilder {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .examples([serde_json::json!("q_01a3f9c2e4b6d8f0")])
}

/// The document as served, serialized once.
#[derive(Clone)]
pub struct Served(Bytes);

impl Served {
    /// `doc` as JSON.
    pub fn of(doc: &Document) -> Self {
        Served(Bytes::from(doc.to_json().unwrap_or_default()))
    }
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object),
        WorkspaceWrite,
    ),
)]
pub async fn document(Extension(Served(json)): Extension<Served>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    /// Every route of the API: a new one must be added here, and is then checked below.
    const ROUTES: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/cluster"),
        ("get", "/openapi.json"),
        ("get", "/llms.txt"),
        ("get", "/llms-full.txt"),
        ("get", "/metrics"),
        ("get", "/status"),
        ("get", "/status/status.js"),
        ("get", "/status/status.css"),
        ("get", "/status/cluster"),
        ("get", "/admin/status"),
        ("post", "/q/create"),
        ("get", "/q/{id}"),
        ("delete", "/q/{id}"),
        ("post", "/q/{id}/publish"),
        ("post", "/q/{id}/publish/batch"),
        ("get", "/q/{id}/pull"),
        ("post", "/q/{id}/ack"),
        ("get", "/q/{id}/consumers"),
        ("post", "/q/{id}/consumers"),
        ("post", "/q/{id}/nack"),
        ("get", "/q/{id}/dlq"),
        ("post", "/q/{id}/dlq/replay"),
        ("post", "/q/{id}/origins"),
        ("post", "/new"),
        ("post", "/f/{id}"),
        ("put", "/api/forms/{id}"),
        ("get", "/api/forms/{id}/submissions"),
        ("post", "/admin/accounts"),
        ("get", "/admin/accounts/{id}"),
        ("post", "/admin/accounts/{id}/keys"),
        ("put", "/admin/accounts/{id}/plan"),
        ("get", "/admin/cluster/nodes"),
        ("post", "/admin/cluster/nodes"),
        ("delete", "/admin/cluster/nodes/{id}"),
        ("get", "/admin/cluster/nodes/{id}/quorum-critical"),
        ("post", "/admin/backups"),
        ("delete", "/admin/backups/{id}"),
        ("get", "/admin/backups/{id}/files/{name}"),
        ("post", "/jobs"),
        ("get", "/jobs"),
        ("post", "/jobs/claim"),
        ("get", "/jobs/{id}"),
        ("delete", "/jobs/{id}"),
        ("get", "/jobs/{id}/events"),
        ("get", "/jobs/{id}/wait"),
        ("post", "/jobs/{id}/heartbeat"),
        ("post", "/jobs/{id}/complete"),
        ("post", "/jobs/{id}/fail"),
        ("post", "/jobs/{id}/retry"),
        ("post", "/work-queues"),
        ("get", "/work-queues"),
        ("get", "/work-queues/{id}"),
        ("delete", "/work-queues/{id}"),
        ("post", "/work-queues/{id}/tasks"),
        ("get", "/work-queues/{id}/tasks"),
        ("post", "/work-queues/{id}/dequeue"),
        ("post", "/work-queues/{id}/steal"),
        ("post", "/work-queue-tasks/{id}/complete"),
        ("post", "/work-queue-tasks/{id}/fail"),
        ("post", "/work-queue-tasks/{id}/heartbeat"),
    ];

    /// Operations anyone may call.
    const PUBLIC: &[&str] = &[
        "healthz",
        "readyz",
        "cluster_status",
        "openapi",
        "llms_txt",
        "llms_full_txt",
        "status_page",
        "status_script",
        "status_style",
        "status_cluster",
        "metrics",
        "create_queue",
        "create_form",
        "submit_form",
    ];

    /// Operations that cannot be refused (they read nothing that may be missing).
    const NO_REFUSALS: &[&str] = &[
        "healthz",
        "openapi",
        "cluster_status",
        "llms_txt",
        "llms_full_txt",
        "status_page",
        "status_script",
        "status_style",
        "status_cluster",
    ];

    fn document() -> Value {
        let (_, doc) = crate::documented();
        serde_json::to_value(&doc).unwrap_or_default()
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc = document();
        assert!(doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")));
        let mut served = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                served.insert((method.clone(), path.clone()));
            }
        }
        let mut expected: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        // Each per-queue path answers CORS preflights too.
        for (_, path) in ROUTES.iter().filter(|(_, p)| p.starts_with("/q/{id}")) {
            expected.insert(("options".into(), path.to_string()));
        }
        assert_eq!(served, expected);
        for scheme in [
            super::QUEUE_KEY,
            super::WORKSPACE_TOKEN,
            super::FORM_KEY,
            super::OPERATOR_KEY,
            super::ACCOUNT_KEY,
        ] {
            assert!(
                doc["components"]["securitySchemes"][scheme].is_object(),
                "{scheme}"
            );
        }
    }

    #[test]
    fn every_operation_is_named_tagged_secured_and_lists_its_errors() {
        let doc = document();
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let at = format!("{method} {path}");
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty() && ids.insert(id.to_owned()), "{at}: {id:?}");
                assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{at}");
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                let public = PUBLIC.contains(&id) || method == "options";
                assert_eq!(secured, !public, "{at}");
                let responses = op["responses"].as_object().into_iter().flatten();
                let mut errors = 0;
                for (status, response) in responses {
                    // A forwarded request's reply names the leader, whatever the route.
                    assert!(
                        response["headers"]["Roost-Leader"]["schema"]["pattern"].is_string(),
                        "{at} {status}: Roost-Leader"
                    );
                    if status.starts_with('4') || status.starts_with('5') {
                        errors += 1;
                        // Over quota answers seed 003's body: the error's fields and the quota's.
                        let schema = if status == "402" {
                            "#/components/schemas/Framed_OverQuota"
                        } else {
                            "#/components/schemas/Error"
                        };
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"], schema,
                            "{at} {status}"
                        );
                        assert!(
                            response["description"]
                                .as_str()
                                .is_some_and(|d| d.contains('`')),
                            "{at} {status}: the codes behind it"
                        );
                    }
                }
                let statuses = op["responses"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect::<BTreeSet<_>>())
                    .unwrap_or_default();
                if secured {
                    assert!(statuses.contains("401"), "{at}: {statuses:?}");
                }
                if op["requestBody"].is_object() && !at.ends_with("/f/{id}") {
                    for status in ["400", "413"] {
                        assert!(statuses.contains(status), "{at}: {statuses:?}");
                    }
                }
                assert!(errors > 0 || NO_REFUSALS.contains(&id), "{at}");
            }
        }
    }

    #[test]
    fn the_error_schema_lists_every_code() {
        let doc = document();
        let codes = &doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"];
        for code in roost_api::ErrorCode::ALL {
            assert!(
                codes
                    .as_array()
                    .is_some_and(|c| c.contains(&Value::from(code.as_str()))),
                "{code}"
            );
        }
    }
}
