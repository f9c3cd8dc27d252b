#!/usr/bin/env bash
# Builds what a real node needs beside the control plane of build.sh: kubelet, kube-scheduler and
# kube-proxy (same pinned k8s.io/kubernetes, same wrapper module, so the Go build cache of
# build.sh makes them quick), CoreDNS at a pinned version with only the plugins the node's
# Corefile uses (a full `go install` compiles every cloud SDK: 4-5 minutes instead of under one)
# and the sandbox ("pause") binary (a static C program: pause() and reap children). Caches in .cache/kube/node-<versions>/bin.
# Prints the bin directory. Idempotent: a cached build is reused.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
BUILD_REVISION=2
out="$root/.cache/kube/node-${KUBE_VERSION}-coredns${COREDNS_VERSION}-r${BUILD_REVISION}"
bin="$out/bin"
ready() { for f in kubelet kube-scheduler kube-proxy coredns pause; do [ -x "$bin/$f" ] || return 1; done; }
if ready; then echo "$bin"; exit 0; fi
# The control plane's wrapper module (its go.mod pins k8s.io/kubernetes and its staging modules).
cp_src="$("$here/build.sh")/../src"
command -v go >/dev/null || { echo "node build: Go is needed (the machine's toolchain)" >&2; exit 1; }
mkdir -p "$bin" "$out/src"
export GOFLAGS=-mod=mod GOTOOLCHAIN=auto CGO_ENABLED=0
cp "$cp_src/go.mod" "$cp_src/go.sum" "$out/src/"
sed -i 's#^module .*#module rerankerlb/e2e/kubenode#' "$out/src/go.mod"
cat > "$out/src/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
(cd "$out/src" && go mod tidy >&2)
minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
version_flags="-X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
version_flags="$version_flags -X k8s.io/client-go/pkg/version.gitVersion=${KUBE_VERSION} -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"
for cmd in kubelet kube-scheduler kube-proxy; do
  if [ ! -x "$bin/$cmd" ]; then
    s=$(date +%s)
    (cd "$out/src" && go build -trimpath -ldflags="-s -w $version_flags" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2)
    mv "$bin/$cmd.tmp" "$bin/$cmd"
    echo "node build: $cmd in $(( $(date +%s) - s )) s" >&2
  fi
done
if [ ! -x "$bin/coredns" ]; then
  s=$(date +%s)
  mkdir -p "$out/coredns"
  cat > "$out/coredns/go.mod" <<GOMOD
module rerankerlb/e2e/coredns

go 1.24

require github.com/coredns/coredns ${COREDNS_VERSION}
GOMOD
  cat > "$out/coredns/main.go" <<'GO'
// CoreDNS with only the plugins e2e/node/conf/Corefile uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func init() { dnsserver.Directives = []string{"bind", "errors", "kubernetes"} }

func main() { coremain.Run() }
GO
  (cd "$out/coredns" && go mod tidy >&2 && go build -trimpath -ldflags="-s -w" -o "$bin/coredns.tmp" . >&2)
  mv "$bin/coredns.tmp" "$bin/coredns"
  echo "node build: coredns in $(( $(date +%s) - s )) s" >&2
fi
if [ ! -x "$bin/pause" ]; then
  cat > "$out/pause.c" <<'C'
/* The pod sandbox: holds the pod's namespaces, reaps orphans, exits on SIGINT/SIGTERM. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &q, NULL);
  sigaction(SIGTERM, &q, NULL);
  sigaction(SIGCHLD, &r, NULL);
  for (;;) pause();
}
C
  gcc -Os -static -o "$bin/pause" "$out/pause.c"
  strip "$bin/pause"
fi
echo "$bin"
