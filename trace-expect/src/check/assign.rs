//! The ways [`Matcher`] pairs a node's children with a span's: exactly (a dynamic programme
//! over which spans are taken, for small sets), greedily (cheapest pairs first, for large
//! ones), in order (an edit-distance alignment, for `ordered: true`), and by position (for sets
//! too wide to weigh every pair).

use super::{Matcher, Pair};

impl Matcher<'_, '_, '_> {
    /// Exact: over nodes in order, each takes a free span or none; state = (node, spans used).
    pub(super) fn exact(&mut self, nodes: &[usize], spans: &[usize]) -> (usize, Vec<Pair>) {
        let full = 1usize << spans.len();
        // best[i][mask]: least cost of nodes[i..] given spans in `mask` are taken, with the
        // extra cost of the spans left over at the end.
        let mut best = vec![vec![usize::MAX; full]; nodes.len() + 1];
        for (mask, cost) in best[nodes.len()].iter_mut().enumerate() {
            *cost = (0..spans.len())
                .filter(|j| mask & (1 << j) == 0)
                .map(|j| self.extra_cost(spans[j]))
                .sum();
        }
        for i in (0..nodes.len()).rev() {
            for mask in 0..full {
                let mut least = self.missing_cost(nodes[i]) + best[i + 1][mask];
                for j in 0..spans.len() {
                    if mask & (1 << j) == 0 {
                        let with = self.cost(nodes[i], spans[j]) + best[i + 1][mask | (1 << j)];
                        least = least.min(with);
                    }
                }
                best[i][mask] = least;
            }
        }
        // Walk the table forward to recover the choices.
        let mut pairs = Vec::new();
        let mut mask = 0;
        for i in 0..nodes.len() {
            let target = best[i][mask];
            let mut chosen = None;
            for j in 0..spans.len() {
                if mask & (1 << j) == 0
                    && self.cost(nodes[i], spans[j]) + best[i + 1][mask | (1 << j)] == target
                {
                    chosen = Some(j);
                    break;
                }
            }
            match chosen {
                Some(j) => {
                    mask |= 1 << j;
                    pairs.push((Some(nodes[i]), Some(spans[j])));
                }
                None => pairs.push((Some(nodes[i]), None)),
            }
        }
        for (j, span) in spans.iter().enumerate() {
            if mask & (1 << j) == 0 {
                pairs.push((None, Some(*span)));
            }
        }
        (best[0][0], pairs)
    }

    /// Greedy, for large sibling sets: cheapest pairs first, while pairing beats leaving both.
    pub(super) fn greedy(&mut self, nodes: &[usize], spans: &[usize]) -> (usize, Vec<Pair>) {
        let mut candidates = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            for (j, span) in spans.iter().enumerate() {
                let cost = self.cost(*node, *span);
                if cost <= self.missing_cost(*node) + self.extra_cost(*span) {
                    candidates.push((cost, i, j));
                }
            }
        }
        candidates.sort_unstable();
        let mut node_taken = vec![None; nodes.len()];
        let mut span_taken = vec![false; spans.len()];
        let mut total = 0;
        for (cost, i, j) in candidates {
            if node_taken[i].is_none() && !span_taken[j] {
                node_taken[i] = Some(j);
                span_taken[j] = true;
                total += cost;
            }
        }
        let mut pairs = Vec::new();
        for (i, taken) in node_taken.iter().enumerate() {
            if taken.is_none() {
                total += self.missing_cost(nodes[i]);
            }
            pairs.push((Some(nodes[i]), taken.map(|j| spans[j])));
        }
        for (j, taken) in span_taken.iter().enumerate() {
            if !taken {
                total += self.extra_cost(spans[j]);
                pairs.push((None, Some(spans[j])));
            }
        }
        (total, pairs)
    }

    /// In order: an edit-distance alignment of nodes with spans sorted by start.
    pub(super) fn align(&mut self, nodes: &[usize], spans: &[usize]) -> (usize, Vec<Pair>) {
        let (n, m) = (nodes.len(), spans.len());
        let mut best = vec![vec![0usize; m + 1]; n + 1];
        for i in (0..=n).rev() {
            for j in (0..=m).rev() {
                best[i][j] = match (i < n, j < m) {
                    (false, false) => 0,
                    (true, false) => self.missing_cost(nodes[i]) + best[i + 1][j],
                    (false, true) => self.extra_cost(spans[j]) + best[i][j + 1],
                    (true, true) => (self.cost(nodes[i], spans[j]) + best[i + 1][j + 1])
                        .min(self.missing_cost(nodes[i]) + best[i + 1][j])
                        .min(self.extra_cost(spans[j]) + best[i][j + 1]),
                };
            }
        }
        let (mut i, mut j, mut pairs) = (0, 0, Vec::new());
        while i < n || j < m {
            if i < n && j < m && self.cost(nodes[i], spans[j]) + best[i + 1][j + 1] == best[i][j] {
                pairs.push((Some(nodes[i]), Some(spans[j])));
                (i, j) = (i + 1, j + 1);
            } else if i < n && self.missing_cost(nodes[i]) + best[i + 1][j] == best[i][j] {
                pairs.push((Some(nodes[i]), None));
                i += 1;
            } else {
                pairs.push((None, Some(spans[j])));
                j += 1;
            }
        }
        (best[0][0], pairs)
    }

    /// By position, for sibling sets too wide to weigh every pair: the n-th node with the n-th
    /// span (spans in start order), the rest missing or extra.
    pub(super) fn positional(&mut self, nodes: &[usize], spans: &[usize]) -> (usize, Vec<Pair>) {
        let mut total = 0;
        let mut pairs = Vec::with_capacity(nodes.len().max(spans.len()));
        for at in 0..nodes.len().max(spans.len()) {
            let pair = (nodes.get(at).copied(), spans.get(at).copied());
            total += match pair {
                (Some(node), Some(span)) => self.cost(node, span),
                (Some(node), None) => self.missing_cost(node),
                (None, Some(span)) => self.extra_cost(span),
                (None, None) => 0,
            };
            pairs.push(pair);
        }
        (total, pairs)
    }
}
