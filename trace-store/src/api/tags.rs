//! Tag discovery, as Grafana's query editor uses it for autocomplete.
//!
//! - `GET /api/search/tags?scope=` → `{"tagNames":[…]}`: span and resource attribute names
//!   merged, or one scope's (`intrinsic` lists TraceQL's intrinsics).
//! - `GET /api/v2/search/tags?scope=&q=` → `{"scopes":[{"name":"intrinsic","tags":[…]},…]}`.
//! - `GET /api/search/tag/{name}/values` → `{"tagValues":["app-a",…]}`: values of a span or
//!   resource attribute, as text.
//! - `GET /api/v2/search/tag/{identifier}/values?q=` → typed values
//!   (`{"type":"string","value":"app-a"}`) of a TraceQL identifier (`resource.service.name`,
//!   `.x`, `name`, `status`, `event.x`, …). `status` and `kind` list their keywords; durations
//!   list nothing, as in Tempo.
//!
//! `q` restricts the scan to spans the query matches. Tempo only takes a single `{…}` there and
//! ignores a `q` it cannot parse; this store takes any query and also ignores an unparsable one.
//! `start`/`end` restrict it to traces overlapping the window. The `{name}` segment is
//! percent-decoded once more than the router does, because Grafana encodes it twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Value as Json_, json};
use traceql::IntrinsicKind as IKind;
use traceql::{AttrScope, Field, Value, go_duration_string, kind_name, status_name};

use super::{ApiError, off_the_workers, params};
use crate::model::TimeWindow;
use crate::store::{Store, Trace};

/// Attribute scopes in the order the v2 answer lists them (after `intrinsic`).
const SCOPES: [&str; 5] = ["resource", "span", "event", "link", "instrumentation"];
/// Most distinct names or values one answer lists; the scan stops collecting past it, so one
/// high-cardinality attribute (ids, timestamps) cannot build an unbounded answer.
const MAX_TAG_VALUES: usize = 10_000;

/// The scan restrictions common to all four endpoints.
struct Scan {
    query: Option<traceql::Query>,
    window: TimeWindow,
}

impl Scan {
    fn parse(params: &HashMap<String, String>) -> Result<Self, ApiError> {
        let (start, end) = params::time_range(params).map_err(ApiError::BadRequest)?;
        Ok(Scan {
            query: params
                .get("q")
                .filter(|q| !q.trim().is_empty())
                .and_then(|q| traceql::parse(q).ok()),
            window: TimeWindow::from_seconds(start, end),
        })
    }

    /// Calls `visit` with each trace in the window and the indexes of its spans to look at.
    fn run(&self, store: &Store, mut visit: impl FnMut(&Trace, &[usize])) {
        let mut all = Vec::new();
        for trace in store.traces(self.window) {
            let trace = &*trace;
            match &self.query {
                Some(query) => {
                    let mut spans: Vec<usize> = query
                        .evaluate(trace)
                        .into_iter()
                        .flat_map(|set| set.spans)
                        .collect();
                    spans.sort_unstable();
                    spans.dedup();
                    visit(trace, &spans);
                }
                None => {
                    all.clear();
                    all.extend(0..trace.spans.len());
                    visit(trace, &all);
                }
            }
        }
    }
}

/// The `scope` parameter: `None` for all scopes, else one of Tempo's six.
fn scope(params: &HashMap<String, String>) -> Result<Option<&str>, ApiError> {
    match params.get("scope").map(String::as_str) {
        None | Some("") | Some("all") => Ok(None),
        Some(s) if s == "intrinsic" || SCOPES.contains(&s) => Ok(Some(s)),
        Some(s) => Err(ApiError::BadRequest(format!("invalid scope: {s}"))),
    }
}

