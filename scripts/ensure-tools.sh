#!/usr/bin/env bash
# Installs the Debian tools the test suite drives for real when they are missing: promtool and
# prometheus (the prometheus package), redis-server (shared limits), and for the images and the local node (make images,
# make cluster): podman + buildah (images without a Docker engine), containerd + runc + the CNI
# plugins (the node's runtime and pod network), iptables + conntrack (kube-proxy).
# Idempotent; needs root (as on the dev machines and CI). Runs `apt-get update` once, only when
# something is missing.
set -euo pipefail
missing=()
need() { command -v "$1" >/dev/null || [ -x "$1" ] || missing+=("$2"); }
need promtool prometheus
need podman podman
need buildah buildah
need containerd containerd
need runc runc
need /usr/lib/cni/bridge containernetworking-plugins
need iptables iptables
need conntrack conntrack
need gcc gcc                     # the static pause binary of the sandbox image
need openssl openssl
need curl curl
need redis-server redis-server   # the shared-limits tests run a real Redis
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-tools: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
