//! Reading the store without holding ingest back: trace by id, every trace in a time window, a
//! search that stops at its limit, and the most recent matches by start time.
//!
//! Each read copies one block's `Arc<Trace>` pointers under the lock and works on them after
//! releasing it (see [`super::blocks`]), so the work a reader does per trace (TraceQL, JSON,
//! tag collection) is never done under the lock. The functions here are synchronous CPU work:
//! async callers run them on tokio's blocking pool.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use super::Store;
use super::blocks::BlockCopy;
use super::summary::Scan;
use super::trace::Trace;
use crate::model::{TimeWindow, TraceId};

/// The result of [`Store::search`] and [`Store::most_recent`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Searched<T> {
    /// What `select` returned for the matching traces, newest trace start first.
    pub results: Vec<T>,
    /// How many traces were examined.
    pub inspected: usize,
}

/// Every trace that overlaps a window, newest arrival first, a block at a time (see
/// [`Store::traces`]).
#[derive(Debug)]
pub struct Traces<'s> {
    store: &'s Store,
    scan: Scan,
    /// The newest block number not yet copied; `None` once the oldest block is done.
    next_block: Option<u64>,
    /// The oldest block number to copy.
    lowest: u64,
    /// The current block's traces, oldest first, popped from the back.
    current: Vec<Arc<Trace>>,
}

impl Iterator for Traces<'_> {
    type Item = Arc<Trace>;

    fn next(&mut self) -> Option<Arc<Trace>> {
        loop {
            while let Some(trace) = self.current.pop() {
                if self
                    .scan
                    .window
                    .overlaps(trace.start_unix_nano(), trace.end_unix_nano())
                {
                    return Some(trace);
                }
            }
            let block = self
                .store
                .lock()
                .copy_block(self.next_block?, &self.scan)
                .filter(|block| block.number >= self.lowest)?;
            self.next_block = block.number.checked_sub(1);
            self.current = block.traces;
        }
    }
}

impl Store {
    /// The trace with this id, if the store holds any of its spans: a snapshot that later
    /// inserts do not change.
    pub fn trace(&self, id: &TraceId) -> Option<Arc<Trace>> {
        self.lock().trace(id)
    }

