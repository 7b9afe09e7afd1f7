//! The cluster's members under `/admin/cluster`, and backups under `/admin/backups` (operator
//! key as Bearer). Each handler parses, calls `roost_api::Api` and renders.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_api::{ErrorCode, NewNode};
use roost_state::{Member, Roster};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::bearer_token;
use crate::openapi::{OperatorRead, OperatorWrite};
use crate::{body, ApiError, AppState};

/// The `/admin/cluster` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nodes, add_node))
        .routes(routes!(remove_node))
        .routes(routes!(quorum_critical))
        .routes(routes!(take_backup))
        .routes(routes!(delete_backup))
        .routes(routes!(backup_file))
}

/// One member as the operator sees it.
#[derive(Serialize, ToSchema)]
struct MemberView<'a> {
    /// Its node id.
    id: u64,
    /// Where its peers reach it.
    peer_addr: &'a str,
    /// Where clients reach it.
    http_addr: &'a str,
    /// Whether it answered just now.
    live: bool,
    /// Whether a data dir has started under this id yet.
    started: bool,
    /// Groups it votes in, and groups it receives the log of without voting.
    voter_in: Vec<u32>,
    learner_in: Vec<u32>,
    /// The most entries it is behind any group's leader (`None`: unknown).
    max_lag: Option<u64>,
}

/// One Raft group's membership as its leader reports it.
#[derive(Serialize, ToSchema)]
struct GroupView {
    /// The group (0: metadata).
    group: u32,
    /// Its leader, if known.
    leader: Option<u64>,
    /// Its voters.
    voters: Vec<u64>,
    /// Its learners.
    learners: Vec<u64>,
    /// Entries each member is behind the leader, by node id (`null`: unknown).
    #[schema(value_type = BTreeMap<String, Option<u64>>)]
    lag: BTreeMap<u64, Option<u64>>,
}

/// The cluster's members.
#[derive(Serialize, ToSchema)]
struct RosterView<'a> {
    /// Every member.
    members: Vec<MemberView<'a>>,
    /// Ids removed for good (never reused).
    #[schema(value_type = Vec<u64>)]
    removed: &'a BTreeSet<u64>,
    /// Each group's membership (the live view only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<GroupView>,
    /// What to do next.
    #[serde(rename = "_help", skip_serializing_if = "Option::is_none")]
    help: Option<&'static str>,
}

impl<'a> MemberView<'a> {
    /// What the roster says of member `id`, nothing of its live state.
    fn of(id: u64, m: &'a Member) -> Self {
        MemberView {
            id,
            peer_addr: &m.peer_addr,
            http_addr: &m.http_addr,
            live: false,
            started: m.incarnation.is_some(),
            voter_in: Vec::new(),
            learner_in: Vec::new(),
            max_lag: None,
        }
    }
}

/// The roster alone (after a change), without the live view.
fn roster_view<'a>(roster: &'a Roster, help: &'static str) -> RosterView<'a> {
    let members = roster
        .members
        .iter()
        .map(|(id, m)| MemberView::of(*id, m))
        .collect();
    RosterView {
        members,
        removed: &roster.removed,
        groups: Vec::new(),
        help: Some(help),
    }
}

/// The members: the roster, who answers, and each group's voters, learners and lag.
#[utoipa::path(
    get,
    path = "/admin/cluster/nodes",
    operation_id = "list_nodes",
    tag = "cluster",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The members.", body = RosterView),
        OperatorRead,
    ),
)]
async fn nodes(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let view = s.api.cluster_nodes(bearer_token(&headers)).await?;
    let in_groups = |id: u64, learners: bool| -> Vec<u32> {
        view.groups
            .iter()
            .filter(|g| if learners { &g.learners } else { &g.voters }.contains(&id))
            .map(|g| g.group)
            .collect()
    };
    let members = view
        .roster
        .members
        .iter()
        .map(|(id, m)| MemberView {
            live: view.live.contains(id),
            voter_in: in_groups(*id, false),
            learner_in: in_groups(*id, true),
            max_lag: view
                .groups
                .iter()
                .filter_map(|g| g.lag.get(id))
                .try_fold(0, |most: u64, lag| lag.map(|l| most.max(l))),
            ..MemberView::of(*id, m)
        })
        .collect();
    let groups = view
        .groups
        .iter()
        .map(|g| GroupView {
            group: g.group,
            leader: g.leader,
            voters: g.voters.clone(),
            learners: g.learners.clone(),
            lag: g.lag.clone(),
        })
        .collect();
    Ok(Json(RosterView {
        members,
        removed: &view.roster.removed,
        groups,
        help: None,
    })
    .into_response())
}

/// Body of `POST /admin/cluster/nodes`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": 4, "peer_addr": "10.0.0.4:7170", "http_addr": "10.0.0.4:7070"}))]
struct AddBody {
    /// A new node id (never one used before).
    #[serde(deserialize_with = "roost_wire::whole::one")]
    #[schema(minimum = 1, maximum = 18446744073709551615_f64)]
    id: u64,
    /// Where its peers will reach it, `host:port`.
    peer_addr: String,
    /// Where clients will reach it, `host:port`.
    http_addr: String,
}

