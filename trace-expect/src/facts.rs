//! The actual side of a comparison: a trace's spans as a forest ([`Tree`]), what a shape can
//! check of one span ([`SpanFacts`]), and the differences between a node and a span, in the
//! words the failure messages use (`status unset, expected error`).

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use trace_store::store::AttrValue;
use trace_store::{SpanRecord, Trace};

use crate::shape::{AttrExpect, Kind, Node, Status};

/// A trace's spans as a forest: children in start order, roots first-started first.
///
/// A span whose parent is not in the trace is a root here. Parent links that form a cycle
/// (possible only in hostile data) are broken where first met, so every span is in exactly
/// one place and walks always end.
pub(crate) struct Tree<'t> {
    trace: &'t Trace,
    pub(crate) roots: Vec<usize>,
    pub(crate) children: Vec<Vec<usize>>,
    /// The number of spans in each span's subtree, itself included.
    pub(crate) size: Vec<usize>,
}

impl<'t> Tree<'t> {
    pub(crate) fn new(trace: &'t Trace) -> Self {
        let parents = trace.parents();
        let n = trace.spans.len();
        let mut all_children = vec![Vec::new(); n];
        let mut starts = Vec::new();
        for (span, parent) in parents.iter().enumerate() {
            match parent {
                Some(p) => all_children[*p].push(span),
                None => starts.push(span),
            }
        }
        // Every span reachable from a true root first, then whatever a cycle hid.
        let mut placed = vec![false; n];
        let mut tree = Tree {
            trace,
            roots: Vec::new(),
            children: vec![Vec::new(); n],
            size: vec![1; n],
        };
        let mut order = Vec::with_capacity(n);
        for root in starts.into_iter().chain(0..n) {
            if placed[root] {
                continue;
            }
            placed[root] = true;
            tree.roots.push(root);
            let mut stack = vec![root];
            while let Some(span) = stack.pop() {
                order.push(span);
                for child in &all_children[span] {
                    if !placed[*child] {
                        placed[*child] = true;
                        tree.children[span].push(*child);
                        stack.push(*child);
                    }
                }
            }
        }
        // Sizes bottom-up: a child is always later in `order` than its parent.
        for span in order.into_iter().rev() {
            let below: usize = tree.children[span].iter().map(|c| tree.size[*c]).sum();
            tree.size[span] += below;
        }
        tree
    }

    pub(crate) fn facts(&self, span: usize) -> SpanFacts<'t> {
        SpanFacts(&self.trace.spans[span])
    }
}

/// One span, read the way a shape reads it.
pub(crate) struct SpanFacts<'t>(pub(crate) &'t SpanRecord);

impl SpanFacts<'_> {
    /// `app-a SERVER GET /`.
    pub(crate) fn label(&self) -> String {
        format!(
            "{} {} {}",
            self.0.service_name(),
            kind_word(self.0.kind()),
            self.0.name()
        )
    }

    pub(crate) fn kind(&self) -> Option<Kind> {
        match self.0.kind() {
            SpanKind::Server => Some(Kind::Server),
            SpanKind::Client => Some(Kind::Client),
            SpanKind::Internal => Some(Kind::Internal),
            SpanKind::Producer => Some(Kind::Producer),
            SpanKind::Consumer => Some(Kind::Consumer),
            SpanKind::Unspecified => None,
        }
    }

    pub(crate) fn status(&self) -> Status {
        match self.0.status_code() {
            1 => Status::Ok,
            2 => Status::Error,
            _ => Status::Unset,
        }
    }
}

/// The kind as the labels write it.
fn kind_word(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "SERVER",
        SpanKind::Client => "CLIENT",
        SpanKind::Internal => "INTERNAL",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Unspecified => "UNSPECIFIED",
    }
}

/// What differs between `node` and the span, one phrase each; empty when the span matches
/// (children aside: those are the caller's).
/// How many of the identity fields a node gives (service, name, kind) the span does not
/// have: the first entries of [`differences`], weighed apart from the rest when pairing.
pub(crate) fn identity_differences(node: &Node, span: &SpanFacts<'_>) -> usize {
    let record = span.0;
    usize::from(
        node.service
            .as_ref()
            .is_some_and(|s| s != record.service_name()),
    ) + usize::from(node.name.as_ref().is_some_and(|n| n != record.name()))
        + usize::from(node.kind.is_some_and(|k| Some(k) != span.kind()))
}