    /// Every trace that overlaps the scan's window, newest arrival first (arrival of a trace's
    /// first span). Blocks of traces outside the window, or without a value the scan requires,
    /// are skipped whole (a [`TimeWindow`] requires none).
    pub fn traces(&self, scan: impl Into<Scan>) -> Traces<'_> {
        self.traces_in(scan, 0..=u64::MAX)
    }

    /// [`Store::traces`] over the blocks numbered in `blocks` only: a part of the walk that
    /// streamed searches run one at a time (see [`Store::block_numbers`]).
    pub fn traces_in(&self, scan: impl Into<Scan>, blocks: RangeInclusive<u64>) -> Traces<'_> {
        Traces {
            store: self,
            scan: scan.into(),
            next_block: Some(*blocks.end()),
            lowest: *blocks.start(),
            current: Vec::new(),
        }
    }

    /// The numbers of the blocks that may hold traces the scan wants, newest first: the order
    /// [`Store::traces`] walks them in.
    pub fn block_numbers(&self, scan: &Scan) -> Vec<u64> {
        self.lock().wanted_blocks(scan)
    }

    /// Up to `limit` results of `select` over the traces of `scan`, looked at newest arrival
    /// first and stopping at the limit, then sorted newest start first. `select` maps a trace to
    /// a result, or `None` to skip it; it runs without any lock held.
    ///
    /// Like Tempo's search, which traces make the limit is "recent ones", not the exact most
    /// recent: for that, see [`Store::most_recent`].
    pub fn search<T>(
        &self,
        scan: impl Into<Scan>,
        limit: usize,
        select: impl FnMut(&Arc<Trace>) -> Option<T>,
    ) -> Searched<T> {
        self.search_in(scan, 0..=u64::MAX, limit, select)
    }

    /// [`Store::search`] over the blocks numbered in `blocks` only. Walking the blocks of
    /// [`Store::block_numbers`] one at a time, each with the limit less what the newer ones
    /// found, finds what one [`Store::search`] finds.
    pub fn search_in<T>(
        &self,
        scan: impl Into<Scan>,
        blocks: RangeInclusive<u64>,
        limit: usize,
        mut select: impl FnMut(&Arc<Trace>) -> Option<T>,
    ) -> Searched<T> {
        let mut inspected = 0;
        let mut found = Vec::new();
        for trace in self.traces_in(scan, blocks) {
            if found.len() >= limit {
                break;
            }
            inspected += 1;
            if let Some(result) = select(&trace) {
                found.push((trace.start_unix_nano(), trace.id, result));
            }
        }
        sorted_newest_first(found, inspected)
    }

    /// The `limit` matches with the latest start times in `scan`, newest first: what Tempo's
    /// `with(most_recent=true)` asks for. Keeps the best `limit` seen so far and stops as soon as
    /// no older block can start later than the worst of them, so it neither sorts every trace
    /// nor, usually, looks at every block.
    pub fn most_recent<T>(
        &self,
        scan: impl Into<Scan>,
        limit: usize,
        mut select: impl FnMut(&Arc<Trace>) -> Option<T>,
    ) -> Searched<T> {
        let scan = scan.into();
        let window = scan.window;
        // For each block (newest first), the latest trace start in it or any older block.
        let ranges = self.lock().ranges();
        let mut latest_from: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        let mut latest = 0;
        for (number, range) in ranges.iter().rev() {
            latest = latest.max(range.start_max);
            latest_from.push((*number, latest));
        }
        latest_from.reverse();

        // A min-heap of (start, id, index into `results`): the worst kept match on top.
        let mut best: BinaryHeap<Reverse<(u64, TraceId, usize)>> = BinaryHeap::new();
        let mut results: Vec<Option<T>> = Vec::new();
        let mut inspected = 0;
        let worst = |best: &BinaryHeap<Reverse<(u64, TraceId, usize)>>| {
            (best.len() >= limit).then(|| best.peek().map_or(u64::MAX, |Reverse(w)| w.0))
        };
        let mut next_block = latest_from.first().map(|(number, _)| *number);
        while let Some(at_most) = next_block {
            let bound = latest_from
                .iter()
                .find(|(number, _)| *number <= at_most)
                .map_or(0, |(_, latest)| *latest);
            if worst(&best).is_some_and(|w| bound < w) {
                break;
            }
            let Some(BlockCopy { number, traces, .. }) = self.lock().copy_block(at_most, &scan)
            else {
                break;
            };
            next_block = number.checked_sub(1);
            for trace in traces.iter().rev() {
                let start = trace.start_unix_nano();
                if worst(&best).is_some_and(|w| start < w)
                    || (window != TimeWindow::ALL && !window.overlaps(start, trace.end_unix_nano()))
                {
                    continue;
                }
                inspected += 1;
                let Some(result) = select(trace) else {
                    continue;
                };
                results.push(Some(result));
                best.push(Reverse((start, trace.id, results.len() - 1)));
                if best.len() > limit {
                    best.pop();
                }
            }
        }
        let found = best
            .into_iter()
            .filter_map(|Reverse((start, id, at))| Some((start, id, results[at].take()?)))
            .collect();
        sorted_newest_first(found, inspected)
    }

    /// Up to `limit` traces, newest start first.
    pub fn recent_traces(&self, limit: usize) -> Vec<Arc<Trace>> {
        self.most_recent(TimeWindow::ALL, limit, |trace| Some(Arc::clone(trace)))
            .results
    }
}

/// Results by start time, newest first (ties by trace id, so the order is stable).
fn sorted_newest_first<T>(mut found: Vec<(u64, TraceId, T)>, inspected: usize) -> Searched<T> {
    found.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Searched {
        results: found.into_iter().map(|(_, _, result)| result).collect(),
        inspected,
    }
}
