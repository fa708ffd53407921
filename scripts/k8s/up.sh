#!/usr/bin/env bash
# Usage: scripts/k8s/up.sh [STATE_DIR]
# Starts a real single-node Kubernetes for the end-to-end tests, inside a network namespace of its own:
#   host  eoa-k8s-h 10.213.0.1/30 ── veth ── eth0 10.213.0.2/30  netns eoa-k8s (the node)
#         route 10.213.1.0/24 via the node     cni0 10.213.1.1/24 ── pods (CNI bridge + host-local)
# etcd, kube-apiserver (its own CA and certificates, made with openssl), kube-controller-manager, kube-scheduler,
# containerd (Debian's, with runc and the CNI plugins) and kubelet all run in that namespace (nsenter --net, not
# `ip netns exec`, which remounts /sys and hides /sys/fs/cgroup); the host reaches the API server at
# https://10.213.0.2:6443 and the pods at their IPs. No image registry: the sandbox (pause) image is built
# locally (install-kubernetes.sh) and images are imported into containerd (images.sh); pods use pullPolicy Never.
#
# Everything it makes lives under STATE_DIR (default: ${TMPDIR:-/tmp}/eoa-k8s), in the netns, and in the cgroup
# /eoa-k8s of each cgroup v1 controller (and of the cgroup2 tree); scripts/k8s/down.sh STATE_DIR removes all of it,
# also after a failed up. Prints `export KUBECONFIG=STATE_DIR/kubeconfig` when the node is Ready.
# Environment: K8S_NAME (netns and cgroup name, default eoa-k8s), K8S_READY_TIMEOUT (seconds, default 180).
# Installs the Debian packages it needs (containerd, runc, containernetworking-plugins, openssl, iptables).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=scripts/k8s/common.sh
source "$ROOT/scripts/k8s/common.sh"
k8s_init "${1:-}"

log() { printf 'k8s-up: %s\n' "$*" >&2; }
fail() {
  log "$*"
  log "logs: $LOGS; clean up with scripts/k8s/down.sh $STATE"
  exit 1
}

start=$SECONDS

# --- Packages and binaries -----------------------------------------------------------------------------------------
packages=(containerd runc containernetworking-plugins openssl iptables iproute2 util-linux curl)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # RUNLEVEL=1: no service starts on install (a host containerd would be another daemon to stop).
  RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$ROOT/scripts/k8s/install-kubernetes.sh"

if [[ -e /run/netns/$NAME ]]; then
  fail "netns $NAME exists: another cluster is up (scripts/k8s/down.sh STATE_DIR first)"
fi
mkdir -p "$STATE" "$LOGS" "$PIDS"
printf '%s\n' "$NAME" >"$STATE/name"

# tracefs, which the agent's pod mounts from the node and cannot mount itself (systemd hosts mount it at boot).
if ! awk '$2 == "/sys/kernel/tracing" && $3 == "tracefs" { found = 1 } END { exit !found }' /proc/self/mounts; then
  mount -t tracefs nodev /sys/kernel/tracing
  touch "$STATE/tracefs-mounted"
fi

# --- The node's network namespace ----------------------------------------------------------------------------------
ip netns add "$NAME"
ip link add "$HOST_VETH" type veth peer name "$NODE_VETH_TMP"
ip link set "$NODE_VETH_TMP" netns "$NAME"
ip -n "$NAME" link set "$NODE_VETH_TMP" name eth0
ip addr add "$HOST_IP/30" dev "$HOST_VETH"
ip link set "$HOST_VETH" up
ip -n "$NAME" addr add "$NODE_IP/30" dev eth0
ip -n "$NAME" link set lo up
ip -n "$NAME" link set eth0 up
# A default route: the kubelet picks the node address from it. Nothing beyond the host answers.
ip -n "$NAME" route add default via "$HOST_IP"
# The pods, reachable from the host (a Prometheus there scrapes them as a PodMonitor would).
ip route add "$POD_CIDR" via "$NODE_IP" dev "$HOST_VETH"
in_node sysctl -qw net.ipv4.ip_forward=1

# --- Cgroups: the kubelet's cgroupRoot, in every v1 controller and the cgroup2 tree ---------------------------------
for dir in $(cgroup_dirs); do
  mkdir -p "$dir"
  # A new cpuset cgroup starts with no CPUs and no memory nodes: copy them from the parent.
  if [[ -f $dir/cpuset.cpus ]]; then
    cat "$(dirname "$dir")/cpuset.cpus" >"$dir/cpuset.cpus"
    cat "$(dirname "$dir")/cpuset.mems" >"$dir/cpuset.mems"
  fi
done

# --- Certificates --------------------------------------------------------------------------------------------------
PKI=$STATE/pki
mkdir -p "$PKI"
(
  cd "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 7 -subj "/CN=eoa-k8s-ca" 2>/dev/null
  # NAME CN O [SAN]: a key and a certificate signed by the CA.
  cert() {
    local name=$1 cn=$2 o=$3 san=${4:-} subj="/CN=$2"
    [[ -n $o ]] && subj="/O=$o/CN=$cn"
    openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
    {
      echo "basicConstraints=CA:FALSE"
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      if [[ -n $san ]]; then
        echo "extendedKeyUsage=serverAuth"
        echo "subjectAltName=$san"
      else
        echo "extendedKeyUsage=clientAuth"
      fi
    } >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -extfile "$name.ext" \
      -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
  }
  cert apiserver kube-apiserver "" \
    "IP:$NODE_IP,IP:127.0.0.1,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  cert admin eoa-admin system:masters
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kubelet "system:node:$NODE_NAME" system:nodes
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
)