/// Attribute names per scope, in `SCOPES` order.
fn collect_names(store: &Store, scan: &Scan) -> [BTreeSet<String>; 5] {
    let mut names: [BTreeSet<String>; 5] = Default::default();
    let mut count = 0;
    let mut add = |set: &mut BTreeSet<String>, keys: &mut dyn Iterator<Item = &str>| {
        for key in keys {
            // Look before inserting so a known name costs no allocation.
            if count < MAX_TAG_VALUES && !set.contains(key) {
                set.insert(key.to_owned());
                count += 1;
            }
        }
    };
    scan.run(store, |trace, spans| {
        for record in spans.iter().filter_map(|&i| trace.spans.get(i)) {
            let [resource, span, event, link, scope] = &mut names;
            add(resource, &mut proto_keys(&record.resource().attributes));
            add(
                span,
                &mut record.attributes().iter().map(|a| a.key.as_str()),
            );
            for e in record.events() {
                add(event, &mut proto_keys(&e.attributes));
            }
            for l in record.links() {
                add(link, &mut proto_keys(&l.attributes));
            }
            add(scope, &mut proto_keys(&record.scope().attributes));
        }
    });
    names
}

/// The keys of OTLP attributes, for [`collect_names`].
fn proto_keys(attributes: &[KeyValue]) -> impl Iterator<Item = &str> {
    attributes.iter().map(|kv| kv.key.as_str())
}

