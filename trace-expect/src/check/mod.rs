//! Comparing a trace with a shape: which span each node stands for, and what differs.
//!
//! Children are matched as a multiset, so the comparison is an assignment problem at every
//! level: each pairing of a node with a span costs its own differences plus the cost of pairing
//! their children; a node left without a span costs its whole subtree (missing), and a span
//! left without a node costs its subtree too (extra) unless `extra_spans` allows it. The
//! cheapest assignment is the one shown. Costs are in units of `SPAN_WEIGHT`, the cost of one
//! span missing or extra: a difference of identity (service, name, kind) costs one unit, and
//! all other differences of a pair (status, attributes, duration, events) together cost less
//! than one. So a span with a node's service, name and kind is shown as that node with its
//! differences, however many, rather than as one span missing and another extra.
//! Costs are memoised per (node, span) pair; sibling sets are assigned exactly (a small dynamic
//! programme) up to [`EXACT_LIMIT`] states, greedily past it, and by position past
//! [`PAIR_LIMIT`] pairs. `ordered: true` turns a set into a sequence, aligned like an edit
//! distance.

use std::collections::HashMap;

use serde::Serialize;
use trace_store::Trace;

use crate::facts;
use crate::shape::{Node, Shape};

mod assign;

/// The cost of one span missing or extra, and of one difference of identity in a pair; the
/// other differences of a pair, however many, cost less than one of these together.
const SPAN_WEIGHT: usize = 1 << 10;

/// The largest (children of a node) × 2^(children of a span) solved exactly.
pub const EXACT_LIMIT: usize = 1 << 14;

/// The most (children of a node) × (children of a span) pairs weighed against each other. Past
/// it, children are paired by position (the n-th node with the n-th span to start), so time and
/// memory stay linear however wide a trace is.
pub const PAIR_LIMIT: usize = 1 << 20;

/// Most rows a comparison lists; past it the rest are counted, not shown.
pub const MAX_ROWS: usize = 1_000;

/// One line of the side-by-side view: a node and the span it was paired with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Depth in the tree (0 for a root).
    pub depth: usize,
    /// The node, as `service KIND name` (`*` for what it leaves unchecked); `None` for a span
    /// no node stands for.
    pub expected: Option<String>,
    /// The span, as `service KIND name`; `None` for a node no span matched.
    pub actual: Option<String>,
    /// What is wrong on this line, in words; empty when it matches.
    pub problems: Vec<String>,
}

/// The outcome of [`compare`]: the side-by-side rows and the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Every node and span, in tree order, paired.
    pub rows: Vec<Row>,
    /// Rows left out past [`MAX_ROWS`].
    pub rows_left_out: usize,
    /// Spans in the trace.
    pub spans: usize,
    /// Nodes in the shape.
    pub nodes: usize,
}

impl Comparison {
    /// Whether the trace matches the shape.
    pub fn matches(&self) -> bool {
        self.rows.iter().all(|row| row.problems.is_empty())
    }

    /// Every difference, one sentence each, in tree order: `missing: app-c SERVER GET /`,
    /// `app-c SERVER GET /: status unset, expected error`, `extra span: …`.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for row in &self.rows {
            match (&row.expected, &row.actual) {
                (Some(node), None) => out.push(format!("missing: {node}")),
                (None, Some(span)) if !row.problems.is_empty() => {
                    out.push(format!("extra span: {span}"));
                }
                (_, Some(span)) => {
                    out.extend(row.problems.iter().map(|p| format!("{span}: {p}")));
                }
                (None, None) => {}
            }
        }
        out
    }

    /// The nodes no span matched, as `service KIND name`.
    pub fn missing(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|row| row.actual.is_none())
            .filter_map(|row| row.expected.as_deref())
            .collect()
    }
}

/// Compares `trace` with `shape`.
pub fn compare(shape: &Shape, trace: &Trace) -> Comparison {
    let nodes = Nodes::new(shape.roots());
    let spans = facts::Tree::new(trace);
    let mut matcher = Matcher {
        nodes: &nodes,
        spans: &spans,
        extra_ok: shape.options.extra_spans,
        memo: HashMap::new(),
    };
    let mut rows = Vec::new();
    let pairs = matcher.assign(&nodes.roots, &spans.roots, false).1;
    matcher.rows(&pairs, 0, &mut rows);
    let rows_left_out = rows.len().saturating_sub(MAX_ROWS);
    // Keep the first problem visible even when it is past the cut.
    if rows_left_out > 0 {
        let first = rows.iter().position(|r| !r.problems.is_empty());
        let mut kept: Vec<Row> = rows.iter().take(MAX_ROWS).cloned().collect();
        if let Some(first) = first.filter(|at| *at >= MAX_ROWS) {
            kept.push(rows[first].clone());
        }
        rows = kept;
    }
    Comparison {
        rows,
        rows_left_out,
        spans: trace.spans.len(),
        nodes: nodes.all.len(),
    }
}

/// The shape's nodes in an arena: children as indexes, subtree sizes precomputed.
struct Nodes<'s> {
    all: Vec<&'s Node>,
    children: Vec<Vec<usize>>,
    size: Vec<usize>,
    roots: Vec<usize>,
}

