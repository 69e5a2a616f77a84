//! Snapshot mode: the shape of a real trace, ids and times left out, and the files that keep
//! such shapes for tests ([`check_snapshot`]), updated when [`UPDATE_ENV`] says so, as insta's
//! `INSTA_UPDATE` does for its snapshots.

use std::path::Path;

use trace_store::Trace;
use trace_store::store::AttrValue;

use crate::check::compare;
use crate::facts::Tree;
use crate::shape::{AttrExpect, Matcher, Node, Shape, ShapeError};

/// Set to `always` (or `1`) to write recorded shapes over the files instead of comparing;
/// unset, a missing file is a failure that says how to create it.
pub const UPDATE_ENV: &str = "TRACE_EXPECT_UPDATE";

/// The shape of `trace`: every span with its service, name, kind (when set), status, span
/// attributes with their exact values and types, and event names; children in start order.
/// Ids, times and durations are left out. Attributes that are arrays, maps or bytes are
/// recorded as `{ present: true }`.
///
/// `expect` accepts the result for the same trace; for other runs, loosen what varies (a
/// port, a user agent) to a `regex` or `present` matcher by hand.
pub fn record(trace: &Trace) -> Shape {
    let tree = Tree::new(trace);
    let mut roots: Vec<Node> = tree.roots.iter().map(|r| node_of(&tree, *r)).collect();
    if roots.len() == 1 {
        Shape::root(roots.remove(0))
    } else {
        Shape {
            roots: Some(roots),
            ..Shape::default()
        }
    }
}

/// The node of `span`, built without recursion: traces can be deeper than the stack allows.
fn node_of(tree: &Tree<'_>, span: usize) -> Node {
    // Post-order: children are finished before their parent takes them.
    let mut order = Vec::new();
    let mut stack = vec![span];
    while let Some(s) = stack.pop() {
        order.push(s);
        stack.extend(tree.children[s].iter().copied());
    }
    let mut built: std::collections::HashMap<usize, Node> = std::collections::HashMap::new();
    for s in order.into_iter().rev() {
        let mut node = own_node(tree, s);
        node.children = tree.children[s]
            .iter()
            .filter_map(|c| built.remove(c))
            .collect();
        built.insert(s, node);
    }
    built.remove(&span).unwrap_or_default()
}

fn own_node(tree: &Tree<'_>, span: usize) -> Node {
    let facts = tree.facts(span);
    let record = facts.0;
    let attributes = record
        .attributes()
        .iter()
        .map(|a| {
            let value = match &a.value {
                AttrValue::Str(s) => AttrExpect::Str(s.to_string()),
                AttrValue::Int(i) => AttrExpect::Int(*i),
                AttrValue::Float(d) => AttrExpect::Float(*d),
                AttrValue::Bool(b) => AttrExpect::Bool(*b),
                AttrValue::Other(_) => AttrExpect::Matcher(Matcher {
                    present: Some(true),
                    ..Matcher::default()
                }),
            };
            (a.key.to_string(), value)
        })
        .collect();
    let mut events: Vec<String> = record.events().iter().map(|e| e.name.clone()).collect();
    events.dedup();
    Node {
        service: Some(record.service_name().to_owned()),
        name: Some(record.name().to_owned()),
        kind: facts.kind(),
        status: Some(facts.status()),
        attributes,
        events,
        ..Node::default()
    }
}

/// What [`check_snapshot`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    /// The trace matches the shape in the file.
    Matched,
    /// [`UPDATE_ENV`] was set: the file now holds the trace's shape.
    Written,
}

/// Why [`check_snapshot`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// No file yet, and [`UPDATE_ENV`] is not set.
    #[error("no shape recorded at {0}; run with {UPDATE_ENV}=always to record it")]
    Missing(String),
    /// The file is not a valid shape.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The recorded shape could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The trace does not match; the text is the whole report.
    #[error("{0}")]
    Mismatch(String),
}

/// Compares `trace` with the shape file at `path`, or, with [`UPDATE_ENV`] set, writes the
/// trace's shape there. A mismatch comes with the diff as [`crate::report`] draws it.
pub fn check_snapshot(trace: &Trace, path: &Path, color: bool) -> Result<Snapshot, SnapshotError> {
    let update = std::env::var(UPDATE_ENV).is_ok_and(|v| v == "always" || v == "1");
    snapshot(trace, path, update, color)
}

/// [`check_snapshot`] with the decision to write made by the caller rather than read from
/// [`UPDATE_ENV`] (for tools that take it as a flag, and for tests, which cannot set a
/// process-wide variable safely).
pub fn snapshot(
    trace: &Trace,
    path: &Path,
    update: bool,
    color: bool,
) -> Result<Snapshot, SnapshotError> {
    let write_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| SnapshotError::Write { path, source }
    };
    if update {
        let text = record(trace).to_yaml();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write_error(dir))?;
        }
        std::fs::write(path, text).map_err(write_error(path))?;
        return Ok(Snapshot::Written);
    }
    if !path.exists() {
        return Err(SnapshotError::Missing(path.display().to_string()));
    }
    let shape = Shape::from_file(path)?;
    let comparison = compare(&shape, trace);
    if comparison.matches() {
        return Ok(Snapshot::Matched);
    }
    Err(SnapshotError::Mismatch(format!(
        "trace {} does not match the recorded shape {} (run with {UPDATE_ENV}=always to \
         record it again)\n{}",
        trace.id,
        path.display(),
        crate::report::render(&comparison, color)
    )))
}