pub(crate) fn differences(node: &Node, span: &SpanFacts<'_>) -> Vec<String> {
    let record = span.0;
    let mut out = Vec::new();
    if let Some(service) = &node.service
        && service != record.service_name()
    {
        out.push(format!(
            "service {}, expected {service}",
            record.service_name()
        ));
    }
    if let Some(name) = &node.name
        && name != record.name()
    {
        out.push(format!("name {:?}, expected {name:?}", record.name()));
    }
    if let Some(kind) = node.kind
        && Some(kind) != span.kind()
    {
        out.push(format!(
            "kind {}, expected {kind}",
            kind_word(record.kind())
        ));
    }
    if let Some(status) = node.status
        && status != span.status()
    {
        out.push(format!("status {}, expected {status}", span.status()));
    }
    for (key, expect) in &node.attributes {
        if let Some(problem) = attribute_problem(key, expect, record.attribute(key)) {
            out.push(problem);
        }
    }
    if let Some(bounds) = node.duration {
        let took = record.duration();
        let words = |d: Duration| humantime::format_duration(d).to_string();
        if let Some(min) = bounds.min.filter(|min| took < *min) {
            out.push(format!(
                "duration {}, expected at least {}",
                words(took),
                words(min)
            ));
        }
        if let Some(max) = bounds.max.filter(|max| took > *max) {
            out.push(format!(
                "duration {}, expected at most {}",
                words(took),
                words(max)
            ));
        }
    }
    for event in &node.events {
        if !record.events().iter().any(|e| &e.name == event) {
            out.push(format!("missing event {event}"));
        }
    }
    out
}

fn attribute_problem(key: &str, expect: &AttrExpect, actual: Option<&AttrValue>) -> Option<String> {
    let Some(actual) = actual else {
        return match expect {
            AttrExpect::Matcher(m) if m.absent == Some(true) => None,
            AttrExpect::Matcher(m) if m.present == Some(true) => {
                Some(format!("attribute {key} missing, expected present"))
            }
            _ => Some(format!(
                "attribute {key} missing, expected {}",
                expected_words(expect)
            )),
        };
    };
    let ok = match (expect, actual) {
        (AttrExpect::Matcher(m), _) if m.absent == Some(true) => {
            return Some(format!(
                "attribute {key} is {}, expected absent",
                value_words(actual)
            ));
        }
        (AttrExpect::Matcher(m), _) if m.present == Some(true) => true,
        (AttrExpect::Matcher(m), AttrValue::Str(s)) => {
            m.regex.as_ref().is_none_or(|r| r.0.is_match(s))
        }
        (AttrExpect::Matcher(_), _) => false,
        (AttrExpect::Str(want), AttrValue::Str(got)) => want == got.as_str(),
        (AttrExpect::Int(want), AttrValue::Int(got)) => want == got,
        (AttrExpect::Float(want), AttrValue::Float(got)) => want == got,
        (AttrExpect::Bool(want), AttrValue::Bool(got)) => want == got,
        _ => {
            return Some(format!(
                "attribute {key} is {}, expected {}",
                value_words(actual),
                expected_words(expect)
            ));
        }
    };
    (!ok).then(|| {
        format!(
            "attribute {key} is {}, expected {}",
            value_words(actual),
            expected_words(expect)
        )
    })
}

/// `string "GET"`, `int 200`: the type always, since a type mismatch is a mismatch.
fn value_words(value: &AttrValue) -> String {
    match value {
        AttrValue::Str(s) => format!("string {:?}", s.as_str()),
        AttrValue::Int(i) => format!("int {i}"),
        AttrValue::Float(d) => format!("double {d:?}"),
        AttrValue::Bool(b) => format!("bool {b}"),
        AttrValue::Other(_) => "an array, map or bytes value".to_owned(),
    }
}

fn expected_words(expect: &AttrExpect) -> String {
    match expect {
        AttrExpect::Str(s) => format!("string {s:?}"),
        AttrExpect::Int(i) => format!("int {i}"),
        AttrExpect::Float(d) => format!("double {d:?}"),
        AttrExpect::Bool(b) => format!("bool {b}"),
        AttrExpect::Matcher(m) => match &m.regex {
            Some(r) => format!("a string matching /{}/", r.0.as_str()),
            None if m.absent == Some(true) => "absent".to_owned(),
            None => "present".to_owned(),
        },
    }
}
