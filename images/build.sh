#!/usr/bin/env bash
# make images: stages and builds each image with podman (no Docker engine needed; Debian's podman,
# vfs storage, chroot isolation, runc, cgroupfs: what works on a machine without overlay mounts for
# unprivileged builds, CAP_SYS_RESOURCE or a systemd cgroup manager), then exports an OCI archive
# per image for containerd (`ctr -n k8s.io images import`).
#   images/build.sh [sidecar operator fake-backend pause redis]   (default: the first three)
# Env: IMAGE_REPO (ghcr.io/reranker-lb), IMAGE_TAG (package.json's version).
# Out: .cache/images/oci/<image>-<tag>.tar; prints each image's size. Podman's storage lives in
# .cache/images/podman, never in the machine's /var/lib/containers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.tools/node-v$(cat "$root/.node-version")/bin:$PATH"
repo=${IMAGE_REPO:-ghcr.io/reranker-lb}
tag=${IMAGE_TAG:-$(node -p "require('$root/package.json').version")}
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(sidecar operator fake-backend)
cache="$root/.cache/images"
mkdir -p "$cache/oci"
podman() { "$root/images/podman.sh" "$@"; }
for image in "${images[@]}"; do
  s=$(date +%s)
  ref="$repo/$image:$tag"
  [ "$image" = pause ] && ref="localhost/pause:3.10"
  ctx="$cache/context/$image"
  "$root/images/stage.sh" "$image" "$ctx"
  out="$cache/oci/$image-${ref##*:}.tar"
  # Same context, Containerfile and name as the archive on disk: nothing to rebuild.
  inputs=$( (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum; sha256sum "$root/images/$image.Containerfile"; echo "$ref") | sha256sum | cut -c1-64)
  if [ -f "$out" ] && [ "$(cat "$out.inputs" 2>/dev/null)" = "$inputs" ] && podman image exists "$ref"; then
    echo "$ref: unchanged -> ${out#$root/}"
    continue
  fi
  podman build --isolation chroot --quiet -f "$root/images/$image.Containerfile" -t "$ref" "$ctx" >/dev/null
  rm -f "$out" "$out.inputs"
  podman save --quiet --format oci-archive -o "$out" "$ref"
  echo "$inputs" > "$out.inputs"
  size=$(podman image inspect --format '{{.Size}}' "$ref")
  podman image prune -f >/dev/null   # the previous build of this name, now untagged
  echo "$ref: $(( size / 1000000 )) MB ($(du -m "$out" | cut -f1) MiB archive) in $(( $(date +%s) - s )) s -> ${out#$root/}"
done