/// Adds a member: every group takes it in as a learner, then as a voter once caught up.
#[utoipa::path(
    post,
    path = "/admin/cluster/nodes",
    operation_id = "add_node",
    tag = "cluster",
    security(("operator_key" = [])),
    request_body = AddBody,
    responses(
        (status = 201, description = "The roster now.", body = RosterView),
        OperatorWrite,
    ),
)]
async fn add_node(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The key first, so a caller without it learns nothing from how its body is refused.
    s.api.operator(bearer_token(&headers))?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: AddBody = body::json(&bytes)?;
    let node = NewNode {
        id: req.id,
        peer_addr: req.peer_addr,
        http_addr: req.http_addr,
    };
    let roster = s.api.add_node(bearer_token(&headers), node).await?;
    let help = "Node added. Start it (if it is not running) with --join <any member's HTTP address>; every group takes it in as a learner, then as a voter once it caught up. GET /admin/cluster/nodes shows the progress.";
    Ok((StatusCode::CREATED, Json(roster_view(&roster, help))).into_response())
}

/// Query string of `DELETE /admin/cluster/nodes/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RemoveParams {
    /// Remove even when a group would be left without a quorum of live voters.
    #[param(value_type = Option<bool>)]
    force: Option<String>,
}

/// Removes a member for good: its id can never be used again.
#[utoipa::path(
    delete,
    path = "/admin/cluster/nodes/{id}",
    operation_id = "remove_node",
    tag = "cluster",
    params(("id" = u64, Path, minimum = 1, description = "The node's id."), RemoveParams),
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The roster now.", body = RosterView),
        OperatorWrite,
    ),
)]
async fn remove_node(
    State(s): State<AppState>,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<RemoveParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.api.operator(bearer_token(&headers))?;
    let id = node_id(&id)?;
    let force = match p.force.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                format!("force: {other:?} is not true or false"),
                "Send ?force=true to remove a node even when a group would be left without a quorum of live voters.",
            ))
        }
    };
    let roster = s.api.remove_node(bearer_token(&headers), id, force).await?;
    let help = "Node removed for good: its id can never be used again. Every group drops it from its voters; stop its process once GET /admin/cluster/nodes no longer lists it in any group.";
    Ok(Json(roster_view(&roster, help)).into_response())
}

/// Whether a member's loss would leave a group without a quorum.
#[derive(Serialize, ToSchema)]
struct Critical {
    /// The member.
    node: u64,
    /// Whether stopping it now would leave some group without a quorum of live voters.
    quorum_critical: bool,
    /// Those groups.
    groups: Vec<u32>,
}

/// Whether stopping a member now would cost some group its quorum.
#[utoipa::path(
    get,
    path = "/admin/cluster/nodes/{id}/quorum-critical",
    operation_id = "quorum_critical",
    tag = "cluster",
    params(("id" = u64, Path, minimum = 1, description = "The node's id.")),
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The answer, with the groups at risk.", body = Critical),
        OperatorRead,
    ),
)]
async fn quorum_critical(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.api.operator(bearer_token(&headers))?;
    let check = s
        .api
        .quorum_critical(bearer_token(&headers), node_id(&id)?)
        .await?;
    Ok(Json(Critical {
        node: check.node,
        quorum_critical: !check.groups.is_empty(),
        groups: check.groups,
    })
    .into_response())
}

fn node_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidField,
            format!("{raw:?} is not a node id"),
            "Name the node by its positive numeric id, as GET /admin/cluster/nodes lists it.",
        )
    })
}

/// A backup just taken.
#[derive(Serialize, ToSchema)]
struct Taken<'a> {
    /// The backup.
    id: &'a str,
    /// Its files with their sizes and SHA-256s, and the groups' positions.
    #[schema(value_type = Object)]
    manifest: &'a roost_node::backup::Manifest,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'static str,
}

/// Takes a consistent online backup of the whole cluster, kept on this node until deleted.
#[utoipa::path(
    post,
    path = "/admin/backups",
    operation_id = "take_backup",
    tag = "cluster",
    security(("operator_key" = [])),
    responses(
        (status = 201, description = "The backup and its manifest.", body = Taken),
        OperatorWrite,
    ),
)]
async fn take_backup(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let taken = s.api.take_backup(bearer_token(&headers)).await?;
    let body = Taken {
        id: &taken.id,
        manifest: &taken.manifest,
        help: "Download each file of manifest.files from /admin/backups/{id}/files/{name} (and manifest.json), check each SHA-256, then DELETE /admin/backups/{id}. `roost admin backup --out DIR` does all of it.",
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Bytes read per chunk of a streamed backup file.
const CHUNK: usize = 1 << 20;

/// One file of a backup, as bytes.
#[utoipa::path(
    get,
    path = "/admin/backups/{id}/files/{name}",
    operation_id = "get_backup_file",
    tag = "cluster",
    params(("id" = String, Path, description = "The backup's id."), ("name" = String, Path, description = "A file the manifest lists, or `manifest.json`.")),
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The file.", content_type = "application/octet-stream", body = Vec<u8>),
        OperatorRead,
    ),
)]
async fn backup_file(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = s.api.backup_file(bearer_token(&headers), &id, &name)?;
    let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiError::new(
            ErrorCode::BackupNotFound,
            format!("backup {id} file {name}: {e}"),
            "Backups live on the node that took them until they are deleted.",
        )
    })?;
    // Streamed in chunks: table files run to tens of megabytes.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(2);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        loop {
            let mut buf = vec![0; CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    Ok(resp)
}

/// `{"deleted": id}`.
#[derive(Serialize, ToSchema)]
struct BackupDeleted<'a> {
    /// The backup deleted.
    deleted: &'a str,
}

/// Deletes a backup from this node.
#[utoipa::path(
    delete,
    path = "/admin/backups/{id}",
    operation_id = "delete_backup",
    tag = "cluster",
    params(("id" = String, Path, description = "The backup's id.")),
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "Deleted.", body = BackupDeleted),
        OperatorWrite,
    ),
)]
async fn delete_backup(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.api.delete_backup(bearer_token(&headers), &id)?;
    Ok(Json(BackupDeleted { deleted: &id }).into_response())
}
