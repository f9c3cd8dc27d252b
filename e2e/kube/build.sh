#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from their Go modules at pinned versions
# and caches them in .cache/kube/<versions>/bin. `go install k8s.io/kubernetes/...@v` fails on the
# module's own replace directives, so a wrapper module requires k8s.io/kubernetes and replaces every
# staging module (listed in that version's own go.mod) with the matching v0.X.Y release.
# Prints the bin directory. Idempotent: a cached build is reused.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# BUILD_REVISION changes the cache key when the build recipe itself changes.
BUILD_REVISION=2
out="$root/.cache/kube/${KUBE_VERSION}-etcd${ETCD_VERSION}-r${BUILD_REVISION}"
bin="$out/bin"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] && [ -x "$bin/etcd" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "kube build: Go is needed (the machine's toolchain)" >&2; exit 1; }
mkdir -p "$bin" "$out/src"
export GOFLAGS=-mod=mod GOTOOLCHAIN=auto CGO_ENABLED=0

staging_version="v0.${KUBE_VERSION#v1.}"
mod_json="$(cd "$out/src" && go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}")"
gomod="$(printf '%s' "$mod_json" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
{
  echo "module rerankerlb/e2e/kube"
  echo
  grep -E '^go [0-9.]+' "$gomod"
  echo
  echo "require k8s.io/kubernetes ${KUBE_VERSION}"
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\t\1 => \1 '"${staging_version}"'#p' "$gomod"
  echo ")"
} > "$out/src/go.mod"
cat > "$out/src/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
echo "kube build: building kube-apiserver and kube-controller-manager ${KUBE_VERSION} (first run only; several minutes)" >&2
(cd "$out/src" && go mod tidy >&2)
# Stamp the version the binaries report (/version), as the Kubernetes release build does; tools
# such as Helm check it against a chart's kubeVersion.
minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
version_flags="-X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
version_flags="$version_flags -X k8s.io/client-go/pkg/version.gitVersion=${KUBE_VERSION} -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"
for cmd in kube-apiserver kube-controller-manager; do
  [ -x "$bin/$cmd" ] || (cd "$out/src" && go build -trimpath -ldflags="-s -w $version_flags" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2)
done

echo "kube build: building etcd ${ETCD_VERSION}" >&2
# etcd's server module also has replace directives: same wrapper-module approach.
mkdir -p "$out/etcd"
cat > "$out/etcd/go.mod" <<GOMOD
module rerankerlb/e2e/etcd

go 1.24

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
GOMOD
cat > "$out/etcd/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
[ -x "$bin/etcd" ] || (cd "$out/etcd" && go mod tidy >&2 && go build -trimpath -ldflags="-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3 >&2)
"$bin/kube-apiserver" --version >&2
"$bin/etcd" --version >&2 | head -1
echo "$bin"
