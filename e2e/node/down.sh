#!/usr/bin/env bash
# Undoes e2e/node/up.sh from its record ($RRLB_NODE_DIR/changes), also after a failed start:
# pods first (so the CNI plugin releases addresses and the kubelet unmounts), then kube-proxy and
# its iptables rules, the other processes it started (by recorded pid only), containerd's leftover
# shims (by our socket only), mounts under the state dir, links (with their routes), sysctls it
# found otherwise, cgroups and paths that were absent before. Prints what is left (should be none).
set -uo pipefail
K=${RRLB_NODE_DIR:-/tmp/rrlb-node}
[[ "$K" == /*/* && "${K##*/}" == *rrlb* ]] || { echo "cluster-down: RRLB_NODE_DIR=$K: expected an absolute path whose last part contains rrlb" >&2; exit 2; }
changes="$K/changes"
t0=$(date +%s)
if [ ! -f "$changes" ]; then echo "cluster-down: nothing recorded in $changes: no cluster to stop" >&2; exit 0; fi
recorded() { grep "^$1 " "$changes" | cut -d' ' -f2-; }
pid_of() { recorded process | awk -v n="$1" '$1 == n {print $2}' | tail -1; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop() {  # SIGTERM, 10 s, SIGKILL; only the pid recorded for that name
  local pid; pid=$(pid_of "$1")
  alive "$pid" || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 50); do alive "$pid" || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null
}
# The binaries up.sh used (never a build here: teardown must not wait for a compiler).
TOOLS=$(recorded tools | tail -1)
NB=$(recorded node-binaries | tail -1)
sock=$(recorded containerd | tail -1)
CTR=(ctr --address "${sock:-/nonexistent}" -n k8s.io)

# 1. pods, while the kubelet and the API server still run
if alive "$(pid_of kubelet)" && alive "$(pid_of kube-apiserver)"; then
  kc=("$TOOLS/kubectl" --kubeconfig "$K/cp/kubeconfig-admin" --request-timeout 10s)
  "${kc[@]}" delete deploy,rs,ds,sts,job --all -A --wait=false >/dev/null 2>&1
  "${kc[@]}" delete pods --all -A --grace-period=1 --timeout=30s >/dev/null 2>&1
fi
# 2. kube-proxy and its rules
stop kube-proxy
[ -x "$NB/kube-proxy" ] && "$NB/kube-proxy" --cleanup --v=0 >/dev/null 2>&1
# 3. node and control plane
for name in kubelet coredns kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$name"; done
# 4. containers still running, containerd, and shims serving our socket
if alive "$(pid_of containerd)"; then
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks rm -f "$t" >/dev/null 2>&1; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers rm "$c" >/dev/null 2>&1; done
fi
stop containerd
if [ -n "$sock" ]; then
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock( |$)"); do kill -9 "$shim" 2>/dev/null; done
fi
# 5. mounts under the state dir (kubelet bind-mounts its root dir; overlay rootfs; shm; netns; tmpfs)
for _ in 1 2 3; do
  for m in $(awk '{print $2}' /proc/mounts | grep -E "^$K/" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done
# 6. network: links (routes go with them), iptables leftovers, sysctls
for link in $(recorded link); do ip link del "$link" 2>/dev/null; done
if grep -qx "iptables KUBE-" "$changes"; then
  for ipt in iptables ip6tables; do
    for table in filter nat mangle; do
      "$ipt-save" -t $table 2>/dev/null | grep -E '^-A .* -j KUBE-' | sed 's/^-A/-D/' | while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null; done
      for chain in $("$ipt-save" -t $table 2>/dev/null | grep -oE '^:KUBE-[A-Z0-9-]+' | tr -d :); do $ipt -t $table -F "$chain" 2>/dev/null; done
      for chain in $("$ipt-save" -t $table 2>/dev/null | grep -oE '^:KUBE-[A-Z0-9-]+' | tr -d :); do $ipt -t $table -X "$chain" 2>/dev/null; done
    done
  done
fi
recorded sysctl | while read -r key value; do
  [ "$(sysctl -n "$key" 2>/dev/null)" = "$value" ] || sysctl -qw "$key=$value"
done
# 7. cgroups (depth first: kubepods/... below our root)
for c in $(recorded cgroup); do
  [ -d /sys/fs/cgroup/$c/rrlb-node ] && find /sys/fs/cgroup/$c/rrlb-node -depth -type d -exec rmdir {} \; 2>/dev/null
done
# 8. fixed paths that did not exist before up.sh
for path in $(recorded path); do rm -rf "$path"; done
rm -rf /root/.kube/cache/discovery/198.18.201.1_26443 /root/.kube/cache/http 2>/dev/null
# 9. what is left
left=()
for name in $(recorded process | awk '{print $1}'); do alive "$(pid_of "$name")" && left+=("process $name")
done
[ "$(grep -c " $K/" /proc/mounts)" = 0 ] || left+=("mounts under $K")
for link in $(recorded link); do ip link show "$link" >/dev/null 2>&1 && left+=("link $link"); done
ip -br addr | grep -qE '198\.18\.201\.|198\.18\.200\.|198\.19\.0\.' && left+=("addresses in 198.18.200-201/198.19.0")
for c in $(recorded cgroup); do [ -d /sys/fs/cgroup/$c/rrlb-node ] && left+=("cgroup $c/rrlb-node"); done
if grep -qx "iptables KUBE-" "$changes" && { iptables-save; ip6tables-save; } 2>/dev/null | grep -q '^:KUBE-'; then left+=("iptables KUBE- chains"); fi
if [ ${#left[@]} -gt 0 ]; then
  echo "cluster-down: left behind: ${left[*]} (record kept in $changes)" >&2
  exit 1
fi
rm -rf "$K"
echo "cluster-down: everything undone in $(( $(date +%s) - t0 )) s" >&2