impl<'s> Nodes<'s> {
    fn new(roots: &'s [Node]) -> Self {
        let mut nodes = Nodes {
            all: Vec::new(),
            children: Vec::new(),
            size: Vec::new(),
            roots: Vec::new(),
        };
        for root in roots {
            let id = nodes.add(root);
            nodes.roots.push(id);
        }
        nodes
    }

    fn add(&mut self, node: &'s Node) -> usize {
        let id = self.all.len();
        self.all.push(node);
        self.children.push(Vec::new());
        self.size.push(node.count());
        for child in &node.children {
            let child_id = self.add(child);
            self.children[id].push(child_id);
        }
        id
    }
}

/// A pairing in an assignment: a node with a span, a node alone (missing), a span alone
/// (extra).
type Pair = (Option<usize>, Option<usize>);

struct Matcher<'a, 's, 't> {
    nodes: &'a Nodes<'s>,
    spans: &'a facts::Tree<'t>,
    extra_ok: bool,
    memo: HashMap<(usize, usize), usize>,
}

impl Matcher<'_, '_, '_> {
    fn missing_cost(&self, node: usize) -> usize {
        self.nodes.size[node] * SPAN_WEIGHT
    }

    fn extra_cost(&self, span: usize) -> usize {
        if self.extra_ok {
            0
        } else {
            self.spans.size[span] * SPAN_WEIGHT
        }
    }

    /// Differences between node `node` and span `span`, their subtrees included.
    fn cost(&mut self, node: usize, span: usize) -> usize {
        if let Some(cost) = self.memo.get(&(node, span)) {
            return *cost;
        }
        let (expected, actual) = (self.nodes.all[node], self.spans.facts(span));
        let identity = facts::identity_differences(expected, &actual);
        let others = facts::differences(expected, &actual).len() - identity;
        let own = identity * SPAN_WEIGHT + others.min(SPAN_WEIGHT - 1);
        let node_children = self.nodes.children[node].clone();
        let span_children = self.spans.children[span].clone();
        let ordered = self.nodes.all[node].ordered;
        let cost = own + self.assign(&node_children, &span_children, ordered).0;
        self.memo.insert((node, span), cost);
        cost
    }

    /// The cheapest pairing of `nodes` with `spans`, and its cost.
    fn assign(&mut self, nodes: &[usize], spans: &[usize], ordered: bool) -> (usize, Vec<Pair>) {
        let pairs = nodes.len().saturating_mul(spans.len());
        let exact_states = nodes.len().max(1).saturating_mul(1 << spans.len().min(30));
        if pairs > PAIR_LIMIT {
            self.positional(nodes, spans)
        } else if ordered {
            self.align(nodes, spans)
        } else if spans.len() <= 16 && exact_states <= EXACT_LIMIT {
            self.exact(nodes, spans)
        } else {
            self.greedy(nodes, spans)
        }
    }

    /// The rows of an assignment and everything below it.
    fn rows(&mut self, pairs: &[Pair], depth: usize, rows: &mut Vec<Row>) {
        for pair in pairs {
            if rows.len() > MAX_ROWS * 2 {
                return;
            }
            match *pair {
                (Some(node), Some(span)) => {
                    let facts = self.spans.facts(span);
                    rows.push(Row {
                        depth,
                        expected: Some(self.nodes.all[node].to_string()),
                        actual: Some(facts.label()),
                        problems: facts::differences(self.nodes.all[node], &facts),
                    });
                    let node_children = self.nodes.children[node].clone();
                    let span_children = self.spans.children[span].clone();
                    let ordered = self.nodes.all[node].ordered;
                    let below = self.assign(&node_children, &span_children, ordered).1;
                    self.rows(&below, depth + 1, rows);
                }
                (Some(node), None) => self.missing_rows(node, depth, rows),
                (None, Some(span)) => self.extra_rows(span, depth, rows),
                (None, None) => {}
            }
        }
    }

    fn missing_rows(&self, node: usize, depth: usize, rows: &mut Vec<Row>) {
        rows.push(Row {
            depth,
            expected: Some(self.nodes.all[node].to_string()),
            actual: None,
            problems: vec!["missing".to_owned()],
        });
        for child in &self.nodes.children[node] {
            self.missing_rows(*child, depth + 1, rows);
        }
    }

    /// A span no node stands for, and its subtree, without recursion (a trace can be deep).
    fn extra_rows(&self, span: usize, depth: usize, rows: &mut Vec<Row>) {
        let mut stack = vec![(span, depth)];
        while let Some((span, depth)) = stack.pop() {
            if rows.len() > MAX_ROWS * 2 {
                return;
            }
            rows.push(Row {
                depth,
                expected: None,
                actual: Some(self.spans.facts(span).label()),
                problems: if self.extra_ok {
                    Vec::new()
                } else {
                    vec!["not in the shape".to_owned()]
                },
            });
            for child in self.spans.children[span].iter().rev() {
                stack.push((*child, depth + 1));
            }
        }
    }
}
