//! What the store's lock guards: every trace, in blocks of consecutive arrivals, and an index from
//! trace id to arrival number.
//!
//! A trace gets an arrival number when its first span arrives and keeps it, so arrival order is
//! eviction order (oldest first) and, near enough, time order. Traces are kept in blocks of
//! [`BLOCK_TRACES`] consecutive arrival numbers. Each block remembers the range of start and end
//! times of the traces it ever held, the way Tempo's blocks carry their time range: a read with a
//! time window skips whole blocks outside it, and `most_recent` stops early once no older block
//! can hold a later trace. Each block also keeps a summary of the values its spans hold
//! (`summary.rs`), so a search for a value skips blocks that never held it.
//!
//! Each trace is an `Arc<Trace>`, never changed in place while a reader holds it: an insert into a
//! trace that a reader has a copy of clones it first (`Arc::make_mut`). So readers take a block's
//! `Arc`s under the lock, a few microseconds, and evaluate outside it without ever seeing a torn
//! trace, and writers never wait for a query to finish.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use super::SpanRecord;
use super::summary::{Scan, ValueSummary};
use super::trace::Trace;
use crate::model::{SpanId, TimeWindow, TraceId};

/// Traces per block. Big enough that the per-block bookkeeping is negligible, small enough that
/// copying one block's `Arc`s under the lock takes microseconds.
pub(super) const BLOCK_TRACES: u64 = 1024;

/// The store's state under its lock.
#[derive(Debug, Default)]
pub(super) struct State {
    /// Arrival number of every trace held.
    index: HashMap<TraceId, u64>,
    /// Blocks, oldest first, numbered consecutively (block `n` holds arrivals
    /// `n * BLOCK_TRACES ..`).
    blocks: VecDeque<Block>,
    /// The arrival number the next new trace gets.
    next_arrival: u64,
    /// Spans held.
    pub(super) span_count: usize,
}

/// Consecutive arrivals, the oldest possibly evicted already.
#[derive(Debug)]
struct Block {
    /// `arrival / BLOCK_TRACES` of its traces.
    number: u64,
    /// Arrival number of `traces[0]`.
    first: u64,
    traces: VecDeque<Arc<Trace>>,
    range: TimeRange,
    /// Every value its spans have held (it only grows, like `range`).
    values: ValueSummary,
}

impl Block {
    /// Whether the block may hold a trace `scan` wants: one in its window, with every value it
    /// requires.
    fn wanted_by(&self, scan: &Scan) -> bool {
        self.range.may_overlap(&scan.window) && scan.may_want(&self.values)
    }
}

/// The start and end times of the traces a block has held (it only widens, so it stays a safe
/// bound after evictions and after a trace gains spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimeRange {
    /// Earliest trace start.
    pub(super) start_min: u64,
    /// Latest trace start.
    pub(super) start_max: u64,
    /// Latest trace end.
    pub(super) end_max: u64,
}

impl TimeRange {
    const EMPTY: TimeRange = TimeRange {
        start_min: u64::MAX,
        start_max: 0,
        end_max: 0,
    };

    fn widen(&mut self, trace: &Trace) {
        let start = trace.start_unix_nano();
        self.start_min = self.start_min.min(start);
        self.start_max = self.start_max.max(start);
        self.end_max = self.end_max.max(trace.end_unix_nano());
    }

    /// Whether a trace in this range can overlap `window`.
    pub(super) fn may_overlap(&self, window: &TimeWindow) -> bool {
        window.overlaps(self.start_min, self.end_max)
    }
}

/// What one insert did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Inserted {
    /// Spans stored.
    pub(super) stored: usize,
    /// Spans dropped because the trace already held a span with their id.
    pub(super) duplicates: usize,
    /// Spans evicted (with their traces) to make room.
    pub(super) evicted: usize,
    /// The traces that got new spans, in request order.
    pub(super) touched: Vec<TraceId>,
}

/// A block's traces taken out of the lock, with the facts a reader needs about the block.
#[derive(Debug)]
pub(super) struct BlockCopy {
    pub(super) number: u64,
    pub(super) traces: Vec<Arc<Trace>>,
}

impl State {
    /// Stores `incoming` (spans grouped by trace, each group in arrival order), dropping spans
    /// whose id the trace already holds, after evicting old traces until every incoming span
    /// fits under `max_spans`. Room is made before duplicates are known, so a request of
    /// duplicates can still evict: simpler, and it never evicts a trace it then adds to without
    /// saying so (see [`super::Store`]). The caller guarantees `total <= max_spans`.
    /// `values[i]` are the value hashes of `incoming[i]`'s spans, for the block's summary.
    pub(super) fn insert(
        &mut self,
        incoming: Vec<(TraceId, Vec<SpanRecord>)>,
        values: Vec<Vec<u64>>,
        total: usize,
        max_spans: usize,
    ) -> Inserted {
        let mut done = Inserted {
            evicted: self.make_room(total, max_spans),
            ..Inserted::default()
        };
        for ((id, spans), values) in incoming.into_iter().zip(values) {
            let arrival = match self.index.get(&id) {
                Some(&arrival) => arrival,
                None => self.push_new(id),
            };
            let (block, slot) = self.locate(arrival).expect("indexed traces are in a block");
            let block = &mut self.blocks[block];
            for hash in values {
                block.values.add(hash);
            }
            let trace = Arc::make_mut(&mut block.traces[slot]);
            let before = trace.spans.len();
            add_distinct(&mut trace.spans, spans, &mut done.duplicates);
            if trace.spans.len() > before {
                done.stored += trace.spans.len() - before;
                done.touched.push(id);
                block.range.widen(trace);
            }
        }
        self.span_count += done.stored;
        done
    }

