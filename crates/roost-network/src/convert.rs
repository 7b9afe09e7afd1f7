//! openraft ⇄ protobuf conversions. Decoding treats every field as untrusted input.

use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, VoteRequest, VoteResponse,
};
use openraft::{CommittedLeaderId, EntryPayload};
use roost_types::{Entry, LogId, NodeId, SnapshotMeta, TypeConfig, Vote};
use serde::{de::DeserializeOwned, Serialize};

use crate::pb;

/// A field was missing or did not decode.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Malformed> {
    postcard::to_stdvec(value).map_err(|e| Malformed(format!("encode: {e}")))
}

pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Malformed> {
    postcard::from_bytes(bytes).map_err(|e| Malformed(format!("{what}: {e}")))
}

fn required<T>(what: &str, v: Option<T>) -> Result<T, Malformed> {
    v.ok_or_else(|| Malformed(format!("missing {what}")))
}

pub fn log_id_to_pb(l: &LogId) -> pb::LogId {
    pb::LogId {
        term: l.leader_id.term,
        node_id: l.leader_id.node_id,
        index: l.index,
    }
}

pub fn log_id_from_pb(l: &pb::LogId) -> LogId {
    LogId::new(CommittedLeaderId::new(l.term, l.node_id), l.index)
}

pub fn vote_to_pb(v: &Vote) -> pb::Vote {
    pb::Vote {
        term: v.leader_id.term,
        node_id: v.leader_id.node_id,
        committed: v.committed,
    }
}

pub fn vote_from_pb(v: Option<&pb::Vote>) -> Result<Vote, Malformed> {
    let v = required("vote", v)?;
    Ok(if v.committed {
        Vote::new_committed(v.term, v.node_id)
    } else {
        Vote::new(v.term, v.node_id)
    })
}

pub fn append_to_pb(
    group: u32,
    r: &AppendEntriesRequest<TypeConfig>,
) -> Result<pb::AppendEntriesRequest, Malformed> {
    let entries = r
        .entries
        .iter()
        .map(|e| {
            Ok(pb::Entry {
                log_id: Some(log_id_to_pb(&e.log_id)),
                payload: encode(&e.payload)?,
            })
        })
        .collect::<Result<_, Malformed>>()?;
    Ok(pb::AppendEntriesRequest {
        group,
        vote: Some(vote_to_pb(&r.vote)),
        prev_log_id: r.prev_log_id.as_ref().map(log_id_to_pb),
        entries,
        leader_commit: r.leader_commit.as_ref().map(log_id_to_pb),
    })
}

pub fn append_from_pb(
    r: &pb::AppendEntriesRequest,
) -> Result<AppendEntriesRequest<TypeConfig>, Malformed> {
    let entries = r
        .entries
        .iter()
        .map(|e| {
            let payload: EntryPayload<TypeConfig> = decode("entry payload", &e.payload)?;
            Ok(Entry {
                log_id: log_id_from_pb(required("entry log id", e.log_id.as_ref())?),
                payload,
            })
        })
        .collect::<Result<_, Malformed>>()?;
    Ok(AppendEntriesRequest {
        vote: vote_from_pb(r.vote.as_ref())?,
        prev_log_id: r.prev_log_id.as_ref().map(log_id_from_pb),
        entries,
        leader_commit: r.leader_commit.as_ref().map(log_id_from_pb),
    })
}

pub fn append_reply_to_pb(r: &AppendEntriesResponse<NodeId>) -> pb::AppendEntriesReply {
    use pb::append_entries_reply::Result as R;
    let result = match r {
        AppendEntriesResponse::Success => R::Success(pb::Empty {}),
        AppendEntriesResponse::PartialSuccess(m) => R::PartialSuccess(pb::PartialSuccess {
            matching: m.as_ref().map(log_id_to_pb),
        }),
        AppendEntriesResponse::Conflict => R::Conflict(pb::Empty {}),
        AppendEntriesResponse::HigherVote(v) => R::HigherVote(vote_to_pb(v)),
    };
    pb::AppendEntriesReply {
        result: Some(result),
    }
}

