//! Leader-aware routing: a client that knows every node sends each request to the node a
//! forwarded reply last named (`Roost-Leader`) as leading what the request is about, so the
//! next one skips the forwarding hop. Any node still answers any request: a stale or missing
//! entry only costs that hop again.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::RwLock;

use reqwest::Url;

/// Each node's URL by id, and the leader last named for each thing requests are about.
#[derive(Debug)]
pub(crate) struct Routes {
    nodes: HashMap<u64, Url>,
    leaders: RwLock<HashMap<String, Url>>,
}

impl Routes {
    pub(crate) fn new(nodes: HashMap<u64, Url>) -> Self {
        Routes {
            nodes,
            leaders: RwLock::default(),
        }
    }

    /// Where requests about `about` go, once a reply has named its leader.
    pub(crate) fn leader(&self, about: &str) -> Option<Url> {
        let leaders = self.leaders.read().unwrap_or_else(|p| p.into_inner());
        leaders.get(about).cloned()
    }

    /// Notes the node a reply about `about` named (`hint`, the header's value); a node this
    /// client does not know (one added later) is ignored.
    pub(crate) fn learn(&self, about: &str, hint: &str) {
        let Some(url) = hint.parse().ok().and_then(|id: u64| self.nodes.get(&id)) else {
            return;
        };
        let mut leaders = self.leaders.write().unwrap_or_else(|p| p.into_inner());
        leaders.insert(about.to_owned(), url.clone());
    }

    /// Forgets `about`'s leader (it did not answer): its next request goes to the first node.
    pub(crate) fn forget(&self, about: &str) {
        let mut leaders = self.leaders.write().unwrap_or_else(|p| p.into_inner());
        leaders.remove(about);
    }
}

/// What a request is about, for routing: its queue (`/q/{id}/…`), else its credential (a
/// workspace's jobs and work queues all live in the workspace's shard; a form's key names one
/// form), kept as a hash so no secret sits in the routing map (`Client` is `Debug`). A queue
/// create is about nothing yet.
pub(crate) fn about(segments: &[&str], credential: Option<&str>) -> Option<String> {
    match segments {
        ["q", "create", ..] => None,
        ["q", queue, ..] => Some(format!("queue {queue}")),
        _ => credential.map(|c| {
            let mut h = DefaultHasher::new();
            c.hash(&mut h);
            format!("credential {:016x}", h.finish())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        let url = |p: u16| Url::parse(&format!("http://127.0.0.1:{p}")).expect("url");
        Routes::new(HashMap::from([(1, url(7081)), (2, url(7082))]))
    }

    #[test]
    fn a_hint_routes_what_it_was_about_until_forgotten() {
        let r = routes();
        assert_eq!(r.leader("queue q_01"), None);
        r.learn("queue q_01", "2");
        let leader = r.leader("queue q_01").expect("learned");
        assert_eq!(leader.port(), Some(7082));
        assert_eq!(r.leader("queue q_02"), None, "another queue is not routed");
        r.learn("queue q_01", "9");
        r.learn("queue q_01", "two");
        assert_eq!(
            r.leader("queue q_01"),
            Some(leader),
            "unknown nodes are ignored"
        );
        r.forget("queue q_01");
        assert_eq!(r.leader("queue q_01"), None);
    }

    #[test]
    fn requests_are_about_their_queue_or_their_credential() {
        assert_eq!(
            about(&["q", "q_01ab", "pull"], Some("k")).as_deref(),
            Some("queue q_01ab")
        );
        assert_eq!(about(&["q", "create"], None), None);
        let claim = about(&["jobs", "claim"], Some("token-1")).expect("about the credential");
        assert_eq!(
            about(&["work-queues"], Some("token-1")),
            Some(claim.clone())
        );
        assert_ne!(
            about(&["jobs", "claim"], Some("token-2")),
            Some(claim.clone())
        );
        assert!(!claim.contains("token-1"), "{claim}");
        assert_eq!(about(&["jobs"], None), None);
    }
}
