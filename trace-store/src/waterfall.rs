//! A terminal waterfall of one trace: the span tree with a time bar per span.
//!
//! ```text
//! trace c0ffee0000000000000000000000000a  2.01 s  4 spans
//! app-a  GET /checkout     │████████████████████████████████████████│  2.01 s
//! app-b    cache           │ █                                      │  120 µs
//! app-b    GET /api/price  │         ██████████████████████████████ │   1.5 s
//! app-c      SELECT        │                       █                │  3.4 ms  ✗ error
//! ```
//!
//! With `critical_path` set, each span on the critical path ends its line with `◆` and its own
//! time on it (`◆ 1.5 s critical`): what `tracelab show` draws.
//!
//! Rendering is a pure function of the trace and the options, so tests compare exact strings.
//! Columns are aligned by character count, which suits the ASCII names spans usually have.

use crate::store::{SpanRecord, Trace};

const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// How to draw the waterfall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterfallOptions {
    /// Columns between the two `│` of each bar; the whole trace duration spans them. Default 40.
    pub width: usize,
    /// Whether to use ANSI colours: service names dim, error spans red. Default false.
    pub color: bool,
    /// Whether to mark the spans on the critical path (see [`crate::analysis::critical_path`])
    /// with `◆` and the time they spend on it. Default false.
    pub critical_path: bool,
}

impl Default for WaterfallOptions {
    fn default() -> Self {
        WaterfallOptions {
            width: 40,
            color: false,
            critical_path: false,
        }
    }
}

/// Draws `trace`: a header line, then one line per span in tree order (children under their
/// parent, two spaces of indent per level, siblings by start time; spans whose parent has not
/// arrived start at the left). Every line ends with `\n`.
pub fn render(trace: &Trace, options: &WaterfallOptions) -> String {
    let trace_start = trace.start_unix_nano();
    let trace_nanos = trace.end_unix_nano().saturating_sub(trace_start);
    let spans = if trace.spans.len() == 1 {
        "span"
    } else {
        "spans"
    };
    let mut out = format!(
        "trace {}  {}  {} {spans}\n",
        trace.id,
        human_duration(trace_nanos),
        trace.spans.len()
    );

    let order = tree_order(&trace.spans);
    let rows: Vec<(usize, &SpanRecord)> = order
        .iter()
        .map(|&(i, depth)| (depth, &trace.spans[i]))
        .collect();
    let service_width = rows
        .iter()
        .map(|(_, s)| s.service_name().chars().count())
        .max()
        .unwrap_or(0);
    let name_width = rows
        .iter()
        .map(|(d, s)| d * 2 + s.name().chars().count())
        .max()
        .unwrap_or(0);
    let durations: Vec<String> = rows
        .iter()
        .map(|(_, s)| human_duration(span_nanos(s)))
        .collect();
    let duration_width = durations
        .iter()
        .map(|d| d.chars().count())
        .max()
        .unwrap_or(0);

    // Each span's own time on the critical path, when asked for.
    let mut on_path = vec![0u64; trace.spans.len()];
    if options.critical_path {
        for segment in crate::analysis::critical_path(trace) {
            on_path[segment.span] += segment.nanos();
        }
    }
    let rows: Vec<(usize, &SpanRecord, u64)> = rows
        .into_iter()
        .zip(&order)
        .map(|((depth, span), &(i, _))| (depth, span, on_path[i]))
        .collect();

    for ((depth, span, critical), duration) in rows.iter().zip(&durations) {
        let service = span.service_name();
        let service_pad = " ".repeat(service_width - service.chars().count());
        let name = format!("{}{}", "  ".repeat(*depth), span.name());
        let name_pad = " ".repeat(name_width - name.chars().count());
        let (offset, len) = bar(
            span.start_unix_nano().saturating_sub(trace_start),
            span_nanos(span),
            trace_nanos,
            options.width,
        );
        let filled = "█".repeat(len);
        let before = " ".repeat(offset);
        let after = " ".repeat(options.width - offset - len);
        let error = span.is_error();
        let (dim, red, reset) = match options.color {
            true => (DIM, if error { RED } else { "" }, RESET),
            false => ("", "", ""),
        };
        // Reset only where a colour was opened, so coloured output has no stray codes either.
        let bar_reset = if red.is_empty() { "" } else { reset };
        out.push_str(&format!(
            "{dim}{service}{reset}{service_pad}  {name}{name_pad}  │{before}{red}{filled}{bar_reset}{after}│  {duration:>duration_width$}"
        ));
        if error {
            out.push_str(&format!("  {red}✗ error{bar_reset}"));
        }
        if *critical > 0 {
            out.push_str(&format!("  ◆ {} critical", human_duration(*critical)));
        }
        out.push('\n');
    }
    out
}

fn span_nanos(span: &SpanRecord) -> u64 {
    span.end_unix_nano().saturating_sub(span.start_unix_nano())
}

/// Cell offset and length of a span's bar: offset rounds down, length rounds to nearest but is
/// at least one cell, and the bar never runs past `width`.
fn bar(offset_nanos: u64, span_nanos: u64, trace_nanos: u64, width: usize) -> (usize, usize) {
    if width == 0 {
        return (0, 0);
    }
    if trace_nanos == 0 {
        return (0, 1);
    }
    let (w, total) = (width as u128, u128::from(trace_nanos));
    let offset = (u128::from(offset_nanos) * w / total).min(w - 1) as usize;
    let len = ((u128::from(span_nanos) * w + total / 2) / total).max(1) as usize;
    (offset, len.min(width - offset))
}

/// Span indexes with their depth, parents before children, siblings in start order (the spans
/// are sorted by start already). Iterative, so a deep chain cannot overflow the stack, and
/// every span appears once even if ids repeat or parents form a cycle.
fn tree_order(spans: &[SpanRecord]) -> Vec<(usize, usize)> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, parent) in traceql::parent_indexes(spans).into_iter().enumerate() {
        match parent {
            Some(parent) => children[parent].push(i),
            None => roots.push(i),
        }
    }
    let mut order = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    // Spans caught in a parent cycle are reachable from no root; they start a tree of their own.
    let starts = roots.into_iter().chain(0..spans.len());
    for start in starts {
        let mut stack = vec![(start, 0)];
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut visited[i], true) {
                continue;
            }
            order.push((i, depth));
            stack.extend(children[i].iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    order
}

/// `2.01 s`, `3.4 ms`, `120 µs`, `87 ns`: three significant digits at most, trailing zeros cut.
pub fn human_duration(nanos: u64) -> String {
    const UNITS: [(f64, &str); 4] = [(1.0, "ns"), (1e3, "µs"), (1e6, "ms"), (1e9, "s")];
    let mut unit = UNITS
        .iter()
        .rposition(|(scale, _)| nanos as f64 >= *scale)
        .unwrap_or(0);
    loop {
        let (scale, name) = UNITS[unit];
        let value = nanos as f64 / scale;
        let decimals = if unit == 0 || value >= 100.0 {
            0
        } else if value >= 10.0 {
            1
        } else {
            2
        };
        let mut text = format!("{value:.decimals$}");
        if text.contains('.') {
            text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
        }
        // 999.9 µs rounds to "1000 µs"; say "1 ms" instead.
        if text == "1000" && unit + 1 < UNITS.len() {
            unit += 1;
            continue;
        }
        return format!("{text} {name}");
    }
}

#[cfg(test)]
mod tests;
