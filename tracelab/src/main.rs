//! The `tracelab` binary. Run with `cargo run --release` at the repository
//! root (the whole lab), or `cargo run --release -- --help`.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracelab::run(tracelab::cli::Cli::parse()).await
}
