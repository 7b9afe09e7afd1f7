//! Latency histograms and cross-repetition summary statistics.
//!
//! Latencies are recorded in microseconds in an HDR histogram (so percentiles stay accurate
//! without keeping every sample) and reported in milliseconds.

use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms track: one hour, in microseconds. Slower samples are
/// clamped to it (the overall run timeout is far below this anyway).
const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// Creates an empty latency histogram (microseconds, 3 significant digits).
pub(crate) fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, 3).context("creating latency histogram")
}

/// Records one request latency; sub-microsecond samples count as 1 µs.
pub(crate) fn record(hist: &mut Histogram<u64>, elapsed: Duration) {
    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    hist.saturating_record(us.max(1));
}

/// Latency percentiles of one phase of one repetition, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Median request latency.
    pub p50_ms: f64,
    /// 99th percentile request latency.
    pub p99_ms: f64,
    /// Slowest request.
    pub max_ms: f64,
}

impl LatencyMs {
    /// Reads the percentiles out of a microsecond histogram (all zero if it is empty).
    pub(crate) fn from_histogram(hist: &Histogram<u64>) -> Self {
        if hist.is_empty() {
            return Self {
                p50_ms: 0.0,
                p99_ms: 0.0,
                max_ms: 0.0,
            };
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            max_ms: ms(hist.max()),
        }
    }
}

/// Minimum, median and maximum of one metric across repetitions, so run-to-run noise is
/// visible instead of hidden behind a single number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest value.
    pub min: f64,
    /// Median value (mean of the two middle values for an even number of samples).
    pub median: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// Summarizes `values`; an empty slice gives all zeros.
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self {
                min: 0.0,
                median: 0.0,
                max: 0.0,
            };
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Self {
            min: sorted[0],
            median,
            max: sorted[n - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_odd_count() {
        let s = Spread::of(&[5.0, 1.0, 3.0]);
        assert_eq!(
            s,
            Spread {
                min: 1.0,
                median: 3.0,
                max: 5.0
            }
        );
    }

    #[test]
    fn spread_even_count_averages_middle() {
        let s = Spread::of(&[4.0, 1.0, 10.0, 2.0]);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.max, 10.0);
    }

    #[test]
    fn spread_single_and_empty() {
        let s = Spread::of(&[7.5]);
        assert_eq!((s.min, s.median, s.max), (7.5, 7.5, 7.5));
        let e = Spread::of(&[]);
        assert_eq!((e.min, e.median, e.max), (0.0, 0.0, 0.0));
    }

    #[test]
    fn latency_percentiles_from_histogram() {
        let mut h = new_histogram().expect("histogram");
        // 1..=100 ms, one sample each.
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let l = LatencyMs::from_histogram(&h);
        // 3 significant digits: allow 0.1% relative error.
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 1e-9;
        assert!(close(l.p50_ms, 50.0), "p50 {}", l.p50_ms);
        assert!(close(l.p99_ms, 99.0), "p99 {}", l.p99_ms);
        assert!(close(l.max_ms, 100.0), "max {}", l.max_ms);
    }

    #[test]
    fn empty_histogram_gives_zero_latency() {
        let h = new_histogram().expect("histogram");
        let l = LatencyMs::from_histogram(&h);
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (0.0, 0.0, 0.0));
    }

    #[test]
    fn sub_microsecond_samples_are_recorded() {
        let mut h = new_histogram().expect("histogram");
        record(&mut h, Duration::from_nanos(10));
        assert_eq!(h.len(), 1);
        assert_eq!(h.max(), 1);
    }
}
