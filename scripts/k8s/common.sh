# shellcheck shell=bash
# Shared by up.sh, down.sh and images.sh: the cluster's names, addresses and paths. Sourced, not run.

# k8s_init [STATE_DIR]
k8s_init() {
  STATE=${1:-${TMPDIR:-/tmp}/eoa-k8s}
  mkdir -p "$STATE"
  STATE=$(cd "$STATE" && pwd)
  # The name (netns, veth, cgroup) up.sh recorded; K8S_NAME or eoa-k8s before that.
  if [[ -f $STATE/name ]]; then
    NAME=$(cat "$STATE/name")
  else
    NAME=${K8S_NAME:-eoa-k8s}
  fi
  [[ $NAME =~ ^[a-z][a-z0-9-]{0,10}$ ]] || {
    echo "K8S_NAME must be 1-11 of [a-z0-9-] (it names a veth): $NAME" >&2
    return 1
  }
  HOST_VETH=$NAME-h
  NODE_VETH_TMP=$NAME-n
  NODE_NAME=eoa-node
  HOST_IP=10.213.0.1
  NODE_IP=10.213.0.2
  POD_CIDR=10.213.1.0/24
  POD_GATEWAY=10.213.1.1
  SERVICE_CIDR=10.213.16.0/24
  SERVICE_IP=10.213.16.1
  LOGS=$STATE/logs
  PIDS=$STATE/pids
  SOCKET=$STATE/containerd/containerd.sock
  TOOLS=$ROOT/.tools
  BIN=$TOOLS/bin
  PAUSE_ARCHIVE=$TOOLS/images/pause.tar
}

# in_node COMMAND...: run in the node's network namespace (nsenter keeps the host's /sys, unlike ip netns exec).
in_node() { nsenter "--net=/run/netns/$NAME" -- "$@"; }

# The kubelet's cgroupRoot (/NAME) in every mounted cgroup v1 controller hierarchy and the cgroup2 tree.
cgroup_dirs() {
  awk -v name="$NAME" '$3 == "cgroup" || $3 == "cgroup2" { print $2 "/" name }' /proc/self/mounts | sort -u
}
