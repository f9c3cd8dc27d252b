#!/usr/bin/env bash
# Builds vegeta (open-loop HTTP load) from the Go module proxy at a pinned version, once, into
# .cache/bench-bin. Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VEGETA_VERSION=v12.13.0
bin="$root/.cache/bench-bin/vegeta-$VEGETA_VERSION"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "setup-vegeta: Go is needed (the machine's toolchain)" >&2; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
  mkdir -p "$(dirname "$bin")"
  mv "$tmp/vegeta" "$bin"
fi
echo "$bin"
