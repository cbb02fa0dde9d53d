"""``python3 -m kubetui.proxy``: start kube-proxy (what a node's init system runs next to the kubelet).

Flags follow upstream's where one exists (``--cluster-cidr``,
``--proxy-mode``/``--mode``, ``--metrics-bind-address``,
``--iptables-min-sync-period``).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
from pathlib import Path

from kubetui.agent.apiclient import APIClient
from kubetui.agent.flags import FlagParser, Flags
from kubetui.agent.loopback import DEFAULT_SERVICE_RANGE, service_address
from kubetui.agent.main import main as agent_main
from kubetui.proxy.iptables import IPTables, detect_backend, set_alternatives, subprocess_runner
from kubetui.proxy.proxy import IptablesBackend, KubeProxy
from kubetui.proxy.rules import ProxyConfig
from kubetui.proxy.userspace import UserspaceProxy

log = logging.getLogger("kubetui.proxy")
NAME = "kube-proxy"


def parse_args(argv: list[str]) -> Flags:
    p = FlagParser(prog="kube-proxy", description="kubetui's kube-proxy")
    p.add_argument("--api-server", required=True, help="https://HOST:PORT of the API server")
    p.add_argument("--token-file", required=True, help="file holding the bearer token")
    p.add_argument("--ca-file", help="cluster CA (PEM) to trust")
    p.add_argument("--node-name", required=True)
    p.add_argument("--node-ip", default=None)
    p.add_argument("--mode", "--proxy-mode", dest="mode", choices=("iptables", "userspace"), default="iptables")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16")
    p.add_argument("--iptables-backend", choices=("auto", "nft", "legacy"), default="auto",
                   help="auto: the backend already holding rules (the host's), as kind detects it")
    p.add_argument("--set-iptables-alternatives", action="store_true",
                   help="point `iptables` at the chosen backend (update-alternatives), for learners in the node")
    p.add_argument("--iptables-min-sync-period", type=float, default=0.1, help="seconds to batch changes")
    p.add_argument("--sync-period", type=float, default=30.0, help="seconds between full resyncs")
    p.add_argument("--metrics-bind-address", default="0.0.0.0:10249", help="HOST:PORT of /traffic, /healthz")
    p.add_argument("--nodeport-address", "--nodeport-addresses", dest="nodeport_address", default="127.0.0.1",
                   help="userspace mode: the node IPs NodePorts listen on (comma-separated)")
    p.add_argument("--service-address-range", default=DEFAULT_SERVICE_RANGE,
                   help="userspace mode: ClusterIPs are served at their host bits in this loopback range "
                        "(the local cluster's block: kubetui.agent.loopback)")
    p.add_argument("--log-level", default=os.environ.get("KUBETUI_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


def make_backend(args: Flags):
    if args.mode == "userspace":
        return UserspaceProxy(node_name=args.node_name, nodeport_hosts=args.nodeport_address.split(","),
                              address_for=functools.partial(service_address, service_range=args.service_address_range))
    run = subprocess_runner()
    mode = detect_backend(run) if args.iptables_backend == "auto" else args.iptables_backend
    if args.set_iptables_alternatives:
        set_alternatives(mode, run)
    ipt = IPTables(mode, run)
    liberal = False
    try:
        liberal = Path("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal").read_text().strip() not in ("", "0")
    except OSError:
        pass
    try:
        # NodePorts on localhost (upstream --iptables-localhost-nodeports) need route_localnet.
        Path("/proc/sys/net/ipv4/conf/all/route_localnet").write_text("1")
    except OSError as e:
        log.warning("cannot set route_localnet=1 (%s): NodePorts on 127.0.0.1 inside the node will not work", e)
    config = ProxyConfig(node_name=args.node_name, node_ip=args.node_ip or _node_ip(),
                         cluster_cidr=args.cluster_cidr, conntrack_tcp_liberal=liberal,
                         random_fully=ipt.random_fully())
    return IptablesBackend(ipt, config)


def _node_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return ""


class ProxyAgent:
    """kube-proxy as ``kubetui.agent.main`` runs it: the metrics port first, then the informers."""

    def __init__(self, proxy: KubeProxy, args: Flags) -> None:
        self.proxy, self.args = proxy, args

    async def start(self) -> None:
        host, _, port = self.args.metrics_bind_address.rpartition(":")
        bound = await self.proxy.serve(host or "0.0.0.0", int(port))
        await self.proxy.start()
        log.info("kube-proxy for node %s started (mode %s, API %s, /traffic on %s:%d)",
                 self.args.node_name, self.proxy.backend.mode, self.args.api_server, host, bound)

    async def stop(self) -> None:
        await self.proxy.stop()


async def build(args: Flags) -> ProxyAgent:
    token = Path(args.token_file).read_text().strip()
    api = APIClient(args.api_server, token=token, ca_file=args.ca_file, user_agent="kube-proxy/v1.37.0 (kubetui)")
    proxy = KubeProxy(api, make_backend(args), node_name=args.node_name,
                      min_sync_seconds=args.iptables_min_sync_period, sync_seconds=args.sync_period)
    return ProxyAgent(proxy, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return agent_main(NAME, lambda: build(args), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
