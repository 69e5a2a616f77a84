//! The shape of a trace: what a test expects, read from YAML (`docs/shape.schema.json` is its
//! JSON Schema) or built in code, and written back out by [`crate::record()`].
//!
//! ```yaml
//! root:                  # or `roots:` with a list, for traces with several roots
//!   service: app-a       # every key optional; an omitted key is not checked
//!   name: GET /
//!   kind: server         # server | client | internal | producer | consumer
//!   status: unset        # unset | ok | error
//!   attributes:
//!     http.response.status_code: 200   # exact value, and its type (int here)
//!     url.path: { regex: "^/$" }        # also { present: true }, { absent: true }
//!   duration: { min: 100ms, max: 5s }
//!   events: [exception]                 # names that must be present
//!   children:                           # the direct children, matched as a multiset
//!     - service: app-a                  #   (ordered: true to require start order)
//!       kind: client
//! options:
//!   extra_spans: false   # default: a span that no node matches is a mismatch
//! ```
//!
//! Loading checks everything a shape can get wrong (unknown keys, a bad regex, `min` above
//! `max`, both or neither of `root` and `roots`) and says where, so a bad file never gets as
//! far as a confusing mismatch.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

mod values;
pub use values::{AttrExpect, DurationBounds, Matcher, Pattern};

/// The largest shape file read, in bytes: far more than any hand-written or recorded shape, and
/// a bound on what a stray argument (a log file, say) can make the loader hold.
pub const MAX_SHAPE_BYTES: usize = 1 << 20;

/// The most nodes a shape may have: the matcher's work grows with nodes × spans.
pub const MAX_NODES: usize = 10_000;

/// What a trace must look like: its root span(s) and the options of the comparison.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// The root span, for a trace with one root (the usual case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Node>,
    /// The roots, for a trace with several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots: Option<Vec<Node>>,
    /// How strict the comparison is.
    #[serde(default, skip_serializing_if = "Options::is_default")]
    pub options: Options,
}

/// How strict the comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Whether spans that no node matches are allowed. Default false: each is a mismatch.
    #[serde(default)]
    pub extra_spans: bool,
}

impl Options {
    fn is_default(&self) -> bool {
        *self == Options::default()
    }
}

/// One expected span: what is checked of it, and its direct children.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The resource's `service.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The span name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The span kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Span attributes (not the resource's), each checked on its own; others are not checked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttrExpect>,
    /// Bounds on the span's duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<DurationBounds>,
    /// Names of events the span must have (others may be there too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Whether `children` must have started in the order listed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ordered: bool,
    /// The direct children, matched as a multiset (or in order, with `ordered`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

/// A span kind, as the shape file spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Handles a request.
    Server,
    /// Makes a request.
    Client,
    /// Work inside a service.
    Internal,
    /// Sends a message.
    Producer,
    /// Receives a message.
    Consumer,
}

/// A status code, as the shape file spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No status set (OTLP's default).
    Unset,
    /// Explicitly ok.
    Ok,
    /// An error.
    Error,
}

/// Why a shape could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    /// The file could not be read.
    #[error("cannot read shape file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Larger than [`MAX_SHAPE_BYTES`].
    #[error("shape is {0} bytes, more than the {MAX_SHAPE_BYTES} allowed")]
    TooLarge(usize),
    /// Not YAML, or not a shape; the text says where.
    #[error("not a valid shape: {0}")]
    Syntax(String),
    /// Well-formed but impossible; the text says which node and why.
    #[error("not a valid shape: {0}")]
    Invalid(String),
}

impl Shape {
    /// A shape with one root.
    pub fn root(node: Node) -> Self {
        Shape {
            root: Some(node),
            ..Shape::default()
        }
    }

    /// Reads a shape from YAML text, checking it (see the module docs).
    pub fn from_yaml(text: &str) -> Result<Self, ShapeError> {
        if text.len() > MAX_SHAPE_BYTES {
            return Err(ShapeError::TooLarge(text.len()));
        }
        let shape: Shape =
            serde_yaml_ng::from_str(text).map_err(|e| ShapeError::Syntax(e.to_string()))?;
        shape.check()?;
        Ok(shape)
    }

