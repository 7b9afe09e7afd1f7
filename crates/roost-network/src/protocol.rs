//! The peer protocol's version. Every outgoing peer RPC names the version its sender speaks;
//! a listener admits its own version and the one before (so a cluster can be upgraded a node
//! at a time) and refuses others with a status that names both. Peers from before the number
//! existed send none and speak version 1.
//!
//! 1. Every peer RPC before the number existed.
//! 2. The same messages; the number is sent.

use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

/// The metadata key carrying the sender's protocol version.
pub const PROTOCOL_HEADER: &str = "roost-protocol";
/// The version this build speaks.
pub const CURRENT: u32 = 2;
/// The oldest version this build still admits.
pub const OLDEST: u32 = CURRENT - 1;

/// Admits an RPC of a version this build speaks.
pub(crate) fn admit<T>(req: &Request<T>) -> Result<(), Status> {
    let theirs = match req.metadata().get(PROTOCOL_HEADER) {
        None => Some(1),
        Some(v) => v.to_str().ok().and_then(|v| v.parse::<u32>().ok()),
    };
    match theirs {
        Some(v) if (OLDEST..=CURRENT).contains(&v) => Ok(()),
        _ => Err(Status::failed_precondition(format!(
            "protocol_unsupported: the peer speaks protocol {}, this node {OLDEST} to {CURRENT}; upgrade one node at a time",
            theirs.map_or_else(|| "?".to_owned(), |v| v.to_string())
        ))),
    }
}

/// Names this build's version on an outgoing RPC.
pub(crate) fn stamp<T>(req: &mut Request<T>) {
    req.metadata_mut()
        .insert(PROTOCOL_HEADER, MetadataValue::from(CURRENT));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Option<&str>) -> Request<()> {
        let mut req = Request::new(());
        if let Some(v) = version {
            req.metadata_mut()
                .insert(PROTOCOL_HEADER, v.parse().expect("ascii"));
        }
        req
    }

    #[test]
    fn this_version_and_the_one_before_are_admitted() {
        let mut stamped = Request::new(());
        stamp(&mut stamped);
        assert!(admit(&stamped).is_ok());
        assert!(
            admit(&request(None)).is_ok(),
            "peers from before the number speak 1"
        );
        assert!(admit(&request(Some("1"))).is_ok());
        for bad in ["0", "3", "x", ""] {
            let refused = admit(&request(Some(bad))).expect_err(bad);
            assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
            assert!(
                refused.message().starts_with("protocol_unsupported"),
                "{refused:?}"
            );
        }
    }
}
