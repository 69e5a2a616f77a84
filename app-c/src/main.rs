//! The app-c binary. Run with `cargo run -p app-c` (see the README for
//! its environment), or start the whole lab with `cargo run --release`.

use std::process::ExitCode;

use common::{Env, shutdown::shutdown_signal};

// A fast allocator: smaller and quicker than musl's in the static images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(answer) = common::service::version_or_help("app-c", std::env::args().skip(1)) {
        println!("{answer}");
        return ExitCode::SUCCESS;
    }
    common::service::run::<app_c::AppC>(&Env::from_process(), shutdown_signal()).await
}
