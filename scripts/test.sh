#!/usr/bin/env bash
# The whole test suite, in order from fastest to slowest; prints each stage's time and the total.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "== $name"
  "$@"
  echo "== $name: $(( $(date +%s) - t0 )) s"
}
stage tools scripts/ensure-tools.sh
stage typecheck npx tsc -p tsconfig.json
# Biome: formatting and lint rules (biome.json), then exports that no module imports.
stage lint bash -c 'npx biome ci --error-on-warnings && node scripts/unused-exports.ts'
# The chart's alerts: valid rules, and promtool unit tests of each alert.
stage alerts bash -c 'promtool check rules charts/reranker-lb/files/alerts.yaml && promtool test rules charts/reranker-lb/tests/alerts.test.yaml'
stage unit node --test --test-reporter=spec 'common/**/*.test.ts' 'kube/**/*.test.ts' 'sidecar/**/*.test.ts' 'operator/**/*.test.ts' 'test/fake-reranker/**/*.test.ts'
stage integration node --test --test-reporter=spec --test-concurrency=1 'test/integration/**/*.test.ts'
# chaos, short: kills, 503 bursts, stalls and reloads under load (make chaos runs 60 s).
stage chaos node bench/chaos.ts --seconds 15 --rate 100
# e2e: a real kube-apiserver + etcd built from pinned Go modules (first run only: several minutes).
stage kube-binaries bash -c 'e2e/kube/build.sh >/dev/null && e2e/kube/tools.sh >/dev/null'
# kubeconform -strict and kube-score on every chart variant and the examples (validators built once).
stage chart-validators scripts/validate-chart.sh
# The real node of e2e/real-node.test.ts: images built here with podman, kubelet/kube-scheduler/
# kube-proxy/CoreDNS and a Prometheus with Kubernetes discovery (first run only: several minutes).
stage node-binaries bash -c 'e2e/kube/build-node.sh >/dev/null && e2e/kube/build-prometheus.sh >/dev/null'
stage images images/build.sh sidecar operator fake-backend pause
stage e2e node --test --test-reporter=spec --test-concurrency=1 'e2e/**/*.test.ts'
echo "== total: $(( $(date +%s) - start )) s"
