//! The span tree of one trace and the structural operators over it: `>`, `>>`, `<`, `<<`, `~`,
//! their union forms (`&>` …: the spans of both sides that take part) and their negations (`!>` …:
//! the right spans the plain operator leaves out).
//!
//! As in Tempo (which numbers the tree as nested sets from the roots), only spans connected to a
//! root take part: a span whose parent chain ends at a span we do not hold is never a child,
//! parent, ancestor, descendant or sibling of anything. The tree is built only for queries that
//! use a structural operator, once per trace.

use crate::syntax::ast::{Relation, SpansetOp};
use crate::view::parent_indexes;
use crate::{SpanView, TraceView};

/// Parent links by index into `trace.spans()`, and which spans connect to a root.
pub(super) struct Tree {
    parent: Vec<Option<usize>>,
    reachable: Vec<bool>,
}

impl Tree {
    pub(super) fn new<T: TraceView>(trace: &T) -> Self {
        let spans = trace.spans();
        let parent = parent_indexes(spans);
        // 0 = unknown, 1 = reaches a root, 2 = does not (missing parent or a cycle).
        let mut state = vec![0u8; spans.len()];
        let mut path = Vec::new();
        for start in 0..spans.len() {
            let mut at = start;
            let verdict = loop {
                if state[at] != 0 {
                    break state[at];
                }
                if path.len() > spans.len() {
                    break 2; // a cycle of parent ids
                }
                path.push(at);
                if spans[at].parent_span_id().is_empty() {
                    break 1;
                }
                match parent[at] {
                    Some(p) => at = p,
                    None => break 2,
                }
            };
            for i in path.drain(..) {
                state[i] = verdict;
            }
        }
        Tree {
            parent,
            reachable: state.into_iter().map(|s| s == 1).collect(),
        }
    }

    /// The parent of a connected span.
    fn parent(&self, span: usize) -> Option<usize> {
        self.parent[span].filter(|_| self.reachable[span])
    }

    /// What structural operator `op` keeps of `left` and `right` (span indexes, ascending):
    /// ascending, each once.
    pub(super) fn apply(&self, op: SpansetOp, left: &[usize], right: &[usize]) -> Vec<usize> {
        match op {
            SpansetOp::Structural(relation) => self.relate(relation, left, right),
            SpansetOp::Union(relation) => {
                let mut both = self.relate(relation, left, right);
                both.extend(self.relate(relation.inverse(), right, left));
                both.sort_unstable();
                both.dedup();
                both
            }
            SpansetOp::Not(relation) => {
                let related = self.relate(relation, left, right);
                // Both ascending: one merge-like pass.
                let mut related = related.iter().peekable();
                right
                    .iter()
                    .copied()
                    .filter(|&r| {
                        while related.next_if(|&&x| x < r).is_some() {}
                        related.peek() != Some(&&r)
                    })
                    .collect()
            }
            SpansetOp::And | SpansetOp::Or => Vec::new(),
        }
    }

    /// The right-hand spans that stand in `relation` to some left-hand span, ascending.
    fn relate(&self, relation: Relation, left: &[usize], right: &[usize]) -> Vec<usize> {
        let n = self.parent.len();
        let mut in_left = vec![false; n];
        for &l in left.iter().filter(|&&l| self.reachable[l]) {
            in_left[l] = true;
        }
        let right = right.iter().copied().filter(|&r| self.reachable[r]);
        match relation {
            Relation::Child => right
                .filter(|&r| self.parent(r).is_some_and(|p| in_left[p]))
                .collect(),
            Relation::Descendant => right
                .filter(|&r| {
                    let mut at = self.parent(r);
                    // Connected spans have acyclic chains of at most n links.
                    while let Some(p) = at {
                        if in_left[p] {
                            return true;
                        }
                        at = self.parent(p);
                    }
                    false
                })
                .collect(),
            Relation::Parent => {
                let mut is_parent = vec![false; n];
                for l in (0..n).filter(|&l| in_left[l]) {
                    if let Some(p) = self.parent(l) {
                        is_parent[p] = true;
                    }
                }
                right.filter(|&r| is_parent[r]).collect()
            }
            Relation::Ancestor => {
                let mut is_ancestor = vec![false; n];
                for l in (0..n).filter(|&l| in_left[l]) {
                    let mut at = self.parent(l);
                    // Stop at a marked span: everything above it is marked already.
                    while let Some(p) = at.filter(|&p| !is_ancestor[p]) {
                        is_ancestor[p] = true;
                        at = self.parent(p);
                    }
                }
                right.filter(|&r| is_ancestor[r]).collect()
            }
            Relation::Sibling => {
                let mut left_children = vec![0usize; n];
                for l in (0..n).filter(|&l| in_left[l]) {
                    if let Some(p) = self.parent(l) {
                        left_children[p] += 1;
                    }
                }
                // A sibling is another span: discount r itself when it is on the left too.
                right
                    .filter(|&r| {
                        self.parent(r)
                            .is_some_and(|p| left_children[p] > usize::from(in_left[r]))
                    })
                    .collect()
            }
        }
    }
}
