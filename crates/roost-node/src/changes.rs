//! Wakes waiters (long polls, event streams, waiting claims) when what they wait for is
//! applied on this node — and only them. Waking every waiter of a shard on every write made
//! each write cost as much as its shard had waiters: 500 long polls doubled publish latency and
//! multiplied CPU by 4.5.
//!
//! A waiter subscribes to its [`Topic`] *before* it reads, so a change applied between its read
//! and its wait is not missed; storage announces each applied batch's topics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use roost_state::Topic;
use tokio::sync::watch;

/// Topics with at least one subscriber, each with the channel that announces its changes.
#[derive(Default)]
pub struct Changes {
    topics: Mutex<HashMap<Topic, Arc<watch::Sender<()>>>>,
}

/// A waiter's interest in one topic; dropping it unsubscribes.
pub struct Subscription {
    changes: Arc<Changes>,
    topic: Topic,
    sender: Arc<watch::Sender<()>>,
    seen: watch::Receiver<()>,
}

impl Changes {
    /// Subscribes to `topic`: [`Subscription::changed`] returns once a change of it is applied
    /// after this call.
    pub fn subscribe(self: &Arc<Self>, topic: Topic) -> Subscription {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = Arc::clone(
            topics
                .entry(topic.clone())
                .or_insert_with(|| Arc::new(watch::channel(()).0)),
        );
        Subscription {
            changes: Arc::clone(self),
            topic,
            seen: sender.subscribe(),
            sender,
        }
    }

    /// Announces changes of `topics`; topics nobody waits for cost one map lookup.
    pub fn announce(&self, topics: &[Topic]) {
        let subscribed = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        for topic in topics {
            if let Some(sender) = subscribed.get(topic) {
                sender.send_replace(());
            }
        }
    }

    /// Subscriptions open, for status.
    pub fn waiters(&self) -> usize {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|sender| sender.receiver_count())
            .sum()
    }

    /// Topics with subscribers, for tests.
    #[cfg(test)]
    fn subscribed(&self) -> usize {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Subscription {
    /// Waits until a change of the topic is applied (one since the last call, or since
    /// subscribing) or `timeout` passes.
    pub async fn changed(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.seen.changed()).await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut topics = self
            .changes
            .topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's reference and ours: no other subscriber is left.
        if Arc::strong_count(&self.sender) == 2 {
            topics.remove(&self.topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(n: u64) -> Topic {
        Topic::Workspace(format!("ws-{n}"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_wakes_for_its_topic_only() {
        let changes = Arc::new(Changes::default());
        let mut mine = changes.subscribe(queue(1));
        let started = tokio::time::Instant::now();
        changes.announce(&[queue(2)]);
        mine.changed(Duration::from_secs(30)).await;
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(30),
            "woken by another topic"
        );

        let started = tokio::time::Instant::now();
        changes.announce(&[queue(2), queue(1)]);
        mine.changed(Duration::from_secs(30)).await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "its own topic wakes it at once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_between_subscribing_and_waiting_is_not_missed() {
        let changes = Arc::new(Changes::default());
        let mut sub = changes.subscribe(queue(1));
        changes.announce(&[queue(1)]);
        let started = tokio::time::Instant::now();
        sub.changed(Duration::from_secs(30)).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[test]
    fn the_last_subscription_dropped_forgets_the_topic() {
        let changes = Arc::new(Changes::default());
        let a = changes.subscribe(queue(1));
        let b = changes.subscribe(queue(1));
        assert_eq!(changes.subscribed(), 1);
        assert_eq!(changes.waiters(), 2);
        drop(a);
        assert_eq!((changes.subscribed(), changes.waiters()), (1, 1));
        drop(b);
        assert_eq!(changes.subscribed(), 0);
    }
}