    /// A new, empty trace at the next arrival number; returns that number.
    fn push_new(&mut self, id: TraceId) -> u64 {
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        let number = arrival / BLOCK_TRACES;
        if self.blocks.back().is_none_or(|b| b.number != number) {
            self.blocks.push_back(Block {
                number,
                first: arrival,
                traces: VecDeque::new(),
                range: TimeRange::EMPTY,
                values: ValueSummary::default(),
            });
        }
        let block = self.blocks.back_mut().expect("just made sure");
        block.traces.push_back(Arc::new(Trace {
            id,
            spans: Vec::new(),
        }));
        self.index.insert(id, arrival);
        arrival
    }

    /// Where the trace with this arrival number sits: (block index, slot in block).
    fn locate(&self, arrival: u64) -> Option<(usize, usize)> {
        let oldest = self.blocks.front()?.number;
        let block = usize::try_from((arrival / BLOCK_TRACES).checked_sub(oldest)?).ok()?;
        let slot = usize::try_from(arrival.checked_sub(self.blocks.get(block)?.first)?).ok()?;
        Some((block, slot))
    }

    /// Evicts whole traces, oldest first, until `incoming` more spans fit under `max_spans`.
    /// Returns the number of spans evicted.
    fn make_room(&mut self, incoming: usize, max_spans: usize) -> usize {
        let mut evicted = 0;
        while self.span_count + incoming > max_spans {
            let Some(block) = self.blocks.front_mut() else {
                break;
            };
            let Some(oldest) = block.traces.pop_front() else {
                // An empty block that can still get traces is the newest; nothing to evict.
                break;
            };
            block.first += 1;
            if block.traces.is_empty() && block.first == (block.number + 1) * BLOCK_TRACES {
                self.blocks.pop_front();
            }
            self.index.remove(&oldest.id);
            self.span_count -= oldest.spans.len();
            evicted += oldest.spans.len();
            tracing::debug!(trace_id = %oldest.id, spans = oldest.spans.len(), "evicted trace");
        }
        evicted
    }

    /// The trace with this id.
    pub(super) fn trace(&self, id: &TraceId) -> Option<Arc<Trace>> {
        let (block, slot) = self.locate(*self.index.get(id)?)?;
        Some(Arc::clone(&self.blocks[block].traces[slot]))
    }

    /// How many traces are held.
    pub(super) fn trace_count(&self) -> usize {
        self.index.len()
    }

    /// The newest block numbered at most `at_most` that may hold a trace `scan` wants, copied;
    /// blocks outside its window or without a value it requires are skipped without copying
    /// anything.
    pub(super) fn copy_block(&self, at_most: u64, scan: &Scan) -> Option<BlockCopy> {
        let oldest = self.blocks.front()?.number;
        let last = usize::try_from(at_most.checked_sub(oldest)?).unwrap_or(usize::MAX);
        let upto = last.min(self.blocks.len() - 1);
        self.blocks
            .range(..=upto)
            .rev()
            .find(|b| b.wanted_by(scan))
            .map(|b| BlockCopy {
                number: b.number,
                traces: b.traces.iter().cloned().collect(),
            })
    }

    /// The numbers of the blocks that may hold a trace `scan` wants, newest first.
    pub(super) fn wanted_blocks(&self, scan: &Scan) -> Vec<u64> {
        self.blocks
            .iter()
            .rev()
            .filter(|b| b.wanted_by(scan))
            .map(|b| b.number)
            .collect()
    }

    /// Each block's number and time range, newest first.
    pub(super) fn ranges(&self) -> Vec<(u64, TimeRange)> {
        self.blocks
            .iter()
            .rev()
            .map(|b| (b.number, b.range))
            .collect()
    }
}

/// Appends the spans of `incoming` whose ids `spans` does not hold yet (nor an earlier span of
/// `incoming`), keeping `spans` sorted by start time (ties keep arrival order); counts the rest
/// in `duplicates`.
fn add_distinct(spans: &mut Vec<SpanRecord>, incoming: Vec<SpanRecord>, duplicates: &mut usize) {
    // Chain traces have a handful of spans: a scan beats hashing them. Big traces get a set.
    const SCAN_UP_TO: usize = 32;
    spans.reserve_exact(incoming.len());
    if spans.len() + incoming.len() <= SCAN_UP_TO {
        for span in incoming {
            if spans.iter().any(|s| s.span_id() == span.span_id()) {
                *duplicates += 1;
            } else {
                spans.push(span);
            }
        }
    } else {
        let mut seen: HashSet<SpanId> = spans.iter().map(SpanRecord::span_id).collect();
        for span in incoming {
            if seen.insert(span.span_id()) {
                spans.push(span);
            } else {
                *duplicates += 1;
            }
        }
    }
    // Stable sort: spans that start together keep their arrival order.
    spans.sort_by_key(SpanRecord::start_unix_nano);
    // A trace can get spans from several requests, each growing its list; most traces are then
    // complete, so trim what a quarter more would not use.
    if spans.capacity() > spans.len() + spans.len() / 4 + 1 {
        spans.shrink_to_fit();
    }
}
