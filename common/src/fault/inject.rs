//! Applying the faults to one request, inside its SERVER span, and naming
//! each on the span it affects.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{FAULT_ATTRIBUTE, FaultSwitch};

tokio::task_local! {
    /// Set while a request runs whose calls must drop the trace context.
    static DROP_PROPAGATION: bool;
}

/// Whether the request this task serves must call its next hop without
/// trace context (the `no_propagation` fault); the client asks this.
pub fn propagation_dropped() -> bool {
    DROP_PROPAGATION.try_with(|d| *d).unwrap_or(false)
}

/// Names `kind` on `span`: the attribute lists every fault on the span, the
/// event carries this one's details.
pub fn mark(
    span: &tracing::Span,
    kinds: &mut Vec<&'static str>,
    kind: &'static str,
    details: Vec<KeyValue>,
) {
    kinds.push(kind);
    span.set_attribute(FAULT_ATTRIBUTE, kinds.join(","));
    let mut attributes = vec![KeyValue::new("fault.kind", kind)];
    attributes.extend(details);
    span.add_event(FAULT_ATTRIBUTE, attributes);
}

/// Axum middleware, inside the SERVER span: apply the faults in force to
/// one request.
pub async fn inject(State(switch): State<FaultSwitch>, request: Request, next: Next) -> Response {
    let faults = switch.get();
    if !faults.any() {
        return next.run(request).await;
    }
    let span = tracing::Span::current();
    let mut kinds = Vec::new();
    if faults.hang {
        mark(&span, &mut kinds, "hang", Vec::new());
        // No answer until the caller gives up (and drops the connection,
        // which ends this future and the span), or the fault is cleared.
        let mut changes = switch.subscribe();
        let _ = changes.wait_for(|f| !f.hang).await;
    }
    if let Some(delay) = faults.pick_delay() {
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        mark(
            &span,
            &mut kinds,
            "delay",
            vec![KeyValue::new("fault.delay_ms", ms)],
        );
        tokio::time::sleep(delay).await;
    }
    if faults.error_rate > 0.0 && fastrand::f64() < faults.error_rate {
        let status =
            StatusCode::from_u16(faults.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        mark(
            &span,
            &mut kinds,
            "error",
            vec![KeyValue::new("fault.status", i64::from(faults.status))],
        );
        return (status, format!("fault injected: {}", status.as_u16())).into_response();
    }
    if faults.no_propagation {
        return DROP_PROPAGATION.scope(true, next.run(request)).await;
    }
    next.run(request).await
}
