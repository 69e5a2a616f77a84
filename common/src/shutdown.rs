//! When to stop: SIGTERM, SIGINT, or (for processes the lab starts) the end
//! of standard input.

use tokio::io::AsyncReadExt;

/// Completes on SIGTERM or SIGINT, and logs which one arrived.
///
/// Kubernetes sends SIGTERM to start a graceful shutdown (then SIGKILL
/// after `terminationGracePeriodSeconds`); SIGINT is Ctrl-C on a laptop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: never complete rather than
            // shut down at once.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "signal received"),
        () = terminate => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}

/// Completes when standard input reaches its end or fails.
///
/// The lab gives each service it starts a pipe as stdin and never writes to
/// it. When the lab closes the pipe, or dies in any way (even SIGKILL), the
/// pipe ends and the service shuts down gracefully: no orphan processes.
pub async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
    tracing::info!("standard input closed");
}