    /// Reads and checks the shape file at `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ShapeError> {
        let path = path.as_ref();
        let read = |source| ShapeError::Read {
            path: path.display().to_string(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_SHAPE_BYTES as u64 {
            return Err(ShapeError::TooLarge(
                usize::try_from(size).unwrap_or(usize::MAX),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Shape::from_yaml(&text).map_err(|e| match e {
            ShapeError::Syntax(text) => ShapeError::Syntax(format!("{}: {text}", path.display())),
            ShapeError::Invalid(text) => ShapeError::Invalid(format!("{}: {text}", path.display())),
            other => other,
        })
    }

    /// The shape as YAML, in the format [`Shape::from_yaml`] reads.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_else(|e| format!("# cannot write shape: {e}\n"))
    }

    /// The root nodes, whichever of `root` and `roots` holds them.
    pub fn roots(&self) -> &[Node] {
        match (&self.root, &self.roots) {
            (Some(root), _) => std::slice::from_ref(root),
            (None, Some(roots)) => roots,
            (None, None) => &[],
        }
    }

    /// How many nodes the shape has: the number of spans a matching trace has at least.
    pub fn node_count(&self) -> usize {
        self.roots().iter().map(Node::count).sum()
    }

    /// Checks what serde cannot: exactly one of `root`/`roots`, one key per matcher, bounds in
    /// order, and a bounded size.
    pub fn check(&self) -> Result<(), ShapeError> {
        let invalid = |text: String| Err(ShapeError::Invalid(text));
        match (&self.root, &self.roots) {
            (Some(_), Some(_)) => return invalid("give `root` or `roots`, not both".into()),
            (None, None) => return invalid("no `root` (or `roots`) given".into()),
            (None, Some(roots)) if roots.is_empty() => {
                return invalid("`roots` is empty".into());
            }
            _ => {}
        }
        let count = self.node_count();
        if count > MAX_NODES {
            return invalid(format!("{count} nodes, more than the {MAX_NODES} allowed"));
        }
        let mut path = Vec::new();
        for (n, root) in self.roots().iter().enumerate() {
            path.push(n);
            root.check(&mut path)?;
            path.pop();
        }
        Ok(())
    }
}

impl Node {
    /// This node and all below it.
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(Node::count).sum::<usize>()
    }

    fn check(&self, path: &mut Vec<usize>) -> Result<(), ShapeError> {
        let at = || format!("node {} ({self})", path_text(path));
        for (key, expect) in &self.attributes {
            if let AttrExpect::Matcher(m) = expect {
                let keys = [m.regex.is_some(), m.present.is_some(), m.absent.is_some()];
                if keys.iter().filter(|k| **k).count() != 1 {
                    return Err(ShapeError::Invalid(format!(
                        "{}: attribute {key}: give exactly one of regex, present, absent",
                        at()
                    )));
                }
                if m.present == Some(false) || m.absent == Some(false) {
                    return Err(ShapeError::Invalid(format!(
                        "{}: attribute {key}: write `present: true` or `absent: true`",
                        at()
                    )));
                }
            }
        }
        if let Some(DurationBounds {
            min: Some(min),
            max: Some(max),
        }) = self.duration
            && min > max
        {
            return Err(ShapeError::Invalid(format!(
                "{}: duration min {} is above max {}",
                at(),
                humantime::format_duration(min),
                humantime::format_duration(max)
            )));
        }
        for (n, child) in self.children.iter().enumerate() {
            path.push(n);
            child.check(path)?;
            path.pop();
        }
        Ok(())
    }
}

/// A node's place as `root`, `root.1.0` (second child, its first child), or `roots[1].0`.
fn path_text(path: &[usize]) -> String {
    let mut text = "root".to_owned();
    for n in path.iter().skip(1) {
        text.push_str(&format!(".{n}"));
    }
    if path.first().is_some_and(|first| *first > 0) {
        text = format!("roots[{}]{}", path[0], &text[4..]);
    }
    text
}

impl fmt::Display for Node {
    /// `app-a SERVER GET /`, with `*` for what the node leaves unchecked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.map_or("*".to_owned(), |k| k.to_string());
        write!(
            f,
            "{} {} {}",
            self.service.as_deref().unwrap_or("*"),
            kind,
            self.name.as_deref().unwrap_or("*")
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Server => "SERVER",
            Kind::Client => "CLIENT",
            Kind::Internal => "INTERNAL",
            Kind::Producer => "PRODUCER",
            Kind::Consumer => "CONSUMER",
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Unset => "unset",
            Status::Ok => "ok",
            Status::Error => "error",
        })
    }
}
