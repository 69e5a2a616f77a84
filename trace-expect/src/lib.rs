//! Assert on traces in end-to-end tests: a whole trace store inside the test, on free ports,
//! that the code under test exports to over OTLP; waits that wake when spans arrive; and
//! assertions against a *shape* (the tree of spans a request should make) that fail with the
//! expected tree beside the actual one.
//!
//! ```no_run
//! use std::time::Duration;
//! use trace_expect::{Shape, TestStore};
//!
//! # async fn example(trace_id: trace_store::TraceId) {
//! let kit = TestStore::start().await; // OTLP on kit.otlp_http_endpoint() / otlp_grpc_endpoint()
//! // ... point the service's exporter at the kit, send it a request ...
//! let shape = Shape::from_file("tests/shapes/checkout.yaml").unwrap();
//! kit.assert_trace(trace_id, &shape, Duration::from_secs(10)).await;
//! # }
//! ```
//!
//! The same shapes and messages are available to any language's CI through `tracelab expect`,
//! which reads a running store over HTTP (`/tracelab/v1/traces/{id}/settled`).
//!
//! # Layout
//!
//! - [`kit`]: [`TestStore`], the store in the test, its waits and assertions.
//! - [`shape`]: [`Shape`], what a trace should look like, read from YAML
//!   (`docs/shape.schema.json` is its JSON Schema).
//! - [`check`]: [`compare`], pairing each node of a shape with a span: the cheapest matching,
//!   so a difference is reported as itself and not as a missing span plus an extra one.
//! - `facts`: the actual side: a trace as a forest, and the differences in words.
//! - [`report`]: a comparison drawn side by side, first mismatch marked, colour on terminals.
//! - [`failure`]: [`Failure`] and [`judge`], the verdict with what happened and when.
//! - [`mod@record`]: snapshot mode: a trace's shape, written to files when
//!   `TRACE_EXPECT_UPDATE=always`.

pub mod check;
mod facts;
pub mod failure;
pub mod kit;
pub mod record;
pub mod report;
pub mod shape;

pub use check::{Comparison, Row, compare};
pub use failure::{Arrival, Failure, FailureKind, judge};
pub use kit::TestStore;
pub use record::{UPDATE_ENV, record};
pub use shape::{
    AttrExpect, DurationBounds, Kind, Matcher, Node, Options, Shape, ShapeError, Status,
};
pub use trace_store::{Trace, TraceId};
