#!/usr/bin/env bash
# podman as make images and the e2e smoke tests run it on machines like CI's: storage in
# .cache/images/podman (vfs: no overlay mounts needed), runc with cgroupfs (crun refuses hybrid
# cgroup v1 hosts; no systemd), and a containers.conf with no default ulimits (raising rlimits
# needs CAP_SYS_RESOURCE, which these machines lack).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The physical path: worktrees share .cache through a symlink, and podman's database insists on
# the path it was created with.
mkdir -p "$root/.cache/images"
store="$(cd "$root/.cache/images" && pwd -P)/podman"
export CONTAINERS_CONF="$root/images/containers.conf"
exec podman --root "$store/root" --runroot "$store/run" --storage-driver vfs --runtime runc --cgroup-manager cgroupfs "$@"
