//! Tempo's bucketed quantiles: values go into power-of-two buckets (`histogram_over_time`'s
//! `__bucket`), and `quantile_over_time` reads a quantile off the bucket counts with exponential
//! interpolation inside the bucket (Tempo's `Log2Bucketize` and `Log2Quantile`).

use crate::Value;

/// The bucket of a value: the next power of two at or above it, in seconds for durations and as
/// is for integers. Values below 2 (and other types) have no bucket: Tempo drops those spans.
pub(crate) fn bucket_of(value: Value<'_>) -> Option<f64> {
    let (raw, scale) = match value {
        Value::Duration(d) => (d, 1e9),
        Value::Int(i) => (i, 1.0),
        _ => return None,
    };
    let raw = u64::try_from(raw).ok().filter(|v| *v >= 2)?;
    let bound = raw
        .checked_next_power_of_two()
        .map_or(2f64.powi(64), |p| p as f64);
    Some(bound / scale)
}

/// The `p` quantile of `buckets` (upper bound, count), sorted by bound: 0 if empty.
pub(crate) fn quantile(p: f64, buckets: &[(f64, u64)]) -> f64 {
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    if total == 0 || !(0.0..=1.0).contains(&p) {
        return 0.0;
    }
    // Samples to read, rounded up (better for small counts), at least one.
    let wanted = ((p * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    let mut at = 0;
    for (i, &(bound, count)) in buckets.iter().enumerate() {
        at = i;
        if seen + count > wanted {
            break;
        }
        seen += count;
        if seen == wanted {
            return bound;
        }
    }
    if buckets[at].1 == 0 || seen + buckets[at].1 < wanted {
        // Not reached with p ≤ 1; the last bound is the only sensible answer.
        return buckets[at].0;
    }
    let fraction = (wanted - seen) as f64 / buckets[at].1 as f64;
    let high = buckets[at].0.log2();
    let low = if at > 0 {
        buckets[at - 1].0.log2()
    } else {
        high - 1.0
    };
    2f64.powf(low + (high - low) * fraction)
}

/// Adds `count` to the bucket `bound` of an unsorted list.
pub(crate) fn record(buckets: &mut Vec<(f64, u64)>, bound: f64, count: u64) {
    match buckets.iter_mut().find(|b| b.0 == bound) {
        Some(bucket) => bucket.1 += count,
        None => buckets.push((bound, count)),
    }
}

/// Sorts a bucket list by bound.
pub(crate) fn sort(buckets: &mut [(f64, u64)]) {
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
}
