//! `tracelab store`: the embedded trace store alone, until SIGTERM/SIGINT.

use trace_store::{IngestLimits, Store};

use crate::cli::StoreArgs;

/// Run the store as `args` say until a shutdown signal.
pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    let otlp = tokio::net::TcpListener::bind((args.bind, args.otlp_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}:{} for OTLP: {e}",
                args.bind,
                args.otlp_port
            )
        })?;
    let query = tokio::net::TcpListener::bind((args.bind, args.query_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}:{} for queries: {e}",
                args.bind,
                args.query_port
            )
        })?;
    // Tests and scripts read these two lines to find ports chosen with 0.
    println!("OTLP receiver on http://{}/v1/traces", otlp.local_addr()?);
    println!("query API on http://{}", query.local_addr()?);
    let store = Store::new(usize::try_from(args.max_spans).unwrap_or(usize::MAX));
    trace_store::serve(
        otlp,
        query,
        store,
        IngestLimits::default(),
        common::shutdown::shutdown_signal(),
    )
    .await?;
    Ok(())
}
