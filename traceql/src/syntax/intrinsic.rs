//! TraceQL's intrinsics: the span and trace properties a query names without a scope (`name`,
//! `duration`, `span:id`, `trace:rootService`, …), every spelling Tempo accepts, and what each
//! one reads ([`IntrinsicKind`], which evaluation maps onto the store's view).

/// What an intrinsic reads; several spellings (`name`, `span:name`) share one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntrinsicKind {
    /// `name`, `span:name`.
    Name,
    /// `status`, `span:status`.
    Status,
    /// `statusMessage`, `span:statusMessage`.
    StatusMessage,
    /// `kind`, `span:kind`.
    Kind,
    /// `duration`, `span:duration`.
    Duration,
    /// `span:id`.
    SpanId,
    /// `span:parentID`.
    ParentId,
    /// `trace:id`.
    TraceId,
    /// `traceDuration`, `trace:duration`.
    TraceDuration,
    /// `rootName`, `trace:rootName`.
    RootName,
    /// `rootServiceName`, `trace:rootService`.
    RootService,
    /// `event:name`.
    EventName,
    /// `event:timeSinceStart`.
    EventTimeSinceStart,
    /// `link:traceID`.
    LinkTraceId,
    /// `link:spanID`.
    LinkSpanId,
    /// `instrumentation:name`.
    ScopeName,
    /// `instrumentation:version`.
    ScopeVersion,
    /// `nestedSetLeft`: the span's left bound in Tempo's nested-set numbering of the tree.
    NestedSetLeft,
    /// `nestedSetRight`: its right bound.
    NestedSetRight,
    /// `nestedSetParent`: its parent's left bound; -1 for a root.
    NestedSetParent,
}

/// Every intrinsic spelling, in the order of Tempo's intrinsic tag list (`pkg/search/util.go`).
const INTRINSICS: &[(&str, IntrinsicKind)] = &[
    ("duration", IntrinsicKind::Duration),
    ("name", IntrinsicKind::Name),
    ("status", IntrinsicKind::Status),
    ("statusMessage", IntrinsicKind::StatusMessage),
    ("kind", IntrinsicKind::Kind),
    ("rootServiceName", IntrinsicKind::RootService),
    ("rootName", IntrinsicKind::RootName),
    ("traceDuration", IntrinsicKind::TraceDuration),
    ("event:name", IntrinsicKind::EventName),
    ("event:timeSinceStart", IntrinsicKind::EventTimeSinceStart),
    ("link:spanID", IntrinsicKind::LinkSpanId),
    ("link:traceID", IntrinsicKind::LinkTraceId),
    ("instrumentation:name", IntrinsicKind::ScopeName),
    ("instrumentation:version", IntrinsicKind::ScopeVersion),
    ("trace:id", IntrinsicKind::TraceId),
    ("span:id", IntrinsicKind::SpanId),
    ("span:parentID", IntrinsicKind::ParentId),
    ("span:status", IntrinsicKind::Status),
    ("span:statusMessage", IntrinsicKind::StatusMessage),
    ("span:duration", IntrinsicKind::Duration),
    ("span:name", IntrinsicKind::Name),
    ("span:kind", IntrinsicKind::Kind),
    ("trace:rootName", IntrinsicKind::RootName),
    ("trace:rootService", IntrinsicKind::RootService),
    ("trace:duration", IntrinsicKind::TraceDuration),
];

/// Intrinsics Tempo parses but does not list as tags (Traces Drilldown reads them).
const UNLISTED: &[(&str, IntrinsicKind)] = &[
    ("nestedSetLeft", IntrinsicKind::NestedSetLeft),
    ("nestedSetRight", IntrinsicKind::NestedSetRight),
    ("nestedSetParent", IntrinsicKind::NestedSetParent),
];

/// The names `/api/search/tags?scope=intrinsic` lists: every intrinsic spelling.
pub fn intrinsic_names() -> impl Iterator<Item = &'static str> {
    INTRINSICS.iter().map(|(name, _)| *name)
}

/// An intrinsic as written: what it reads, and the spelling used (for messages and keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intrinsic {
    pub(crate) kind: IntrinsicKind,
    pub(crate) spelling: &'static str,
}

impl Intrinsic {
    /// What the intrinsic reads, whichever way it is spelled.
    pub fn kind(self) -> IntrinsicKind {
        self.kind
    }

    /// The intrinsic spelled `name` (`duration`, `span:id`, …).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        INTRINSICS
            .iter()
            .chain(UNLISTED)
            .find(|(spelling, _)| *spelling == name)
            .map(|&(spelling, kind)| Intrinsic { kind, spelling })
    }
}
