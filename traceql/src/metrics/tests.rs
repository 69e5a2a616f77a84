//! Unit tests of the time axis and the buckets, with expected values worked out by hand from
//! Tempo's rules. Whole queries are tested in `tests/metrics.rs`.

use super::quantile::{bucket_of, quantile};
use super::{Range, RangeError};
use crate::Value;

const S: u64 = 1_000_000_000;

#[test]
fn default_step_is_tempos() {
    // 1 h / 240 = 15 s; 6 h / 240 = 90 s; 10 min / 240 = 2.5 s → 2 s; 1 min → 1 s (minimum).
    assert_eq!(Range::default_step(0, 3600 * S), 15 * S);
    assert_eq!(Range::default_step(0, 6 * 3600 * S), 90 * S);
    assert_eq!(Range::default_step(0, 600 * S), 2 * S);
    assert_eq!(Range::default_step(0, 60 * S), S);
    // 7 h / 240 = 105 s, a multiple of 5 s already.
    assert_eq!(Range::default_step(0, 7 * 3600 * S), 105 * S);
    // 3 h 10 min / 240 = 47.5 s → 45 s.
    assert_eq!(Range::default_step(0, 11_400 * S), 45 * S);
}

#[test]
fn ranges_align_to_the_step_with_one_more_in_front() {
    // 1000 s .. 1130 s by 60 s: start down to 960, end up to 1140, one more step: 900.
    let range = Range::query_range(1000 * S, 1130 * S, Some(60 * S)).unwrap();
    assert_eq!((range.start(), range.end()), (900 * S, 1140 * S));
    assert_eq!(range.intervals(), 4);
    assert_eq!(range.timestamp_ms(0), 960_000);
    assert_eq!(range.timestamp_ms(3), 1_140_000);
    // Right-closed steps: (900, 960], (960, 1020], …
    assert_eq!(range.interval(900 * S), None);
    assert_eq!(range.interval(900 * S + 1), Some(0));
    assert_eq!(range.interval(960 * S), Some(0));
    assert_eq!(range.interval(960 * S + 1), Some(1));
    assert_eq!(range.interval(1140 * S), Some(3));
    assert_eq!(range.interval(1140 * S + 1), None);
}

#[test]
fn a_step_equal_to_the_range_is_instant() {
    let range = Range::query_range(1000 * S, 1060 * S, Some(60 * S)).unwrap();
    assert!(range.is_instant());
    assert_eq!(range.intervals(), 1);
    assert_eq!(range.interval(1000 * S), Some(0));
    assert_eq!(range.interval(1060 * S), Some(0));
    assert_eq!(range.interval(1060 * S + 1), None);
    assert_eq!(range.timestamp_ms(0), 1_060_000);
}

#[test]
fn bad_ranges_are_errors() {
    assert!(matches!(
        Range::query_range(10 * S, 10 * S, None),
        Err(RangeError::EndNotAfterStart { .. })
    ));
    assert_eq!(
        Range::query_range(0, 10 * S, Some(0)),
        Err(RangeError::ZeroStep)
    );
    assert!(matches!(
        Range::query_range(0, 86_400 * S, Some(S)),
        Err(RangeError::TooManySteps { .. })
    ));
}

#[test]
fn buckets_are_powers_of_two() {
    // Durations in seconds: 3 ns → 4 ns; 1 ms (1e6 ns) → 2^20 ns.
    assert_eq!(bucket_of(Value::Duration(3)), Some(4e-9));
    assert_eq!(bucket_of(Value::Duration(1_000_000)), Some(1_048_576e-9));
    assert_eq!(bucket_of(Value::Duration(1_048_576)), Some(1_048_576e-9));
    // Integers as they are; below 2 and other types: no bucket.
    assert_eq!(bucket_of(Value::Int(200)), Some(256.0));
    assert_eq!(bucket_of(Value::Int(1)), None);
    assert_eq!(bucket_of(Value::Float(3.0)), None);
}

#[test]
fn quantiles_interpolate_exponentially() {
    // 4 values in bucket 2, 4 in bucket 8.
    let buckets = [(2.0, 4), (8.0, 4)];
    // p50: 4 samples = exactly the first bucket → its bound.
    assert_eq!(quantile(0.5, &buckets), 2.0);
    // p75: 6 samples, 2 of 4 into the second bucket: 2^(1 + (3-1)*0.5) = 4.
    assert!((quantile(0.75, &buckets) - 4.0).abs() < 1e-12);
    // p100: the last bound. p0 reads one sample: 2^(0 + 1*(1/4)) in the first bucket.
    assert_eq!(quantile(1.0, &buckets), 8.0);
    assert!((quantile(0.0, &buckets) - 2f64.powf(0.25)).abs() < 1e-12);
    assert_eq!(quantile(0.5, &[]), 0.0);
}
