//! The critical path of one trace: the chain of spans that set its end-to-end time.
//!
//! Walk back from the root's end: the child that finished last before that point was being
//! waited for, so its own critical path comes next; before that child started, the next child
//! that finished last was, and so on; the gaps are the parent's own work. Children that overlap
//! the one chosen are clipped to where it started, and children that outlive their parent (fire
//! and forget) are clipped to the parent's end, so every instant of the trace is counted once.
//! An explicit stack rather than recursion: a trace is input, and a chain of a million spans
//! must not overflow the thread's stack.

use crate::store::Trace;

/// A stretch of time the critical path spends in one span's own work (not waiting on a child).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The span, an index into [`Trace::spans`].
    pub span: usize,
    /// Start, Unix nanoseconds.
    pub start: u64,
    /// End, Unix nanoseconds.
    pub end: u64,
}

impl Segment {
    /// Its length in nanoseconds.
    pub fn nanos(&self) -> u64 {
        self.end - self.start
    }
}

/// The critical path of `trace` from its entry span (the earliest span without a parent held),
/// as segments in time order; empty for a trace without spans. The segments cover the entry
/// span's time exactly.
pub fn critical_path(trace: &Trace) -> Vec<Segment> {
    let parents = trace.parents();
    let Some(entry) = (0..trace.spans.len()).find(|&i| parents[i].is_none()) else {
        return Vec::new();
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); trace.spans.len()];
    for (child, parent) in parents.iter().enumerate() {
        if let Some(parent) = parent {
            children[*parent].push(child);
        }
    }
    // Latest end first: the order the walk back in time wants them.
    for list in &mut children {
        list.sort_by_key(|&c| std::cmp::Reverse(trace.spans[c].end_unix_nano()));
    }

    let mut segments = Vec::new();
    let span_start = |i: usize| trace.spans[i].start_unix_nano();
    // Frames of the walk: (span, the point in time not yet accounted for, next child to try).
    let mut stack = vec![(entry, trace.spans[entry].end_unix_nano(), 0)];
    while let Some(&mut (span, ref mut cursor, ref mut next)) = stack.last_mut() {
        let start = span_start(span);
        let waited_on = children[span][*next..]
            .iter()
            .position(|&c| span_start(c) < *cursor);
        let Some(offset) = waited_on else {
            if *cursor > start {
                segments.push(Segment {
                    span,
                    start,
                    end: *cursor,
                });
            }
            stack.pop();
            continue;
        };
        let child = children[span][*next + offset];
        let child_end = trace.spans[child].end_unix_nano().min(*cursor);
        if *cursor > child_end {
            segments.push(Segment {
                span,
                start: child_end,
                end: *cursor,
            });
        }
        *cursor = span_start(child).max(start);
        *next += offset + 1;
        stack.push((child, child_end, 0));
    }
    segments.sort_by_key(|s| s.start);
    segments
}
