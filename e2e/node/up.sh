#!/usr/bin/env bash
# Starts a single-node Kubernetes v1.34 on this machine: etcd, kube-apiserver, kube-controller-
# manager, kube-scheduler (control plane of e2e/kube/build.sh), kubelet, kube-proxy, CoreDNS
# (e2e/kube/build-node.sh), containerd + runc + the CNI bridge (Debian). Needs root.
#   e2e/node/up.sh [image archives to import...]     (the pause image is always imported)
# Addresses (only ever ones it creates): the node 198.18.201.1/32 on a port-less bridge
# rrlb-node0, pods 198.19.0.0/24 on the CNI bridge rrlb-pods0, Services 198.18.200.0/24 routed
# to rrlb-node0 (so service traffic kube-proxy has not rewritten never leaves the machine).
# State in $RRLB_NODE_DIR (default /tmp/rrlb-node). Every change to the machine is appended to
# $RRLB_NODE_DIR/changes before it is made; e2e/node/down.sh undoes them, and runs by itself
# when this script fails. Prints `export KUBECONFIG=...` last.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
K=${RRLB_NODE_DIR:-/tmp/rrlb-node}
NODE_IP=198.18.201.1
NODE=rrlb-node
API=https://$NODE_IP:26443
t0=$(date +%s%N)
say() { echo "cluster: $* ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" >&2; }
fail() { echo "cluster: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (links, routes, cgroups, containerd)"
# The state dir is removed whole at teardown: only a dedicated one (absolute, named *rrlb*).
[[ "$K" == /*/* && "${K##*/}" == *rrlb* ]] || fail "RRLB_NODE_DIR=$K: expected an absolute path whose last part contains rrlb"
if [ -e "$K/changes" ]; then fail "$K/changes exists: a cluster is up (or a teardown was interrupted); run make cluster-down first"; fi
if ip -br addr | grep -qE "\b$NODE_IP/|\b198\.19\.0\."; then fail "198.18.201.1 or 198.19.0.0/24 is already on this machine ($(ip -br addr | grep -E '198\.18\.201|198\.19\.0' | tr -s ' ')); refusing to touch it"; fi
for tool in containerd runc ctr iptables conntrack /usr/lib/cni/bridge; do command -v "$tool" >/dev/null || [ -x "$tool" ] || fail "$tool missing: run scripts/ensure-tools.sh"; done
KB="$("$root/e2e/kube/build.sh")"            # etcd, kube-apiserver, kube-controller-manager
NB="$("$root/e2e/kube/build-node.sh")"       # kubelet, kube-scheduler, kube-proxy, coredns, pause
TOOLS="$("$root/e2e/kube/tools.sh")"         # kubectl, helm
kubectl() { "$TOOLS/kubectl" --kubeconfig "$K/cp/kubeconfig-admin" "$@"; }

rm -rf "$K"
mkdir -p "$K"/{run,logs,conf,cp/certs,containerd,cni/net.d,kubelet/root,kubelet/certs,kubelet/volume-plugins,pod-logs,kcm-flex}
changes="$K/changes"
record() { echo "$*" >> "$changes"; }
record "tools $TOOLS"
record "node-binaries $NB"
on_exit() {
  local status=$?
  [ $status -ne 0 ] || return 0
  # Keep the logs (down.sh removes the state dir), show their ends, undo everything.
  rm -rf "$K.failed-logs" && cp -r "$K/logs" "$K.failed-logs" 2>/dev/null
  for log in "$K.failed-logs"/*.log; do [ -s "$log" ] && { echo "--- ${log##*/} (last lines)"; tail -n 8 "$log"; }; done >&2
  echo "cluster: start failed (exit $status); logs kept in $K.failed-logs; undoing" >&2
  "$here/down.sh" >&2 || true
}
trap on_exit EXIT

# --- what the kubelet, kube-proxy and the CNI bridge plugin change machine-wide, recorded first
for key in net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet; do
  record "sysctl $key $(sysctl -n "$key")"
done
# Fixed paths they create outside $K (kubelet's device-plugin socket and /var/log/containers,
# containerd's shim sockets, libcni's result cache): removed by down.sh only if absent now.
for path in /var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /usr/libexec/kubernetes /etc/kubernetes; do
  [ -e "$path" ] || record "path $path"
done
# kube-proxy's and the kubelet's iptables chains: down.sh removes leftovers only if none exist now.
if ! { iptables-save; ip6tables-save; } 2>/dev/null | grep -q '^:KUBE-'; then record "iptables KUBE-"; fi

# --- network
record "link rrlb-node0"
ip link add rrlb-node0 type bridge
ip addr add $NODE_IP/32 dev rrlb-node0
ip link set rrlb-node0 up
ip route add 198.18.200.0/24 dev rrlb-node0          # removed with the link
record "link rrlb-pods0"                             # made by the CNI bridge plugin at the first pod

# --- pod cgroups: kubelet's cgroupRoot must exist in every v1 hierarchy
for c in cpu cpuacct cpuset memory pids systemd devices freezer blkio net_cls perf_event hugetlb unified; do
  if [ -d /sys/fs/cgroup/$c ] && [ ! -d /sys/fs/cgroup/$c/rrlb-node ]; then record "cgroup $c"; mkdir /sys/fs/cgroup/$c/rrlb-node; fi
done
cat /sys/fs/cgroup/cpuset/cpuset.cpus > /sys/fs/cgroup/cpuset/rrlb-node/cpuset.cpus
cat /sys/fs/cgroup/cpuset/cpuset.mems > /sys/fs/cgroup/cpuset/rrlb-node/cpuset.mems
say "network and cgroups ready"

# --- processes (each recorded by pid; down.sh stops them in reverse order)
start() {
  local name=$1; shift
  nohup "$@" > "$K/logs/$name.log" 2>&1 &
  echo $! > "$K/run/$name.pid"
  record "process $name $!"
}
waitfor() {  # waitfor <what> <seconds> <command...>
  local what=$1 secs=$2; shift 2
  local until=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt $until ] || fail "$what not ready in ${secs}s"
    sleep 0.2
  done
}
for f in containerd.toml kubelet.yaml kube-proxy.yaml Corefile 10-rrlb-pods.conflist; do sed "s|@K@|$K|g" "$here/conf/$f" > "$K/conf/$f"; done
cp "$K/conf/10-rrlb-pods.conflist" "$K/cni/net.d/"