/// `GET /api/search/tags`.
pub(super) async fn tag_names(
    State(store): State<Store>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Json_>, ApiError> {
    let scope = scope(&params)?;
    let scan = Scan::parse(&params)?;
    let tag_names: Vec<String> = match scope {
        Some("intrinsic") => traceql::intrinsic_names().map(str::to_owned).collect(),
        Some(one) => {
            let names = off_the_workers(move || collect_names(&store, &scan)).await?;
            let at = SCOPES.iter().position(|s| *s == one).unwrap_or(0);
            names[at].iter().cloned().collect()
        }
        None => {
            let [resource, span, ..] =
                off_the_workers(move || collect_names(&store, &scan)).await?;
            resource.union(&span).cloned().collect()
        }
    };
    Ok(Json(json!({ "tagNames": tag_names, "metrics": {} })))
}

/// `GET /api/v2/search/tags`.
pub(super) async fn tag_names_v2(
    State(store): State<Store>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Json_>, ApiError> {
    let wanted = scope(&params)?;
    let scan = Scan::parse(&params)?;
    let mut scopes = Vec::new();
    if wanted.is_none_or(|s| s == "intrinsic") {
        let tags: Vec<&str> = traceql::intrinsic_names().collect();
        scopes.push(json!({ "name": "intrinsic", "tags": tags }));
    }
    if wanted != Some("intrinsic") {
        let names = off_the_workers(move || collect_names(&store, &scan)).await?;
        for (name, tags) in SCOPES.iter().zip(names) {
            if wanted.is_none_or(|w| w == *name) && (!tags.is_empty() || wanted.is_some()) {
                scopes.push(json!({ "name": name, "tags": tags }));
            }
        }
    }
    Ok(Json(json!({ "scopes": scopes, "metrics": {} })))
}

/// The tag name from the path, decoded once more (Grafana double-encodes it).
fn decode(name: &str) -> String {
    percent_decode_str(name)
        .decode_utf8()
        .map_or_else(|_| name.to_owned(), |d| d.into_owned())
}

/// `GET /api/search/tag/{name}/values`: span and resource attribute values as text.
pub(super) async fn tag_values(
    State(store): State<Store>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Json_>, ApiError> {
    let name = decode(&name);
    let scan = Scan::parse(&params)?;
    let fields = [AttrScope::Span, AttrScope::Resource].map(|scope| Field::Attribute {
        scope,
        name: name.clone(),
    });
    let values = off_the_workers(move || collect_values(&store, &scan, &fields)).await?;
    let text: BTreeSet<String> = values.0.into_values().flatten().collect();
    Ok(Json(json!({ "tagValues": text, "metrics": {} })))
}

/// `GET /api/v2/search/tag/{identifier}/values`: typed values of a TraceQL identifier.
pub(super) async fn tag_values_v2(
    State(store): State<Store>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Json_>, ApiError> {
    let name = decode(&name);
    let field = traceql::parse_field(&name)
        .map_err(|_| ApiError::BadRequest(format!("please provide a valid tagName: {name}")))?;
    let scan = Scan::parse(&params)?;
    let keywords = |list: &[&str]| {
        let list: Vec<TypedValue> = list
            .iter()
            .map(|v| TypedValue {
                kind: "keyword",
                value: (*v).to_owned(),
            })
            .collect();
        Ok(Json(json!({ "tagValues": list, "metrics": {} })))
    };
    if let Field::Intrinsic(i) = &field {
        match i.kind() {
            IKind::Status => return keywords(&["ok", "error", "unset"]),
            IKind::Kind => {
                let kinds = [
                    "client",
                    "server",
                    "producer",
                    "consumer",
                    "internal",
                    "unspecified",
                ];
                return keywords(&kinds);
            }
            IKind::Duration | IKind::TraceDuration | IKind::EventTimeSinceStart => {
                return keywords(&[]);
            }
            _ => {}
        }
    }
    // Unscoped `.x` lists the values of both scopes, not just the one a span would use first.
    let fields = match &field {
        Field::Attribute {
            scope: AttrScope::Unscoped,
            name,
        } => vec![
            Field::Attribute {
                scope: AttrScope::Span,
                name: name.clone(),
            },
            Field::Attribute {
                scope: AttrScope::Resource,
                name: name.clone(),
            },
        ],
        other => vec![other.clone()],
    };
    let values = off_the_workers(move || collect_values(&store, &scan, &fields)).await?;
    let list: Vec<TypedValue> = values
        .0
        .into_iter()
        .flat_map(|(kind, set)| set.into_iter().map(move |value| TypedValue { kind, value }))
        .collect();
    Ok(Json(json!({ "tagValues": list, "metrics": {} })))
}

/// The distinct values `fields` have on the spans `scan` picks.
fn collect_values(store: &Store, scan: &Scan, fields: &[Field]) -> Values {
    let mut values = Values::default();
    scan.run(store, |trace, spans| {
        for field in fields {
            field.values(trace, spans.iter().copied(), |v| values.add(v));
        }
    });
    values
}

/// One entry of a v2 tag-values answer.
#[derive(Debug, Serialize)]
struct TypedValue {
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
}

/// Distinct values by Tempo type name, bounded by [`MAX_TAG_VALUES`].
#[derive(Default)]
struct Values(BTreeMap<&'static str, BTreeSet<String>>, usize);

impl Values {
    fn add(&mut self, value: Value<'_>) {
        let (kind, text) = match value {
            Value::Nil => return,
            Value::Str(s) => {
                // The common case, and the one worth not allocating for when the value is known.
                let set = self.0.entry("string").or_default();
                if self.1 < MAX_TAG_VALUES && !set.contains(s) {
                    set.insert(s.to_owned());
                    self.1 += 1;
                }
                return;
            }
            Value::Int(i) => ("int", i.to_string()),
            Value::Float(x) => ("float", x.to_string()),
            Value::Bool(b) => ("bool", b.to_string()),
            Value::Duration(d) => ("duration", go_duration_string(d)),
            Value::Status(s) => ("keyword", status_name(s).to_owned()),
            Value::Kind(k) => ("keyword", kind_name(k).to_owned()),
            Value::Id(id) => ("string", hex::encode(id)),
            Value::Array(items) => {
                for item in items {
                    match &item.value {
                        Some(any_value::Value::StringValue(s)) => self.add(Value::Str(s)),
                        Some(any_value::Value::IntValue(i)) => self.add(Value::Int(*i)),
                        Some(any_value::Value::DoubleValue(x)) => self.add(Value::Float(*x)),
                        Some(any_value::Value::BoolValue(b)) => self.add(Value::Bool(*b)),
                        _ => {}
                    }
                }
                return;
            }
        };
        let set = self.0.entry(kind).or_default();
        if self.1 < MAX_TAG_VALUES && set.insert(text) {
            self.1 += 1;
        }
    }
}
