"""``python3 -m kubetui.kubelet``: start a kubelet (what a node's init system runs).

Flags follow upstream's where one exists (``--node-ip``, ``--root-dir``,
``--max-pods``, ``--node-labels``, ``--address``, ``--port``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from kubetui.agent.apiclient import APIClient
from kubetui.agent.flags import FlagParser, Flags
from kubetui.agent.main import main as agent_main
from kubetui.kubelet.kubelet import Kubelet, KubeletConfig, default_node_ip
from kubetui.kubelet.podspec import parse_quantity

log = logging.getLogger("kubetui.kubelet")
#: set by the local provider: the descriptor of its cluster's loopback-block lock (kubetui.providers.loopback)
LOOPBACK_LOCK_ENV = "KUBETUI_LOOPBACK_LOCK_FD"
NAME = "kubelet"


def parse_args(argv: list[str]) -> Flags:
    p = FlagParser(prog="kubelet", description="kubetui's node agent")
    p.add_argument("--api-server", required=True, help="https://HOST:PORT of the API server")
    p.add_argument("--token-file", required=True, help="file holding this node's bearer token")
    p.add_argument("--ca-file", help="cluster CA (PEM) to trust")
    p.add_argument("--node-name", required=True)
    p.add_argument("--node-ip", default=None, help="InternalIP to report (default: this host's address)")
    p.add_argument("--root-dir", default="/var/lib/kubelet")
    p.add_argument("--runtime", choices=("process", "isolated"), default="process")
    p.add_argument("--runtime-state-dir", default=None,
                   help="the runtime's state: each sandbox's and container's small files (containerd's "
                        "state dir, /run/containerd: a tmpfs); default: beside the logs under --root-dir")
    p.add_argument("--pod-cidr", default=None,
                   help="addresses for pods (process runtime: a 127.x.y.0/24, the local provider gives its cluster's "
                        "block's, kubetui.agent.loopback; default 127.244.0.0/24; "
                        "isolated: default is the Node's spec.podCIDR, given by the node IPAM controller)")
    p.add_argument("--address", default="0.0.0.0", help="where the kubelet API listens")
    p.add_argument("--port", type=int, default=10250, help="kubelet API port (0: any free port)")
    p.add_argument("--cpus", type=float, default=None, help="advertised CPUs (default: cgroup limit)")
    p.add_argument("--memory", default=None, help="advertised memory, e.g. 2Gi (default: cgroup limit)")
    p.add_argument("--max-pods", type=int, default=110)
    p.add_argument("--node-labels", default="", help="k=v,k=v")
    p.add_argument("--cluster-dns", default="", help="comma-separated DNS server IPs for ClusterFirst pods")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16",
                   help="isolated runtime: pod traffic to outside this range is masqueraded")
    p.add_argument("--local-volumes-dir", default="",
                   help="where node-local PersistentVolumes live; directories there whose PersistentVolume "
                        "is gone (and no pod uses) are deleted")
    p.add_argument("--volume-sync-period", type=float, default=2.0,
                   help="seconds between rewrites of mounted ConfigMaps/Secrets/downwardAPI files")
    p.add_argument("--timings", default=None, help="JSON of kubetui.timings.Timings.as_dict(), or @FILE holding it")
    p.add_argument("--log-level", default=os.environ.get("KUBETUI_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


def make_runtime(args: Flags, node_ip: str):
    root = Path(args.root_dir) / "runtime"
    if args.runtime == "isolated":
        from kubetui.runtime.isolated import IsolatedRuntime
        # Without --pod-cidr the kubelet waits for Node.spec.podCIDR (node IPAM), as upstream.
        return IsolatedRuntime(root, node_name=args.node_name, pod_cidr=args.pod_cidr, node_ip=node_ip,
                               cluster_cidr=args.cluster_cidr, state_dir=args.runtime_state_dir)
    from kubetui.runtime.process import ProcessRuntime
    return ProcessRuntime(root, node_name=args.node_name, pod_cidr=args.pod_cidr or "127.244.0.0/24",
                          node_ip=node_ip, hold_fds=_inherited_lock(), state_dir=args.runtime_state_dir)


def _inherited_lock() -> tuple[int, ...]:
    """The local cluster's loopback-block lock the local provider handed this kubelet (``LOOPBACK_LOCK_FD``):
    its pods inherit it too, so the block stays this cluster's while any of them runs."""
    try:
        fd = int(os.environ.get(LOOPBACK_LOCK_ENV, ""))
        os.fstat(fd)
    except (ValueError, OSError):
        return ()
    return (fd,)


class KubeletAgent:
    """The kubelet as ``kubetui.agent.main`` runs it: on SIGTERM it kills its pods, as a node shutting down."""

    def __init__(self, kubelet: Kubelet, api_server: str) -> None:
        self.kubelet, self.api_server = kubelet, api_server

    async def start(self) -> None:
        await self.kubelet.start()
        log.info("kubelet for node %s started (runtime %s, API %s, kubelet port %d)",
                 self.kubelet.config.node_name, self.kubelet.runtime.name, self.api_server, self.kubelet.port)

    async def stop(self) -> None:
        log.info("kubelet stopping: killing its pods")
        await self.kubelet.stop(kill_pods=True)


async def build(args: Flags) -> KubeletAgent:
    token = Path(args.token_file).read_text().strip()
    node_ip = args.node_ip or default_node_ip()
    labels = dict(kv.split("=", 1) for kv in args.node_labels.split(",") if "=" in kv)
    config = KubeletConfig(node_name=args.node_name, root_dir=Path(args.root_dir), node_ip=node_ip,
                           cpus=args.cpus, max_pods=args.max_pods, labels=labels,
                           memory_bytes=int(parse_quantity(args.memory)) if args.memory else None,
                           address=args.address, port=args.port, api_server=args.api_server,
                           cluster_dns=[a for a in args.cluster_dns.split(",") if a],
                           cluster_domain=args.cluster_domain, local_volumes_dir=args.local_volumes_dir,
                           volume_sync_period=args.volume_sync_period)
    if args.timings:
        # `@FILE` reads the JSON from a file (as Docker nodes do: it keeps `ps` readable)
        text = Path(args.timings[1:]).read_text() if args.timings.startswith("@") else args.timings
        config.apply_timings(json.loads(text))
    api = APIClient(args.api_server, token=token, ca_file=args.ca_file)
    return KubeletAgent(Kubelet(config, api, make_runtime(args, node_ip), server_token=token), args.api_server)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return agent_main(NAME, lambda: build(args), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
