"""Prove that the checks have teeth: break a copy of the repository in one
place at a time and require the named check to fail on it.

Run by "scripts/check-deploy.sh --mutations" (about 30 s); prints one line per
mutation, "caught" or "MISSED", and exits 1 if any was missed.
Usage: python deploy/tests/mutate.py <repo root> <kubectl>
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

# (what is broken, file, text to replace, replacement, test that must fail)
MUTATIONS = [
    ("app-a calls app-b on the container port instead of the Service port",
     "k8s/base/apps/app-a.yaml", 'name: SERVICE_B_PORT\n              value: "80"',
     'name: SERVICE_B_PORT\n              value: "5001"', "test_downstream_hosts_resolve"),
    ("app-b's Service points at a port the container does not expose",
     "k8s/base/apps/app-b.yaml", "targetPort: http", "targetPort: 5005", "test_app_services_are_port_80"),
    ("OTLP endpoint without the Collector's namespace (the seed's Service bug, seen from the client)",
     "k8s/base/apps/app-c.yaml", "otel-collector-tempo.monitor.svc.cluster.local:4318",
     "otel-collector-tempo:4318", "test_otlp_endpoints_name_the_collector"),
    ("OTLP endpoint on the gRPC port with http/protobuf",
     "k8s/base/apps/app-a.yaml", "cluster.local:4318", "cluster.local:4317", "test_otlp_endpoints_name_the_collector"),
    ("Collector exports to Tempo's old query port",
     "k8s/base/otel-collector/config.yaml", "tempo.monitor.svc.cluster.local:4317",
     "tempo.monitor.svc.cluster.local:3100", "test_collector_exports_to_tempo"),
    ("Collector export without tls.insecure",
     "k8s/base/otel-collector/config.yaml", "insecure: true", "insecure: false", "test_collector_exports_to_tempo"),
    ("the seed's send_batch_max_size in bytes",
     "k8s/base/otel-collector/config.yaml", "send_batch_max_size: 2048", "send_batch_max_size: 131072",
     "test_collector_pipeline_order"),
    ("batch before memory_limiter",
     "k8s/base/otel-collector/config.yaml", "[memory_limiter, k8s_attributes, batch]",
     "[batch, memory_limiter, k8s_attributes]", "test_collector_pipeline_order"),
    ("GOMEMLIMIT above the memory limit",
     "k8s/base/otel-collector/collector.yaml", "value: 400MiB", "value: 600MiB", "test_collector_probes_gomemlimit"),
    ("Role widened to secrets",
     "k8s/base/otel-collector/collector.yaml", 'resources: ["pods"]', 'resources: ["pods", "secrets"]',
     "test_collector_rbac"),
    ("Grafana data source on the old port 3100",
     "deploy/helm/grafana/values.yaml", "cluster.local:3200", "cluster.local:3100", "test_grafana_data_sources"),
    ("curl image on latest",
     "k8s/base/curl/curl.yaml", "curlimages/curl:8.17.0", "curlimages/curl:latest", "test_no_image_is_latest"),
    ("compose image untagged",
     "compose.yaml", "grafana/grafana:13.2.0", "grafana/grafana", "test_no_image_is_latest"),
    ("app-c may escalate privileges",
     "k8s/base/apps/app-c.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true",
     "test_every_pod_meets_the_restricted"),
    ("app-a without a seccomp profile",
     "k8s/base/apps/app-a.yaml", "seccompProfile:\n          type: RuntimeDefault\n", "", "test_every_pod_meets_the_restricted"),
    ("grace period shorter than drain + flush",
     "k8s/base/apps/app-b.yaml", "terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds: 10",
     "test_app_probes_and_shutdown"),
    ("an env name the apps do not read (the seed's HOST_IP)",
     "k8s/base/apps/app-c.yaml", "            - name: LOG_FORMAT\n",
     "            - name: HOST_IP\n              value: x\n            - name: LOG_FORMAT\n", "test_app_env_names"),
    ("the seed's sampler arg 100",
     "k8s/base/apps/app-a.yaml", "            - name: OTEL_PROPAGATORS\n",
     "            - name: OTEL_TRACES_SAMPLER_ARG\n              value: \"100\"\n            - name: OTEL_PROPAGATORS\n",
     "test_resource_attributes"),
    ("IRSA trust subject in the wrong namespace",
     "deploy/iam/tempo-trust-irsa.json.tmpl", "system:serviceaccount:${TEMPO_NAMESPACE}",
     "system:serviceaccount:default", "test_irsa_trust_subject"),
    ("trust policy with StringLike",
     "deploy/iam/tempo-trust-irsa.json.tmpl", "StringEquals", "StringLike", "test_irsa_trust_subject"),
    ("bucket in the values file differs from the policy's",
     "deploy/helm/tempo/values-eks.yaml", "bucket: dev-monitor-tempo-bucket", "bucket: other-bucket",
     "test_s3_policy_bucket"),
    ("policy without Tempo's tagging actions",
     "deploy/iam/tempo-s3-policy.json.tmpl", '"s3:GetObjectTagging",\n', "", "test_s3_policy_bucket"),
    ("Tempo storage at the top level (the seed's flattened values)",
     "deploy/helm/tempo/values-local.yaml", "tempo:\n  storage:", "storage:\n  x:\ntempo:\n  storage:",
     "test_tempo_values"),
    ("Tempo usage reporting on",
     "deploy/helm/tempo/values-common.yaml", "reportingEnabled: false", "reportingEnabled: true", "test_tempo_values"),
    ("a Service without a namespace (the seed's Collector Service)",
     "k8s/base/otel-collector/collector.yaml", "  name: otel-collector-tempo\n  namespace: monitor\n  labels:\n    app.kubernetes.io/name: otel-collector-tempo\nspec:\n  type: ClusterIP",
     "  name: otel-collector-tempo\n  labels:\n    app.kubernetes.io/name: otel-collector-tempo\nspec:\n  type: ClusterIP",
     "test_namespaces_enforce_restricted"),
    ("Dockerfile entrypoint in shell form",
     "Dockerfiles/Dockerfile", 'ENTRYPOINT ["/usr/local/bin/app-c"]', "ENTRYPOINT /usr/local/bin/app-c",
     "test_dockerfile_runtime"),
    ("compose store profile without the tempo alias",
     "compose.yaml", "aliases: [otel-collector, tempo]", "aliases: [otel-collector]", "test_compose_wiring"),
    ("compose store off loopback without a token",
     "compose.yaml", "      TRACELAB_TOKEN: ${TRACELAB_TOKEN:-}\n      TRACELAB_OTLP_PORT", "      TRACELAB_OTLP_PORT",
     "test_store_off_loopback"),
    ("the apps do not send the store's token",
     "compose.yaml", "OTEL_EXPORTER_OTLP_HEADERS: authorization=Bearer%20${TRACELAB_TOKEN:-}",
     "OTEL_EXPORTER_OTLP_HEADERS: \"\"", "test_store_off_loopback"),
    ("Tempo's Jaeger receivers nulled (the chart's _ports.tpl dereferences them)",
     "deploy/helm/tempo/values-common.yaml", "  receivers:\n", "  receivers:\n    jaeger: null\n",
     "test_helm_values_never_null"),
    ("Tempo back on the chart's 1024 MB ballast",
     "deploy/helm/tempo/values-common.yaml", "  memBallastSizeMbs: 0\n", "", "test_tempo_memory_ballast"),
    ("Tempo without GOMEMLIMIT on kind",
     "deploy/helm/tempo/values-local.yaml", "value: 800MiB", "value: 1GiB", "test_tempo_memory_ballast"),
    ("EKS volume claim without a StorageClass",
     "deploy/helm/tempo/values-eks.yaml", "  storageClassName: gp3\n", "", "test_eks_tempo_volume"),
    ("StorageClass applied only with the overlay, after Tempo waited",
     "scripts/deploy.sh", 'k apply -f "${REPO_ROOT}/k8s/overlays/eks/storageclass-gp3.yaml"', ":",
     "test_eks_tempo_volume"),
    ("no EBS CSI driver",
     "scripts/setup-aws.sh", ': "${INSTALL_EBS_CSI:=1}"', ': "${INSTALL_EBS_CSI:=0}"', "test_eks_tempo_volume"),
    ("the deprecated deployment_name_from_replicaset",
     "k8s/base/otel-collector/config.yaml", "        - k8s.node.name\n",
     "        - k8s.node.name\n      deployment_name_from_replicaset: true\n", "test_collector_configs_use_no_deprecated"),
    ("compose Collector on the deprecated exporter name otlp",
     "deploy/compose/otel-collector.yaml", "  otlp_grpc:\n    endpoint", "  otlp:\n    endpoint",
     "test_collector_configs_use_no_deprecated"),
    ("the Collector build gains a component no config uses",
     "collector/builder-config.yaml", "exporters:\n",
     "exporters:\n  - gomod: go.opentelemetry.io/collector/exporter/debugexporter v0.158.0\n",
     "test_collector_build_has_exactly"),
    ("the manifests pin a Collector image of another release than the build",
     "k8s/base/otel-collector/collector.yaml", "opentelemetry-collector-k8s:0.158.0",
     "opentelemetry-collector-k8s:0.159.0", "test_collector_build_has_exactly"),
    ("a dashboard panel on a fixed data source uid instead of the variable",
     "deploy/grafana/dashboards/tracelab.json", '"uid": "${datasource}"', '"uid": "tempo"',
     "test_dashboards_pass_the_schema"),
    ("the dashboard's queries file out of step with its panels",
     "deploy/grafana/dashboard-queries.txt", "quantile_over_time(duration, .5, .9, .99)",
     "quantile_over_time(duration, .5, .99)", "test_dashboards_pass_the_schema"),
    ("compose's Grafana without the dashboards",
     "compose.yaml", "      - ./deploy/grafana/dashboards:/var/lib/grafana/dashboards/tracelab:ro\n", "",
     "test_compose_grafana_loads_the_dashboards"),
    ("deploy.sh hands the chart another file than the dashboard",
     "scripts/deploy.sh", "/deploy/grafana/dashboards/tracelab.json", "/deploy/grafana/tracelab.json",
     "test_chart_loads_the_dashboard"),
    ("compose's Tempo without the local-blocks processor (TraceQL metrics fail)",
     "deploy/compose/tempo.yaml", "processors: [local-blocks]", "processors: []", "test_tempo_serves_traceql_metrics"),
]

IGNORE = shutil.ignore_patterns("target", ".git")


def main(root, kubectl):
    root = pathlib.Path(root)
    missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        pristine = pathlib.Path(tmp) / "pristine"
        for name in ("k8s", "deploy", "scripts", "Dockerfiles", "collector"):
            shutil.copytree(root / name, pristine / name, ignore=IGNORE)
        shutil.copy(root / "compose.yaml", pristine / "compose.yaml")
        for what, rel, old, new, test in MUTATIONS:
            copy = pathlib.Path(tmp) / "copy"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(pristine, copy)
            path = copy / rel
            text = path.read_text()
            if old not in text:
                print(f"STALE   {what}: text not found in {rel}")
                missed += 1
                continue
            path.write_text(text.replace(old, new, 1))
            env = dict(os.environ, TRACELAB_ROOT=str(copy), KUBECTL=kubectl)
            env.pop("RENDER_DIR", None)
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-k", test,
                 str(root / "deploy/tests")],
                env=env, capture_output=True, text=True)
            if run.returncode == 1:
                print(f"caught  {what} -> {test}")
            else:
                print(f"MISSED  {what} -> {test} (pytest exit {run.returncode})")
                print(run.stdout[-1500:])
                missed += 1
    print(f"{len(MUTATIONS) - missed} caught, {missed} missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
