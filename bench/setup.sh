#!/usr/bin/env bash
# Installs the benchmark peers: HAProxy, nginx, wrk from Debian; LiteLLM (pinned, proxy extras)
# and matplotlib (for the charts) into a venv cached in .cache/bench-venv. Idempotent. Needs root.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LITELLM_VERSION=1.80.0
MATPLOTLIB_VERSION=3.10.7
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
venv="$root/.cache/bench-venv"
stamp="$venv/.installed-$LITELLM_VERSION-$MATPLOTLIB_VERSION"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" "matplotlib==$MATPLOTLIB_VERSION" >&2
  touch "$stamp"
fi
echo "$venv"
