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
args=(--root "$store/root" --runroot "$store/run" --storage-driver vfs --runtime runc --cgroup-manager cgroupfs)
# A moved checkout: podman's database keeps the absolute paths it was created with and refuses
# every command ("database configuration mismatch"). The store holds only images built from this
# repo (images/build.sh rebuilds them; the OCI archives in .cache/images/oci stay), so it is
# recreated. `checkout` records the path the store belongs to, so the usual case costs no probe.
marker="$store/checkout"
if [ -d "$store/root" ] && [ "$(cat "$marker" 2>/dev/null)" != "$store" ]; then
  if ! probe="$(podman "${args[@]}" info 2>&1 >/dev/null)" && [[ $probe == *"database configuration mismatch"* ]]; then
    echo "images/podman.sh: the podman store $store was created at another path (a moved checkout):" >&2
    echo "  ${probe#Error: }" >&2
    echo "images/podman.sh: recreating it; images/build.sh builds the images again" >&2
    rm -rf "$store/root" "$store/run" || {
      echo "images/podman.sh: cannot remove $store; remove it by hand (as the user that built the images) and run again" >&2
      exit 1
    }
  fi
fi
mkdir -p "$store"
[ "$(cat "$marker" 2>/dev/null)" = "$store" ] || echo "$store" >"$marker"
exec podman "${args[@]}" "$@"
