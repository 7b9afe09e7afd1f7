//! The clock and the random source of the layer above the node. Ids, keys and fencing tokens
//! are chosen here (the state machine takes them as input), and so are the times a read is
//! asked about; tests fix both to get answers they can name.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Where time and randomness come from.
pub trait Source: Send + Sync {
    /// Now, in ms since the epoch.
    fn now_ms(&self) -> u64;
    /// A random number: ids, fencing tokens and keys are made of these.
    fn random(&self) -> u64;
}

/// The system clock and the thread-local CSPRNG (keys are secrets: never a weaker generator).
pub struct System;

impl Source for System {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn random(&self) -> u64 {
        rand::rng().random()
    }
}

/// A clock that only moves when told, and "random" numbers counting up from a seed.
pub struct Fixed {
    /// Now, in ms since the epoch.
    now_ms: AtomicU64,
    /// The next number handed out.
    next: AtomicU64,
}

impl Fixed {
    /// A source at `now_ms` whose numbers start at `seed`.
    pub fn new(now_ms: u64, seed: u64) -> Self {
        Fixed {
            now_ms: AtomicU64::new(now_ms),
            next: AtomicU64::new(seed),
        }
    }

    /// Moves the clock by `ms`.
    pub fn advance(&self, ms: u64) {
        self.now_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Source for Fixed {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    fn random(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}
