//! What `tracelab show -v` prints under the waterfall: each span's kind,
//! status and status message, attributes and events, in the waterfall's
//! order (parents before children, siblings by start time).
//!
//! ```text
//! app-b  GET  (client, span 5b1c2d3e4f506172)  2.68 ms
//!   status: Error: connection_error: error sending request for url (http://127.0.0.1:5002/)
//!   http.request.method = "GET"
//!   event +2.61 ms exception
//!     exception.type = "connection_error"
//! ```

use std::fmt::Write as _;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use trace_store::store::AttrValue;
use trace_store::waterfall::human_duration;
use trace_store::{SpanRecord, Trace};

/// The details of every span of `trace`, one block per span.
pub fn render(trace: &Trace) -> String {
    let mut out = String::new();
    for index in tree_order(trace) {
        let span = &trace.spans[index];
        let _ = writeln!(
            out,
            "\n{}  {}  ({}, span {})  {}",
            span.service_name(),
            span.name(),
            kind(span),
            span.span_id(),
            human_duration(span.end_unix_nano().saturating_sub(span.start_unix_nano()))
        );
        let _ = writeln!(out, "  status: {}", status(span));
        for attribute in span.attributes() {
            let _ = writeln!(out, "  {} = {}", attribute.key, stored(&attribute.value));
        }
        for event in span.events() {
            let offset = event.time_unix_nano.saturating_sub(span.start_unix_nano());
            let _ = writeln!(out, "  event +{} {}", human_duration(offset), event.name);
            for attribute in &event.attributes {
                let _ = writeln!(out, "    {}", key_value(attribute));
            }
        }
    }
    out
}

/// Span indexes with parents before children and siblings by start time;
/// spans whose parent is missing come first, as roots.
fn tree_order(trace: &Trace) -> Vec<usize> {
    let parents = trace.parents();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); trace.spans.len()];
    let mut roots = Vec::new();
    for (index, parent) in parents.iter().enumerate() {
        match parent {
            Some(parent) => children[*parent].push(index),
            None => roots.push(index),
        }
    }
    let by_start = |list: &mut Vec<usize>| {
        list.sort_by_key(|&i| trace.spans[i].start_unix_nano());
    };
    by_start(&mut roots);
    children.iter_mut().for_each(by_start);
    let mut order = Vec::with_capacity(trace.spans.len());
    // Depth first, with an explicit stack: a deep trace cannot overflow it.
    let mut stack: Vec<usize> = roots.into_iter().rev().collect();
    while let Some(index) = stack.pop() {
        if order.contains(&index) {
            continue; // a cycle of parent ids: show each span once
        }
        order.push(index);
        stack.extend(children[index].iter().rev());
    }
    order
}

fn kind(span: &SpanRecord) -> &'static str {
    match span.kind_number() {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

fn status(span: &SpanRecord) -> String {
    let code = match span.status_code() {
        1 => "Ok",
        2 => "Error",
        _ => "Unset",
    };
    match span.status_message() {
        "" => code.to_owned(),
        message => format!("{code}: {message}"),
    }
}

fn stored(value: &AttrValue) -> String {
    match value {
        AttrValue::Str(s) => format!("{:?}", s.as_str()),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Float(f) => f.to_string(),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Other(other) => other.as_deref().map_or_else(|| "(none)".to_owned(), any),
    }
}

fn key_value(kv: &KeyValue) -> String {
    let value = kv.value.as_ref().map_or_else(|| "(none)".to_owned(), any);
    format!("{} = {value}", kv.key)
}

fn any(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => format!("{s:?}"),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(f)) => f.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(any).collect();
            format!("[{}]", items.join(", "))
        }
        Some(any_value::Value::KvlistValue(list)) => {
            let items: Vec<String> = list.values.iter().map(key_value).collect();
            format!("{{{}}}", items.join(", "))
        }
        Some(any_value::Value::BytesValue(bytes)) => format!("0x{}", hex(bytes)),
        // A string-table reference (profiles): meaningless without the table.
        Some(other) => format!("{other:?}"),
        None => "(none)".to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
