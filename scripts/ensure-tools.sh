#!/usr/bin/env bash
# Installs the Debian tools the test suite drives for real (promtool from the prometheus package)
# when they are missing. Idempotent; needs root (as on the dev machines and CI).
set -euo pipefail
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ensure-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