pub fn append_reply_from_pb(
    r: &pb::AppendEntriesReply,
) -> Result<AppendEntriesResponse<NodeId>, Malformed> {
    use pb::append_entries_reply::Result as R;
    Ok(match required("append result", r.result.as_ref())? {
        R::Success(_) => AppendEntriesResponse::Success,
        R::PartialSuccess(p) => {
            AppendEntriesResponse::PartialSuccess(p.matching.as_ref().map(log_id_from_pb))
        }
        R::Conflict(_) => AppendEntriesResponse::Conflict,
        R::HigherVote(v) => AppendEntriesResponse::HigherVote(vote_from_pb(Some(v))?),
    })
}

pub fn vote_req_to_pb(group: u32, r: &VoteRequest<NodeId>) -> pb::VoteRequest {
    pb::VoteRequest {
        group,
        vote: Some(vote_to_pb(&r.vote)),
        last_log_id: r.last_log_id.as_ref().map(log_id_to_pb),
    }
}

pub fn vote_req_from_pb(r: &pb::VoteRequest) -> Result<VoteRequest<NodeId>, Malformed> {
    Ok(VoteRequest {
        vote: vote_from_pb(r.vote.as_ref())?,
        last_log_id: r.last_log_id.as_ref().map(log_id_from_pb),
    })
}

pub fn vote_reply_to_pb(r: &VoteResponse<NodeId>) -> pb::VoteReply {
    pb::VoteReply {
        vote: Some(vote_to_pb(&r.vote)),
        vote_granted: r.vote_granted,
        last_log_id: r.last_log_id.as_ref().map(log_id_to_pb),
    }
}

pub fn vote_reply_from_pb(r: &pb::VoteReply) -> Result<VoteResponse<NodeId>, Malformed> {
    Ok(VoteResponse {
        vote: vote_from_pb(r.vote.as_ref())?,
        vote_granted: r.vote_granted,
        last_log_id: r.last_log_id.as_ref().map(log_id_from_pb),
    })
}

pub fn snapshot_to_pb(
    group: u32,
    r: &InstallSnapshotRequest<TypeConfig>,
) -> Result<pb::InstallSnapshotRequest, Malformed> {
    Ok(pb::InstallSnapshotRequest {
        group,
        vote: Some(vote_to_pb(&r.vote)),
        meta: encode(&r.meta)?,
        offset: r.offset,
        data: r.data.clone(),
        done: r.done,
    })
}

pub fn snapshot_from_pb(
    r: pb::InstallSnapshotRequest,
) -> Result<InstallSnapshotRequest<TypeConfig>, Malformed> {
    let meta: SnapshotMeta = decode("snapshot meta", &r.meta)?;
    Ok(InstallSnapshotRequest {
        vote: vote_from_pb(r.vote.as_ref())?,
        meta,
        offset: r.offset,
        data: r.data,
        done: r.done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::Membership;
    use std::collections::BTreeSet;

    #[test]
    fn append_entries_round_trip() {
        let vote = {
            let mut v = Vote::new(3, 2);
            v.committed = true;
            v
        };
        let members: BTreeSet<NodeId> = [1, 2, 3].into_iter().collect();
        let req = AppendEntriesRequest::<TypeConfig> {
            vote,
            prev_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), 9)),
            entries: vec![
                Entry {
                    log_id: LogId::new(CommittedLeaderId::new(3, 2), 10),
                    payload: EntryPayload::Membership(Membership::new(vec![members], None)),
                },
                Entry {
                    log_id: LogId::new(CommittedLeaderId::new(3, 2), 11),
                    payload: EntryPayload::Normal(roost_state::Batch {
                        stamped_ms: 5,
                        commands: vec![roost_state::Command::Noop],
                    }),
                },
            ],
            leader_commit: None,
        };
        let back = append_from_pb(&append_to_pb(4, &req).expect("encode")).expect("decode");
        assert_eq!(back.vote, req.vote);
        assert_eq!(back.prev_log_id, req.prev_log_id);
        assert_eq!(back.entries, req.entries);
        assert_eq!(back.leader_commit, None);
    }

    #[test]
    fn missing_fields_are_refused() {
        let req = pb::AppendEntriesRequest::default();
        assert!(append_from_pb(&req).is_err());
        let reply = pb::AppendEntriesReply { result: None };
        assert!(append_reply_from_pb(&reply).is_err());
        let garbage = pb::Entry {
            log_id: None,
            payload: vec![0xff, 0xff, 0xff],
        };
        let req = pb::AppendEntriesRequest {
            vote: Some(vote_to_pb(&Vote::new(1, 1))),
            entries: vec![garbage],
            ..Default::default()
        };
        assert!(append_from_pb(&req).is_err());
    }
}
