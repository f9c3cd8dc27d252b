#!/usr/bin/env bash
# The chart and the example through third-party validators, on every rendered variant:
# kubeconform -strict against schemas generated from the pinned Kubernetes version's OpenAPI plus
# our CRD and prometheus-operator's; kube-score, with each accepted finding listed and justified in
# charts/reranker-lb/kube-score-accepted.txt (a finding not listed there fails the run).
# Builds kubeconform and kube-score from the Go module proxy at pinned versions, once (.cache/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../e2e/kube/versions.env
source e2e/kube/versions.env
KUBECONFORM_VERSION=v0.8.0
KUBE_SCORE_VERSION=v1.20.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
bin="$root/.cache/validators/bin-$KUBECONFORM_VERSION-$KUBE_SCORE_VERSION"
export GOFLAGS=-mod=mod GOTOOLCHAIN=auto
if [ ! -x "$bin/kubeconform" ] || [ ! -x "$bin/kube-score" ]; then
  command -v go >/dev/null || { echo "validate-chart: Go is needed (the machine's toolchain)" >&2; exit 1; }
  mkdir -p "$bin"
  GOBIN="$bin" go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >&2
  GOBIN="$bin" go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" >&2
fi
modules="$(mktemp -d)"
trap 'rm -rf "$modules" "$work"' EXIT
work="$(mktemp -d)"
(cd "$modules" && go mod init validators >/dev/null 2>&1)
module_dir() { (cd "$modules" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); }
schemas="$root/.cache/validators/schemas-$KUBE_VERSION-po$PROMETHEUS_OPERATOR_VERSION-$(sha256sum crds/*.yaml scripts/kube-schemas.ts | sha256sum | cut -c1-12)"
if [ ! -f "$schemas/_definitions.json" ]; then
  kube_dir="$(module_dir "k8s.io/kubernetes@$KUBE_VERSION")"
  po_dir="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")/example/prometheus-operator-crd"
  node scripts/kube-schemas.ts --swagger "$kube_dir/api/openapi-spec/swagger.json" --out "$schemas" \
    --crd crds/rerankerpools.reranker.dev.yaml \
    --crd "$po_dir/monitoring.coreos.com_servicemonitors.yaml" \
    --crd "$po_dir/monitoring.coreos.com_podmonitors.yaml" \
    --crd "$po_dir/monitoring.coreos.com_prometheusrules.yaml" >&2
fi
helm="$(e2e/kube/tools.sh)/helm"
chart=charts/reranker-lb
monitoring=(--api-versions monitoring.coreos.com/v1)
declare -A variants=(
  [default]=""
  [all-options]="--set operator.replicas=2 --set operator.namespaces={app,rrlb-system} --set metrics.serviceMonitor.enabled=true --set metrics.podMonitor.enabled=true --set metrics.prometheusRule.enabled=true --set grafanaDashboard.enabled=true --set gateway.enabled=true --set gateway.pool=search --set networkPolicy.enabled=true --set gateway.apiKeySecrets[0].name=cohere --set gateway.apiKeySecrets[0].key=api-key"
  [all-namespaces]="--set operator.allNamespaces=true --set operator.replicas=2"
  [gateway]="--set gateway.enabled=true --set gateway.pool=search"
  # Sidecar injection: the webhook by URL (an operator outside the cluster), and without it. The
  # cert-manager variant needs cert-manager's CRDs; e2e/webhook.test.ts dry-runs the rest of it.
  [injection-url]="--set injection.url=https://198.18.0.1:9443/mutate-pods --set injection.failurePolicy=Ignore --set networkPolicy.enabled=true"
  [injection-off]="--set injection.enabled=false"
  # The optional Redis for pool-wide limits, with the operator serving two namespaces.
  [redis]="--set redis.enabled=true --set redis.passwordSecret.name=redis-auth --set operator.namespaces={app,rrlb-system}"
)
accepted="$( (grep -v '^\s*#' "$chart/kube-score-accepted.txt" || true) | awk 'NF {print $1}' | sort -u)"
ignore=()
for test in $accepted; do ignore+=(--ignore-test "$test"); done
failed=0
for name in "${!variants[@]}"; do
  out="$work/$name.yaml"
  # shellcheck disable=SC2086
  "$helm" template rrlb "$chart" -n rrlb-system "${monitoring[@]}" ${variants[$name]} > "$out"
  echo "== $name: kubeconform -strict"
  "$bin/kubeconform" -strict -summary -schema-location "$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$out" || failed=1
  echo "== $name: kube-score"
  findings="$("$bin/kube-score" score "${ignore[@]}" --output-format ci "$out" | grep -E '\[(CRITICAL|WARNING)\]' || true)"
  if [ -n "$findings" ]; then
    echo "$findings"
    echo "(not in $chart/kube-score-accepted.txt: fix them or list them there with the reason)"
    failed=1
  else
    echo "no findings beyond the accepted list"
  fi
done
echo "== umbrella: the chart as a dependency, with global values"
umbrella="$work/umbrella"
mkdir -p "$umbrella/charts"
cp -r "$chart" "$umbrella/charts/reranker-lb"
printf 'apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n  - name: reranker-lb\n    version: "*"\n' > "$umbrella/Chart.yaml"
printf 'global:\n  imageRegistry: registry.example\n  storageClass: fast\nreranker-lb:\n  operator:\n    replicas: 2\n' > "$umbrella/values.yaml"
"$helm" template platform "$umbrella" -n rrlb-system > "$work/umbrella.yaml" && echo "renders ($(grep -c '^kind:' "$work/umbrella.yaml") objects)" || failed=1
echo "== examples: kubeconform -strict"
"$bin/kubeconform" -strict -summary -schema-location "$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" examples/sidecar-deployment.yaml examples/rerankerpool.yaml examples/demo-backend.yaml examples/demo-app.yaml || failed=1
exit $failed
