#!/usr/bin/env bash
# Builds Prometheus (pinned, `go install`) with Kubernetes service discovery, into
# .cache/prometheus/<version>/prometheus; prints that path. Debian's prometheus package (whose
# promtool the suite also uses) is built without kubernetes_sd_configs ("field
# kubernetes_sd_configs not found in type config.ScrapeConfig"), so the real-node e2e test scrapes
# pods with this one. Only the Kubernetes discovery is compiled in. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
out="$root/.cache/prometheus/$PROMETHEUS_MODULE_VERSION"
if [ -x "$out/prometheus" ]; then echo "$out/prometheus"; exit 0; fi
command -v go >/dev/null || { echo "prometheus build: Go is needed (the machine's toolchain)" >&2; exit 1; }
mkdir -p "$out"
s=$(date +%s)
echo "prometheus build: $PROMETHEUS_MODULE_VERSION (first run only; a few minutes)" >&2
(cd "$out" && GOBIN="$out/gobin" GOFLAGS= GOTOOLCHAIN=auto CGO_ENABLED=0 \
  go install -trimpath -ldflags="-s -w" -tags remove_all_sd,enable_kubernetes_sd \
  "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" >&2)
mv "$out/gobin/prometheus" "$out/prometheus" && rmdir "$out/gobin"
echo "prometheus build: done in $(( $(date +%s) - s )) s" >&2
echo "$out/prometheus"
