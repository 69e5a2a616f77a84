//! Exact-output tests for the waterfall.

use super::*;
use crate::Store;
use crate::model::TraceId;
use crate::testing::{request, span, trace_id};
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

/// Nanoseconds since the epoch of the traces' first span.
const T0: u64 = 1_705_313_100_000_000_000;

fn error(
    mut s: opentelemetry_proto::tonic::trace::v1::Span,
) -> opentelemetry_proto::tonic::trace::v1::Span {
    s.status = Some(Status {
        code: StatusCode::Error as i32,
        message: String::new(),
    });
    s
}

fn stored(n: u8, batches: Vec<(&str, Vec<opentelemetry_proto::tonic::trace::v1::Span>)>) -> Trace {
    let store = Store::new(100);
    for (service, spans) in batches {
        store.insert(request(service, spans)).unwrap();
    }
    let trace = store.trace(&TraceId::from_bytes(&trace_id(n)).unwrap());
    std::sync::Arc::unwrap_or_clone(trace.unwrap())
}

/// Four spans over three services: tree order puts `cache` (earlier start) before the price call.
fn checkout() -> Trace {
    stored(
        10,
        vec![
            (
                "app-a",
                vec![span(10, 1, None, "GET /checkout", T0, T0 + 2_010_000_000)],
            ),
            (
                "app-b",
                vec![
                    span(
                        10,
                        2,
                        Some(1),
                        "GET /api/price",
                        T0 + 500_000_000,
                        T0 + 2_000_000_000,
                    ),
                    span(10, 4, Some(1), "cache", T0 + 100_000_000, T0 + 100_120_000),
                ],
            ),
            (
                "app-c",
                vec![error(span(
                    10,
                    3,
                    Some(2),
                    "SELECT",
                    T0 + 1_200_000_000,
                    T0 + 1_203_400_000,
                ))],
            ),
        ],
    )
}

#[test]
fn renders_the_tree_with_bars_and_durations() {
    let want = concat!(
        "trace c0ffee0000000000000000000000000a  2.01 s  4 spans\n",
        "app-a  GET /checkout     │████████████████████████████████████████│  2.01 s\n",
        "app-b    cache           │ █                                      │  120 µs\n",
        "app-b    GET /api/price  │         ██████████████████████████████ │   1.5 s\n",
        "app-c      SELECT        │                       █                │  3.4 ms  ✗ error\n",
    );
    assert_eq!(render(&checkout(), &WaterfallOptions::default()), want);
}

#[test]
fn colour_marks_services_dim_and_errors_red() {
    let trace = stored(
        11,
        vec![
            (
                "app-a",
                vec![span(11, 1, None, "GET /", T0, T0 + 1_000_000)],
            ),
            (
                "app-b",
                vec![error(span(
                    11,
                    2,
                    Some(1),
                    "call",
                    T0 + 250_000,
                    T0 + 750_000,
                ))],
            ),
        ],
    );
    let plain = concat!(
        "trace c0ffee0000000000000000000000000b  1 ms  2 spans\n",
        "app-a  GET /   │████│    1 ms\n",
        "app-b    call  │ ██ │  500 µs  ✗ error\n",
    );
    assert_eq!(
        render(
            &trace,
            &WaterfallOptions {
                width: 4,
                color: false,
                critical_path: false,
            }
        ),
        plain
    );
    let coloured = concat!(
        "trace c0ffee0000000000000000000000000b  1 ms  2 spans\n",
        "\x1b[2mapp-a\x1b[0m  GET /   │████│    1 ms\n",
        "\x1b[2mapp-b\x1b[0m    call  │ \x1b[31m██\x1b[0m │  500 µs  \x1b[31m✗ error\x1b[0m\n",
    );
    assert_eq!(
        render(
            &trace,
            &WaterfallOptions {
                width: 4,
                color: true,
                critical_path: false,
            }
        ),
        coloured
    );
}

#[test]
fn orphans_start_at_the_left_and_zero_length_traces_still_draw() {
    // Span 2's parent (9) never arrived; every span has zero duration.
    let trace = stored(
        12,
        vec![(
            "svc",
            vec![
                span(12, 1, None, "root", T0, T0),
                span(12, 2, Some(9), "orphan", T0, T0),
            ],
        )],
    );
    let want = concat!(
        "trace c0ffee0000000000000000000000000c  0 ns  2 spans\n",
        "svc  root    │█  │  0 ns\n",
        "svc  orphan  │█  │  0 ns\n",
    );
    assert_eq!(
        render(
            &trace,
            &WaterfallOptions {
                width: 3,
                color: false,
                critical_path: false,
            }
        ),
        want
    );
}

#[test]
fn parent_cycles_do_not_hide_or_repeat_spans() {
    let trace = stored(
        13,
        vec![(
            "svc",
            vec![
                span(13, 1, Some(2), "a", T0, T0 + 10),
                span(13, 2, Some(1), "b", T0 + 5, T0 + 10),
            ],
        )],
    );
    let out = render(
        &trace,
        &WaterfallOptions {
            width: 2,
            color: false,
            critical_path: false,
        },
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.contains("svc  a  ") && out.contains("svc    b"),
        "{out}"
    );
}

#[test]
fn durations_read_like_a_human_wrote_them() {
    let cases = [
        (0, "0 ns"),
        (87, "87 ns"),
        (120_000, "120 µs"),
        (3_400_000, "3.4 ms"),
        (2_010_000_000, "2.01 s"),
        (999_999, "1 ms"),
        (12_345_678, "12.3 ms"),
        (125_000_000_000, "125 s"),
    ];
    for (nanos, want) in cases {
        assert_eq!(human_duration(nanos), want, "{nanos} ns");
    }
}

/// Marked, the critical path's spans end with their own time on it: the parent's own work
/// around its child, the child whole; a span off the path is not marked.
#[test]
fn the_critical_path_is_marked() {
    let store = Store::new(10);
    store
        .insert(request(
            "svc",
            vec![
                span(12, 1, None, "root", 0, 1_000_000),
                span(12, 2, Some(1), "slow", 100_000, 900_000),
                span(12, 3, Some(1), "early", 10_000, 50_000),
            ],
        ))
        .unwrap();
    let trace = store.recent_traces(1).remove(0);
    let text = render(
        &trace,
        &WaterfallOptions {
            width: 10,
            color: false,
            critical_path: true,
        },
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].ends_with("  ◆ 160 µs critical"), "{text}");
    assert!(lines[2].ends_with("  ◆ 40 µs critical"), "{text}");
    assert!(lines[3].ends_with("  ◆ 800 µs critical"), "{text}");
}
