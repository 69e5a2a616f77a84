//! What the three services of the chain share.
//!
//! The services are small on purpose: each says who it is and what it
//! answers, and everything about being a well-behaved, traced HTTP service
//! lives here, written once.
//!
//! # Layout
//!
//! - [`env`]: a snapshot of the environment and typed readers that collect
//!   every bad variable, so configuration is testable without the process env.
//! - [`telemetry`]: the standard `OTEL_*` variables, the tracer provider,
//!   logs with trace ids, span counters, and the flush at shutdown.
//! - [`http_server`]: the SERVER span of each request, `/healthz` and
//!   `/readyz`, and a graceful serve loop with a drain deadline.
//! - [`propagation`]: the incoming W3C trace context, checked strictly.
//! - [`metrics`]: `GET /metrics`, the span counters for Prometheus.
//! - [`downstream`]: the client for the next hop, with its CLIENT span and
//!   the W3C trace context injected.
//! - [`fault`]: faults on demand (delay, errors, hang, down, dropped
//!   context), set by `FAULT_*` variables or a control endpoint.
//! - [`relay`]: what app-a and app-b answer, success or failure.
//! - [`shutdown`]: SIGTERM, SIGINT, or the end of stdin.
//! - [`ports`]: the seed's ports of the three apps.
//! - [`service`]: one service process from start to exit.

pub mod downstream;
pub mod env;
pub mod fault;
pub mod http_server;
pub mod metrics;
pub mod ports;
pub mod propagation;
pub mod relay;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use env::{ConfigErrors, Env};
pub use service::{ServerSettings, Service};