record "containerd $K/containerd/containerd.sock"
start containerd containerd --config "$K/conf/containerd.toml"
CTR=(ctr --address "$K/containerd/containerd.sock" -n k8s.io)
waitfor containerd 30 "${CTR[@]}" version
for archive in "$root/.cache/images/oci/pause-3.10.tar" "$@"; do
  [ -f "$archive" ] || fail "image archive $archive missing (images/build.sh builds it)"
  "${CTR[@]}" images import "$archive" >/dev/null
done
say "containerd up, images imported: $("${CTR[@]}" images ls -q | grep -v '^sha256:' | tr '\n' ' ')"

openssl genrsa -out "$K/cp/sa.key" 2048 2>/dev/null
openssl rsa -in "$K/cp/sa.key" -pubout -out "$K/cp/sa.pub" 2>/dev/null
admin_token=$(head -c 24 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
node_token=$(head -c 24 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
printf '%s,rrlb-admin,uid-admin,"system:masters"\n%s,system:node:%s,uid-node,"system:nodes"\n' "$admin_token" "$node_token" "$NODE" > "$K/cp/tokens.csv"
start etcd "$KB/etcd" --data-dir "$K/cp/etcd" --name rrlb --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
  --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 --initial-cluster rrlb=http://127.0.0.1:23800 \
  --listen-metrics-urls http://127.0.0.1:23810 --log-level error
start kube-apiserver "$KB/kube-apiserver" --etcd-servers http://127.0.0.1:23790 --secure-port 26443 --bind-address $NODE_IP --advertise-address $NODE_IP \
  --endpoint-reconciler-type lease --cert-dir "$K/cp/certs" --token-auth-file "$K/cp/tokens.csv" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$K/cp/sa.pub" --service-account-signing-key-file "$K/cp/sa.key" \
  --service-cluster-ip-range 198.18.200.0/24 --allow-privileged=true --kubelet-preferred-address-types InternalIP --v 0
waitfor kube-apiserver 90 bash -c "curl -sfk -H 'Authorization: Bearer $admin_token' $API/readyz | grep -qx ok"
ca=$(base64 -w0 "$K/cp/certs/apiserver.crt")
for user in admin node; do
  token=$admin_token; [ $user = node ] && token=$node_token
  cat > "$K/cp/kubeconfig-$user" <<KC
apiVersion: v1
kind: Config
clusters: [{name: rrlb-node, cluster: {server: "$API", certificate-authority-data: "$ca"}}]
users: [{name: $user, user: {token: "$token"}}]
contexts: [{name: rrlb-node, context: {cluster: rrlb-node, user: $user}}]
current-context: rrlb-node
KC
  chmod 600 "$K/cp/kubeconfig-$user"
done
say "kube-apiserver ready on $API"
start kube-controller-manager "$KB/kube-controller-manager" --kubeconfig "$K/cp/kubeconfig-admin" --leader-elect=false \
  --service-account-private-key-file "$K/cp/sa.key" --root-ca-file "$K/cp/certs/apiserver.crt" --use-service-account-credentials=false \
  --allocate-node-cidrs=false --service-cluster-ip-range 198.18.200.0/24 --flex-volume-plugin-dir "$K/kcm-flex" \
  --bind-address 127.0.0.1 --secure-port 20257 --v 0
start kube-scheduler "$NB/kube-scheduler" --kubeconfig "$K/cp/kubeconfig-admin" --leader-elect=false --bind-address 127.0.0.1 --secure-port 20259 --v 0
start coredns "$NB/coredns" -conf "$K/conf/Corefile"
start kubelet "$NB/kubelet" --config "$K/conf/kubelet.yaml" --kubeconfig "$K/cp/kubeconfig-node" --root-dir "$K/kubelet/root" \
  --cert-dir "$K/kubelet/certs" --hostname-override $NODE --node-ip $NODE_IP --v 1
start kube-proxy "$NB/kube-proxy" --config "$K/conf/kube-proxy.yaml" --v 1
waitfor "node $NODE" 90 bash -c "'$TOOLS/kubectl' --kubeconfig '$K/cp/kubeconfig-admin' get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
waitfor "ServiceAccount default" 60 kubectl get serviceaccount default -n default
say "node $NODE Ready"
echo "export KUBECONFIG=$K/cp/kubeconfig-admin"
