//! Accounts and plans for publish quotas (off unless the operator configures them).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::QueueId;

/// A billing plan; its monthly publish limit comes from the operator's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Plan {
    /// The smallest limit.
    Free,
    /// A larger limit.
    Pro,
    /// No limit.
    Unlimited,
}

impl Plan {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Unlimited => "unlimited",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Plan> {
        match s {
            "free" => Some(Plan::Free),
            "pro" => Some(Plan::Pro),
            "unlimited" => Some(Plan::Unlimited),
            _ => None,
        }
    }
}

/// Monthly publish limits per plan, chosen by the operator (travel inside commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    /// Publishes a month on the free plan (also the per-IP limit of unclaimed queues).
    pub free: u64,
    /// Publishes a month on the pro plan.
    pub pro: u64,
}

impl PlanLimits {
    /// The limit of `plan` (`None`: unlimited).
    pub fn of(self, plan: Plan) -> Option<u64> {
        match plan {
            Plan::Free => Some(self.free),
            Plan::Pro => Some(self.pro),
            Plan::Unlimited => None,
        }
    }
}

/// An account, kept in the metadata group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account id (`acct_…`).
    pub id: String,
    /// Its plan.
    pub plan: Plan,
    /// Digests of its keys.
    pub key_digests: BTreeSet<[u8; 32]>,
    /// The month (`year * 12 + month - 1`) `used` counts.
    pub month: u32,
    /// Publishes this month across owned queues.
    pub used: u64,
    /// Queues the account claimed.
    pub queues: BTreeSet<QueueId>,
    /// Raised each time the plan is raised; held publishes drain until `drained` catches up.
    pub upgrades: u64,
    /// The upgrade whose drain has completed.
    pub drained: u64,
}

/// Who a publish is counted against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payer {
    /// A claimed queue's owner.
    Account(String),
    /// An unclaimed queue's publisher, by source IP.
    Ip(String),
}

/// The month (`year * 12 + month - 1`, UTC) of a time in ms since the Unix epoch.
pub fn month_of(ms: u64) -> u32 {
    // Days to civil date (proleptic Gregorian), after Howard Hinnant's public-domain
    // algorithm; written out because the state machine may not use a clock or time zone data.
    let days = (ms / 86_400_000) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year * 12 + month - 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_follow_the_calendar() {
        let month = |y: u32, m: u32| y * 12 + m - 1;
        assert_eq!(month_of(0), month(1970, 1));
        assert_eq!(month_of(1_700_000_000_000), month(2023, 11)); // 2023-11-14
        assert_eq!(month_of(1_709_164_800_000), month(2024, 2)); // 2024-02-29 00:00
        assert_eq!(month_of(1_709_251_199_999), month(2024, 2)); // 2024-02-29 23:59:59.999
        assert_eq!(month_of(1_709_251_200_000), month(2024, 3)); // 2024-03-01
        assert_eq!(month_of(1_798_761_600_000), month(2027, 1)); // 2027-01-01
    }
}