# kubeconfig NAME CERT SERVER: a kubeconfig for a client certificate.
kubeconfig() {
  cat >"$STATE/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: eoa
    cluster:
      server: $3
      certificate-authority: $PKI/ca.crt
users:
  - name: $2
    user:
      client-certificate: $PKI/$2.crt
      client-key: $PKI/$2.key
contexts:
  - name: eoa
    context: { cluster: eoa, user: $2 }
current-context: eoa
YAML
}
kubeconfig admin admin "https://$NODE_IP:6443"
cp "$STATE/admin.kubeconfig" "$STATE/kubeconfig"
kubeconfig controller-manager controller-manager "https://$NODE_IP:6443"
kubeconfig scheduler scheduler "https://$NODE_IP:6443"
kubeconfig kubelet kubelet "https://$NODE_IP:6443"

# --- Control plane -------------------------------------------------------------------------------------------------
# start NAME COMMAND...: a daemon in the node's netns, in its own session, logging to $LOGS/NAME.log.
start_daemon() {
  local name=$1
  shift
  nsenter "--net=/run/netns/$NAME" -- setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  printf '%s\n' "$!" >"$PIDS/$name.pid"
}
# wait_until WHAT SECONDS COMMAND...: polls COMMAND every 0.5 s.
wait_until() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out waiting for $what"
    sleep 0.5
  done
}
alive() { kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null || fail "$1 exited: $(tail -n 5 "$LOGS/$1.log")"; }

start_daemon etcd "$BIN/etcd" --name eoa --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster eoa=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
  --quota-backend-bytes 1073741824 --log-level warn
wait_until etcd 30 in_node curl -sf http://127.0.0.1:2379/health
alive etcd

start_daemon kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers http://127.0.0.1:2379 \
  --advertise-address "$NODE_IP" --bind-address 0.0.0.0 --secure-port 6443 \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC \
  --allow-privileged=true \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --profiling=false --v=1
wait_until kube-apiserver 60 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://$NODE_IP:6443/readyz"
alive kube-apiserver
log "API server ready ($((SECONDS - start))s)"

start_daemon kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --use-service-account-credentials=true --leader-elect=false \
  --bind-address 127.0.0.1 --profiling=false --v=1
start_daemon kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig "$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
  --leader-elect=false --bind-address 127.0.0.1 --profiling=false --v=1

# --- containerd ----------------------------------------------------------------------------------------------------
CTRD=$STATE/containerd
mkdir -p "$CTRD" "$STATE/cni/net.d" "$STATE/cni/ipam"
cat >"$STATE/cni/net.d/10-eoa.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "eoa",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
JSON
cat >"$CTRD/config.toml" <<TOML
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$SOCKET"
[ttrpc]
  address = "$SOCKET.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(cat "$PAUSE_ARCHIVE.ref")"
  # Without CAP_SYS_RESOURCE runc cannot lower a container's oom_score_adj below containerd's own.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state directory, so down.sh finds every one.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        # runc's state (else /run/containerd/runc).
        Root = "$CTRD/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
TOML
start_daemon containerd containerd --config "$CTRD/config.toml"
wait_until containerd 30 ctr --address "$SOCKET" version
alive containerd
ctr --address "$SOCKET" -n k8s.io images import --all-platforms "$PAUSE_ARCHIVE" >/dev/null

# --- kubelet -------------------------------------------------------------------------------------------------------
KUBELET=$STATE/kubelet
mkdir -p "$KUBELET/pki" "$STATE/pod-logs"
printf 'nameserver 127.0.0.1\n' >"$STATE/resolv.conf"
cat >"$STATE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 (hybrid): Kubernetes 1.35+ refuses it unless told not to.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NAME
containerRuntimeEndpoint: unix://$SOCKET
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization:
  mode: Webhook
clusterDomain: cluster.local
resolvConf: $STATE/resolv.conf
podLogsDir: $STATE/pod-logs
podCIDR: $POD_CIDR
maxPods: 30
failSwapOn: false
memorySwap: {}
# No evictions and no image garbage collection on a shared test machine (images cannot be pulled back).
evictionHard: { memory.available: '0%', nodefs.available: '0%', nodefs.inodesFree: '0%', imagefs.available: '0%' }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
YAML
start_daemon kubelet "$BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
  --root-dir "$KUBELET" --cert-dir "$KUBELET/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1

export KUBECONFIG=$STATE/kubeconfig
ready_timeout=${K8S_READY_TIMEOUT:-180}
wait_until "node $NODE_NAME to register" "$ready_timeout" "$BIN/kubectl" get node "$NODE_NAME"
alive kubelet
"$BIN/kubectl" wait --for=condition=Ready "node/$NODE_NAME" --timeout="${ready_timeout}s" >/dev/null ||
  fail "node $NODE_NAME is not Ready: $(tail -n 5 "$LOGS/kubelet.log")"
wait_until "the default service account" 60 "$BIN/kubectl" -n default get serviceaccount default
for daemon in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet; do alive "$daemon"; done
log "node $NODE_NAME Ready in $((SECONDS - start))s (Kubernetes $("$BIN/kubectl" version -o json |
  sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1))"
echo "export KUBECONFIG=$STATE/kubeconfig"
