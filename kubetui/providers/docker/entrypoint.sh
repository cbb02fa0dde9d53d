#!/bin/bash
# A kubetui node container's entrypoint (kind's /usr/local/bin/entrypoint).
# It does what `--privileged` would have done where that is refused, cleans up
# what a killed node left behind, and starts the kubelet (and kube-proxy) with the
# arguments the container was created with ("$@", see kubetui/providers/docker/nodespec.py).
set -u

# /sys and the cgroup controllers are mounted read-only in a non-privileged
# container; the kubelet needs to create per-pod cgroups and network devices.
mount -o remount,rw /sys 2>/dev/null || true
for ctrl in /sys/fs/cgroup/*; do
  [ -d "$ctrl" ] && [ ! -L "$ctrl" ] && { mount -o remount,bind,rw "$ctrl" 2>/dev/null || true; }
done
mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true

# /run is a fresh tmpfs on every start; a node run without it may still hold
# stale network-namespace files from before a `docker kill`.
rm -f /run/netns/* 2>/dev/null || true
mkdir -p /run/netns /var/lib/kubelet /var/lib/kubetui/volumes /var/log/pods

# Use the same iptables backend as the host's Docker (as kind does): count the
# rules each backend sees; Docker's embedded DNS rules are already there.
if command -v iptables-legacy-save >/dev/null 2>&1; then
  legacy=$( (iptables-legacy-save 2>/dev/null || true) | grep -c '^-' )
  nft=$( (iptables-nft-save 2>/dev/null || true) | grep -c '^-' )
  if [ "${legacy:-0}" -gt "${nft:-0}" ]; then mode=legacy; else mode=nft; fi
  update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null 2>&1 || true
  update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null 2>&1 || true
fi

# kube-proxy runs next to the kubelet, as on a kubeadm node (there as a DaemonSet
# pod with hostNetwork). Here both run in one Python process, each on its own
# thread and event loop (kubetui/agent/main.py): one interpreter's imports instead
# of two. `python3 -m kubetui.agent freeze kube-proxy` stops one of them alone, as
# `kill -STOP` would a process of its own. kube-proxy programs the node's iptables
# for every Service; `iptables -t nat -S` shows it. The NetworkPolicy agent
# (kubetui.netpol, a CNI plugin's firewall: Calico's Felix, kube-router) runs
# there too and owns the filter table's KUBETUI-* chains: `iptables -S KUBETUI-NETPOL`.
arg() { local want=$1; shift; while [ $# -gt 1 ]; do [ "$1" = "$want" ] && { echo "$2"; return; }; shift; done; }
API_SERVER=$(arg --api-server "$@")
NODE_NAME=$(arg --node-name "$@")
# Two malloc arenas are plenty for these agents (a few threads, mostly idle);
# glibc's default (8 per core) only grows their resident memory. -OO: no docstrings
# in memory (~1 MiB; the image holds the opt-2 bytecode, so nothing is compiled at start).
export MALLOC_ARENA_MAX=2
exec python3 -OO -m kubetui.agent run kubetui.kubelet "$@" \
  -- kubetui.proxy --api-server "$API_SERVER" --node-name "$NODE_NAME" \
     --token-file /etc/kubetui/token --ca-file /etc/kubetui/ca.crt \
     --cluster-cidr "${KUBETUI_CLUSTER_CIDR:-10.244.0.0/16}" --set-iptables-alternatives \
  -- kubetui.netpol --api-server "$API_SERVER" --node-name "$NODE_NAME" \
     --token-file /etc/kubetui/token --ca-file /etc/kubetui/ca.crt
