//! Run with `cargo run -p example-axum-service`, with a store listening (`tracelab store`),
//! then `curl localhost:3000/hello/you` and `tracelab expect tests/shapes/hello.yaml --query '{}'`.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:4318/v1/traces".to_owned());
    let provider = example_axum_service::tracer_provider(&endpoint, "example-axum-service");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, example_axum_service::app(&provider))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Flush what is left; `shutdown` blocks, so off the async workers.
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .ok();
    Ok(())
}
