//! An embedded trace store for laptops and tests: it receives OTLP/HTTP like a collector, keeps a
//! bounded number of spans in memory, and answers Grafana Tempo's query API, so Grafana's Tempo
//! data source (and curl) can read the traces of the app-a → app-b → app-c chain.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use trace_store::{Config, Listeners, Store};
//!
//! let config = Config::default(); // 4318 OTLP/HTTP, 4317 OTLP/gRPC, 3200 query, on loopback
//! let listeners = Listeners::bind(&config).await?;
//! let store = Store::new(config.max_spans);
//! trace_store::serve(listeners, store, &config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`auth`]: the optional bearer token, required when the store is not on loopback.
//! - [`model`]: [`TraceId`] and [`SpanId`], with Tempo's rules for ids in URLs.
//! - [`store`]: the bounded in-memory [`Store`]; readers get [`Trace`] snapshots of
//!   [`SpanRecord`]s (a compact span, sharing strings and its resource and scope with the store).
//!   They implement the [`traceql`] crate's view traits, so queries evaluate over them in place.
//! - [`ingest`]: the OTLP receivers: HTTP (`POST /v1/traces`, protobuf or JSON, gzip; its axum
//!   router can be embedded on its own) and gRPC, both through one streamed walk.
//! - `api`: Tempo's query API (`/api/traces/{id}`, `/api/search`, tags, `/api/echo`); search and
//!   tag listings take TraceQL, parsed and evaluated by the [`traceql`] crate. Plus one route of
//!   our own: `/tracelab/v1/traces/{id}/settled`, a long-poll for a trace once it has settled.
//! - [`waterfall`]: one trace drawn as a tree of time bars for the terminal.
//! - [`analysis`]: answers from stored spans: RED per service and edge, the service graph, the
//!   critical path, findings; served as JSON at `/tracelab/v1/stats` on the query port.
//! - [`settle`]: when a trace is done arriving (complete and quiet, or given up on), and
//!   [`settle::wait`], which waits for that (or a span count) waking on ingest.
//! - `metrics`: `GET /metrics` on the query port: spans and traces held, the bound, and totals
//!   of spans received, stored, deduplicated and evicted and of refused requests.
//! - `web`: the web trace viewer, served at `/` on the query port.
//! - [`serve`] runs all three listeners ([`Listeners`], bound from one [`Config`]) until a shutdown
//!   future completes.

pub mod analysis;
mod api;
pub mod auth;
pub mod ingest;
mod metrics;
pub mod model;
pub mod store;
pub mod waterfall;
mod web;

mod server;
pub mod settle;
#[cfg(test)]
mod testing;

pub use ingest::IngestLimits;
pub use model::{SpanId, TimeWindow, TraceId};
pub use server::{Config, Listeners, REQUEST_TIMEOUT, ServeError, serve};
pub use store::{SpanRecord, Store, Trace};
