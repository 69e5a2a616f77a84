//! A harness that runs the store and the services as real processes, the
//! way the lab and Kubernetes do, and reads traces back from the store.
//!
//! Every process is `tracelab` itself (`tracelab store`, `tracelab serve
//! app-x`) with a clean environment and port 0; the harness learns the
//! chosen ports from the processes' own output. Waits are on conditions
//! with deadlines, never fixed sleeps.

// Each test binary uses its own part of the harness.
#![allow(dead_code, unreachable_pub, unused_imports)]

mod chain;
mod lab;
mod process;
pub mod python;
mod store;

pub use chain::{Chain, ChainOptions, Next, ServiceProcess, chain_order, fake_server};
pub use lab::{free_port, start_lab};
pub use process::{DEADLINE, Process, code_and_text, eventually, open_fds};
pub use store::{Any, FlatSpan, StoreProcess, i, s};
