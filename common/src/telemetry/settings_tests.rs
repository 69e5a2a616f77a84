//! Tables of `OTEL_*` environments and what they must parse to.

use super::*;

/// An environment, as name/value pairs.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn parse(pairs: &[(&str, &str)]) -> Result<TelemetrySettings, ConfigErrors> {
    TelemetrySettings::from_env(&Env::from_pairs(pairs.iter().copied()), "app-x")
}

fn ok(pairs: &[(&str, &str)]) -> TelemetrySettings {
    parse(pairs).expect("valid settings")
}

fn bad_names(pairs: &[(&str, &str)]) -> Vec<String> {
    let errors = parse(pairs).expect_err("invalid settings");
    errors.errors().iter().map(|e| e.name.clone()).collect()
}

#[test]
fn defaults_work_on_a_laptop() {
    let s = ok(&[]);
    assert!(!s.sdk_disabled);
    assert_eq!(s.exporters, [ExporterKind::Otlp]);
    assert_eq!(s.otlp.protocol, Protocol::HttpProtobuf);
    assert_eq!(s.otlp.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(s.otlp.timeout, Duration::from_secs(10));
    assert_eq!(s.sampler, SamplerSetting::ParentBasedAlwaysOn);
    assert!(s.propagate_trace_context && s.propagate_baggage);
    assert_eq!(s.batch.max_queue_size, 2048);
    assert_eq!(s.batch.max_export_batch_size, 512);
    assert_eq!(s.batch.schedule_delay, Duration::from_secs(5));
    assert_eq!(s.service_name, "app-x");
    assert!(s.warnings.is_empty());
}

#[test]
fn endpoints_resolve_as_the_spec_says() {
    let cases: &[(Vars<'_>, &str)] = &[
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")],
            "http://c:4318/v1/traces",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")],
            "http://c:4318/v1/traces",
        ),
        // The seed's value: used verbatim.
        (
            &[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4318/v1/traces",
            )],
            "http://c:4318/v1/traces",
        ),
        // Verbatim even when that is probably a mistake, as the spec says.
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318")],
            "http://c:4318",
        ),
        // The signal variable wins.
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://traces:4318/v1/traces",
                ),
            ],
            "http://traces:4318/v1/traces",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
            "http://localhost:4317",
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ],
            "http://c:4317",
        ),
    ];
    for (env, want) in cases {
        assert_eq!(ok(env).otlp.endpoint, *want, "env {env:?}");
    }
}

#[test]
fn protocols_parse_and_the_traces_variable_wins() {
    assert_eq!(
        ok(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")])
            .otlp
            .protocol,
        Protocol::HttpJson
    );
    let s = ok(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ]);
    assert_eq!(s.otlp.protocol, Protocol::HttpProtobuf);
}

#[test]
fn headers_are_percent_decoded_and_not_merged() {
    // The seed's placeholder headers.
    let s = ok(&[(
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "api-key=key,other-config-value=value",
    )]);
    assert_eq!(
        s.otlp.headers,
        [
            ("api-key".into(), "key".into()),
            ("other-config-value".into(), "value".into())
        ]
    );
    let s = ok(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "authorization=Bearer%20t",
        ),
    ]);
    assert_eq!(
        s.otlp.headers,
        [("authorization".into(), "Bearer t".into())]
    );
}

#[test]
fn exporters_list_like_the_seed() {
    let s = ok(&[("OTEL_TRACES_EXPORTER", "console,otlp")]);
    assert_eq!(s.exporters, [ExporterKind::Console, ExporterKind::Otlp]);
    assert!(ok(&[("OTEL_TRACES_EXPORTER", "none")]).exporters.is_empty());
}

#[test]
fn the_seeds_sampler_argument_100_warns_and_uses_the_default() {
    let s = ok(&[("OTEL_TRACES_SAMPLER_ARG", "100")]);
    assert_eq!(s.sampler, SamplerSetting::ParentBasedAlwaysOn);
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].contains("OTEL_TRACES_SAMPLER_ARG=\"100\""),
        "{:?}",
        s.warnings
    );

    let s = ok(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ]);
    assert_eq!(s.sampler, SamplerSetting::TraceIdRatio(0.25));
    let s = ok(&[("OTEL_TRACES_SAMPLER", "sometimes")]);
    assert_eq!(s.sampler, SamplerSetting::ParentBasedAlwaysOn);
    assert!(s.warnings[0].contains("OTEL_TRACES_SAMPLER=\"sometimes\""));
}

#[test]
fn service_name_precedence_follows_the_spec() {
    let attrs = (
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs,k8s.pod.name=p%201",
    );
    let s = ok(&[attrs]);
    assert_eq!(s.service_name, "from-attrs");
    assert_eq!(
        s.resource_attributes,
        [("k8s.pod.name".into(), "p 1".into())]
    );
    let s = ok(&[attrs, ("OTEL_SERVICE_NAME", "from-name")]);
    assert_eq!(s.service_name, "from-name");
}

#[test]
fn a_malformed_resource_variable_is_discarded_with_a_warning() {
    let s = ok(&[("OTEL_RESOURCE_ATTRIBUTES", "a=1,broken")]);
    assert!(s.resource_attributes.is_empty());
    assert!(s.warnings[0].contains("broken"));
}

#[test]
fn batch_size_is_capped_by_the_queue() {
    let s = ok(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);
    assert_eq!(s.batch.max_queue_size, 10);
    assert_eq!(s.batch.max_export_batch_size, 10);
    assert_eq!(s.batch.schedule_delay, Duration::from_millis(100));
}

#[test]
fn bad_values_stop_with_the_variable_named() {
    let cases: &[(Vars<'_>, &[&str])] = &[
        (
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")],
            &["OTEL_EXPORTER_OTLP_PROTOCOL"],
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp")],
            &["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"],
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "otlp,jaeger")],
            &["OTEL_TRACES_EXPORTER"],
        ),
        (&[("OTEL_PROPAGATORS", "b3")], &["OTEL_PROPAGATORS"]),
        (&[("OTEL_SDK_DISABLED", "yes")], &["OTEL_SDK_DISABLED"]),
        (
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
            &["OTEL_EXPORTER_OTLP_TIMEOUT"],
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
            &["OTEL_EXPORTER_OTLP_ENDPOINT"],
        ),
        (
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
            &["OTEL_EXPORTER_OTLP_COMPRESSION"],
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
            &["OTEL_EXPORTER_OTLP_HEADERS"],
        ),
        (
            &[("OTEL_BSP_MAX_QUEUE_SIZE", "0")],
            &["OTEL_BSP_MAX_QUEUE_SIZE"],
        ),
        (
            &[
                ("OTEL_BSP_SCHEDULE_DELAY", "-1"),
                ("OTEL_PROPAGATORS", "xray"),
            ],
            &["OTEL_PROPAGATORS", "OTEL_BSP_SCHEDULE_DELAY"],
        ),
    ];
    for (env, want) in cases {
        assert_eq!(bad_names(env), *want, "env {env:?}");
    }
}

#[test]
fn the_seeds_manifest_environment_is_accepted() {
    // app-a's env block from the seed, plus the endpoint its shell wrapper set.
    let s = ok(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://otel-collector-tempo.monitor.svc.cluster.local:4318/v1/traces",
        ),
        ("OTEL_SERVICE_NAME", "app-a"),
        ("OTEL_TRACES_EXPORTER", "console,otlp"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "api-key=key,other-config-value=value",
        ),
        ("OTEL_TRACES_SAMPLER_ARG", "1"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ]);
    assert_eq!(s.service_name, "app-a");
    assert!(s.warnings.is_empty());
}
