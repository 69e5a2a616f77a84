//! When to stop: SIGTERM, SIGINT, or (for processes the lab starts) the end
//! of standard input.

use std::io::Read as _;

/// Completes on SIGTERM or SIGINT, and logs which one arrived.
///
/// Kubernetes sends SIGTERM to start a graceful shutdown (then SIGKILL
/// after `terminationGracePeriodSeconds`); SIGINT is Ctrl-C on a laptop.
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a signal that arrives in between (a service is stopped
/// right after it logs "listening") must still mean "shut down gracefully",
/// not the default action of dying at once. Call it inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            // A stream that could not be made never completes, rather
            // than shutting down at once.
            let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => tracing::info!(signal = "SIGINT", "signal received"),
                () = wait(terminate) => tracing::info!(signal = "SIGTERM", "signal received"),
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!(signal = "SIGINT", "signal received");
            } else {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Completes when standard input reaches its end or fails.
///
/// The lab gives each service it starts a pipe as stdin and never writes to
/// it. When the lab closes the pipe, or dies in any way (even SIGKILL), the
/// pipe ends and the service shuts down gracefully: no orphan processes.
///
/// The read runs on a plain thread, not tokio's `stdin()`: tokio reads stdin
/// with a blocking task that cannot be cancelled, and the runtime waits for
/// it at exit, so a service stopped by SIGTERM would stop serving but never
/// exit while the lab still held the pipe open. A detached thread ends with
/// the process.
pub async fn stdin_closed() {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 64];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            let _ = closed_tx.send(());
        });
    if spawned.is_err() {
        // No thread, no watch: rely on the signals alone.
        std::future::pending::<()>().await;
    }
    let _ = closed_rx.await;
    tracing::info!("standard input closed");
}
