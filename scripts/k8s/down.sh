#!/usr/bin/env bash
# Usage: scripts/k8s/down.sh [STATE_DIR]
# Tears down what scripts/k8s/up.sh STATE_DIR made, in the order that leaves nothing behind: the pods first (so
# the kubelet runs CNI DEL and unmounts their volumes), then the kubelet, the containers containerd still runs,
# containerd and the control plane (each by the PID up.sh recorded), any process left in the node's netns or
# cgroups, then the mounts under STATE_DIR (lazily), the cgroups, the netns and its veth, and STATE_DIR itself.
# Idempotent, and safe after an up that failed half-way: every step skips what does not exist.
# Environment: K8S_KEEP_LOGS=1 keeps STATE_DIR/logs (everything else is removed).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=scripts/k8s/common.sh
source "$ROOT/scripts/k8s/common.sh"
k8s_init "${1:-}" || exit 1

log() { printf 'k8s-down: %s\n' "$*" >&2; }
start=$SECONDS

# up.sh records the name once it has checked that no other cluster has it: without the record, the netns and the
# cgroups of that name are not this state directory's (an up that refused to start), so leave them alone.
if [[ ! -f $STATE/name ]]; then
  rm -rf "$STATE"
  log "no cluster was started in $STATE"
  exit 0
fi

# pid_of NAME: the recorded PID of a daemon, if that process still runs the daemon's binary.
pid_of() {
  local file=$PIDS/$1.pid pid
  [[ -f $file ]] || return 1
  pid=$(cat "$file")
  [[ -n $pid && -d /proc/$pid ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  printf '%s\n' "$pid"
}

# stop NAME PATTERN [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10).
stop() {
  local pid deadline
  pid=$(pid_of "$1" "$2") || return 0
  kill -TERM "$pid" 2>/dev/null
  deadline=$((SECONDS + ${3:-10}))
  while [[ -d /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.2; done
  if [[ -d /proc/$pid ]]; then
    log "$1 ($pid) ignored SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
  fi
}

# 1. The pods, while the kubelet and the API server still run.
if pid_of kubelet kubelet >/dev/null && pid_of kube-apiserver kube-apiserver >/dev/null; then
  export KUBECONFIG=$STATE/kubeconfig
  kubectl=("$BIN/kubectl" --request-timeout=20s)
  "${kubectl[@]}" delete daemonsets,deployments,replicasets,statefulsets,jobs --all --all-namespaces \
    --wait=false >/dev/null 2>&1
  "${kubectl[@]}" delete pods --all --all-namespaces --grace-period=5 --timeout=60s >/dev/null 2>&1 ||
    log "some pods did not go away in 60s: forcing"
fi

# 2. The kubelet, then whatever containers containerd still runs.
stop kubelet kubelet 15
if pid_of containerd containerd >/dev/null; then
  ctr=(ctr --address "$SOCKET" --timeout 20s)
  for ns in $("${ctr[@]}" namespaces ls -q 2>/dev/null); do
    for task in $("${ctr[@]}" -n "$ns" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" -n "$ns" tasks kill -a -s SIGKILL "$task" >/dev/null 2>&1
    done
    sleep 0.5
    for task in $("${ctr[@]}" -n "$ns" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" -n "$ns" tasks rm -f "$task" >/dev/null 2>&1
    done
  done
fi

# 3. containerd and the control plane, by PID.
stop containerd containerd
stop kube-scheduler kube-scheduler
stop kube-controller-manager kube-controller-manager
stop kube-apiserver kube-apiserver
stop etcd etcd

# 4. Anything still in the node's netns (shims, hostNetwork containers) or in the kubelet's cgroups (containers),
#    and the shims of this containerd: all of them started by this cluster.
leftovers() {
  {
    [[ -e /run/netns/$NAME ]] && ip netns pids "$NAME" 2>/dev/null
    for dir in $(cgroup_dirs); do
      [[ -d $dir ]] && find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null
    done
    for cmdline in /proc/[0-9]*/cmdline; do
      cmd=$( { tr '\0' ' ' <"$cmdline"; } 2>/dev/null)
      [[ $cmd == *containerd-shim*" -address $SOCKET "* ]] && basename "$(dirname "$cmdline")"
    done
  } | grep -vx "$$" | sort -un
}
for round in 1 2 3; do
  pids=$(leftovers)
  [[ -z $pids ]] && break
  log "killing leftover processes (round $round): $(echo $pids)"
  # shellcheck disable=SC2086 # a list of PIDs
  kill -KILL $pids 2>/dev/null
  sleep 0.5
done

# 5. Mounts under the state directory (pod volumes, container rootfs, netns files, shm), deepest first.
if [[ -d $STATE ]]; then
  for round in 1 2 3; do
    mounts=$(awk -v prefix="$STATE/" 'index($2, prefix) == 1 { print $2 }' /proc/self/mounts | sort -ru)
    [[ -z $mounts ]] && break
    while read -r mount; do
      umount -l "$mount" 2>/dev/null || umount -f "$mount" 2>/dev/null
    done <<<"$mounts"
  done
fi

# 6. Cgroups, deepest first (empty now).
for dir in $(cgroup_dirs); do
  [[ -d $dir ]] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  [[ -d $dir ]] && log "could not remove cgroup $dir"
done

# 7. The netns (its veth end and the CNI bridge go with it) and the host's veth end (and its route).
if ip link show "$HOST_VETH" >/dev/null 2>&1; then ip link del "$HOST_VETH"; fi
if [[ -e /run/netns/$NAME ]]; then ip netns del "$NAME"; fi
# CNI's result cache for this network (libcni keeps it under /var/lib/cni whatever the configuration), and the
# directory of containerd's shim sockets (/run/containerd/s whatever its state directory; each shim removes its
# own): only removed when empty, so nobody else's is touched.
rm -rf /var/lib/cni/results/eoa-* 2>/dev/null
rmdir /var/lib/cni/results /var/lib/cni /run/containerd/s /run/containerd/runc/k8s.io /run/containerd/runc \
  /run/containerd 2>/dev/null

# tracefs, if up.sh mounted it (lazily: a tracer elsewhere keeps what it has open).
if [[ -f $STATE/tracefs-mounted ]]; then
  umount -l /sys/kernel/tracing 2>/dev/null
  rm -f "$STATE/tracefs-mounted"
fi

# 8. The state directory.
if [[ -d $STATE ]]; then
  if [[ ${K8S_KEEP_LOGS:-0} == 1 ]]; then
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null
  else
    rm -rf "$STATE" 2>/dev/null
  fi
  if [[ -d $STATE && ${K8S_KEEP_LOGS:-0} != 1 ]]; then
    log "could not remove $STATE: $(find "$STATE" -maxdepth 3 | head -n 5 | tr '\n' ' ')"
    exit 1
  fi
fi

# What should be gone, is.
status=0
if [[ -e /run/netns/$NAME ]] || ip link show "$HOST_VETH" >/dev/null 2>&1; then
  log "netns $NAME or veth $HOST_VETH still exists"
  status=1
fi
for dir in $(cgroup_dirs); do
  [[ -d $dir ]] && status=1
done
if awk -v prefix="$STATE/" 'index($2, prefix) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
  log "mounts left under $STATE"
  status=1
fi
((status == 0)) && log "down in $((SECONDS - start))s: nothing left of $NAME"
exit "$status"
