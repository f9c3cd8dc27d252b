#!/usr/bin/env bash
# Stages the build context of one image: a whole root filesystem, because no base image can be
# pulled here (and none is needed). The Containerfiles are FROM scratch + COPY of this context, so
# podman (make images) and Docker elsewhere build the same thing:
#   images/stage.sh sidecar .cache/images/context/sidecar
#   docker build -f images/sidecar.Containerfile .cache/images/context/sidecar
# Layout: runtime/ (Node 24 stripped, the shared libraries ldd lists, CA certificates, passwd and
# group with the unprivileged user 1000, an empty /tmp) and app/: for the sidecar, its launcher and
# one bundled file (scripts/bundle.ts: less memory and a faster start than ~200 modules); for the
# others, the files the entry point imports, never tests, package.json and production
# dependencies from `npm ci --omit=dev`.
# Needs Linux x86-64 (the repo's Node binary and this machine's glibc go into the image).
set -euo pipefail
image=${1:?usage: images/stage.sh sidecar|operator|fake-backend|pause|redis <context dir>}
ctx=${2:?usage: images/stage.sh <image> <context dir>}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$root/.tools/node-v$(cat "$root/.node-version")/bin/node"
case $image in
  sidecar) entry=sidecar/main.ts; deps=bundle ;;
  operator) entry=operator/main.ts; deps=yes ;;
  fake-backend) entry=test/fake-reranker/fake-reranker-cli.ts; deps=no ;;   # imports only node: builtins
  pause) entry= ;;
  redis) entry= ;;
  *) echo "stage: unknown image $image" >&2; exit 2 ;;
esac
rm -rf "$ctx"
mkdir -p "$ctx"

if [ "$image" = pause ]; then
  # The pod sandbox: the static binary e2e/kube/build-node.sh compiles, nothing else.
  install -D -m 0755 "$("$root/e2e/kube/build-node.sh")/pause" "$ctx/pause"
  exit 0
fi

if [ "$image" = redis ]; then
  # The chart's optional Redis (pool-wide limits): Debian's redis-server (scripts/ensure-tools.sh
  # installs the package), the libraries it links, the unprivileged user 1000, an empty /tmp.
  server="$(command -v redis-server)" || { echo "stage: redis-server is needed (apt-get install redis-server)" >&2; exit 1; }
  rt="$ctx/runtime"
  mkdir -p "$rt/usr/bin" "$rt/etc" "$rt/tmp"
  chmod 1777 "$rt/tmp"
  install -m 0755 "$(readlink -f "$server")" "$rt/usr/bin/redis-server"
  for lib in $(ldd "$server" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do install -D -m 0755 "$(readlink -f "$lib")" "$rt$lib"; done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nredis:x:1000:1000:redis:/tmp:/sbin/nologin\n' > "$rt/etc/passwd"
  printf 'root:x:0:\nredis:x:1000:\n' > "$rt/etc/group"
  echo "stage: $image in $ctx ($(du -sh "$ctx" | cut -f1))" >&2
  exit 0
fi

# --- runtime: Node and what it links, certificates, users
rt="$ctx/runtime"
mkdir -p "$rt/usr/local/bin" "$rt/etc/ssl/certs" "$rt/tmp" "$rt/app"
chmod 1777 "$rt/tmp"
strip -o "$rt/usr/local/bin/node" "$node_bin"      # debug info is a sixth of the binary
for lib in $(ldd "$node_bin" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
  # ld-linux and libc by the path ldd names (the interpreter's path is baked into the binary)
  install -D -m 0755 "$(readlink -f "$lib")" "$rt$lib"
done
# HTTPS backends (hosted Cohere, Jina): Node reads its own bundled roots, and this file when
# NODE_EXTRA_CA_CERTS / --use-openssl-ca point at it; OpenSSL's default path too.
cp /etc/ssl/certs/ca-certificates.crt "$rt/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:1000:1000:reranker-lb:/app:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$rt/etc/passwd"
printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' > "$rt/etc/group"
printf 'hosts: files dns\n' > "$rt/etc/nsswitch.conf"

# --- app: the entry point's import closure, package.json, production dependencies
app="$ctx/app"
mkdir -p "$app"
if [ "$deps" = bundle ]; then
  # Tests refuse to be bundled the same way app-files.ts refuses them (it checks the closure).
  (cd "$root" && "$node_bin" images/app-files.ts "$entry" >/dev/null)
  "$node_bin" "$root/scripts/bundle.ts" "$app"
  echo "stage: $image in $ctx ($(du -sh "$ctx" | cut -f1))" >&2
  exit 0
fi
(cd "$root" && "$node_bin" images/app-files.ts "$entry") | while read -r f; do install -D -m 0644 "$root/$f" "$app/$f"; done
cp "$root/package.json" "$app/package.json"
if [ "$deps" = yes ]; then
  # One `npm ci --omit=dev` per package-lock, cached; never the developer's node_modules.
  lock_hash=$(cat "$root/package.json" "$root/package-lock.json" | sha256sum | cut -c1-16)
  deps_dir="$root/.cache/images/deps-$lock_hash"
  if [ ! -d "$deps_dir/node_modules" ]; then
    rm -rf "$deps_dir.tmp" && mkdir -p "$deps_dir.tmp"
    cp "$root/package.json" "$root/package-lock.json" "$deps_dir.tmp/"
    (cd "$deps_dir.tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    # Nothing at run time reads type declarations, source maps or docs.
    find "$deps_dir.tmp/node_modules" \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -iname '*.md' \) -type f -delete
    mv "$deps_dir.tmp" "$deps_dir"
  fi
  cp -a "$deps_dir/node_modules" "$app/node_modules"
fi
echo "stage: $image in $ctx ($(du -sh "$ctx" | cut -f1))" >&2
