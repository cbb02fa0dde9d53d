"""``python3 -m kubetui.dns``: the cluster DNS server (what the kube-dns pod in kube-system runs).

Inside a pod it finds the API server as any in-cluster client does
(``KUBERNETES_SERVICE_HOST``/``PORT`` and the service account token and CA
under ``/var/run/secrets/kubernetes.io/serviceaccount/``); flags override.

It runs on threads, not asyncio (``kubetui.agent.blocking``): it is a second
Python interpreter on its node, and asyncio's imports alone weigh more than
everything else it holds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from kubetui.agent.blocking import BlockingAPIClient, serve
from kubetui.dns.cluster import ClusterData
from kubetui.dns.server import DNSServer

log = logging.getLogger("kubetui.dns")
NAME = "kubetui-dns"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubetui-dns", description="kubetui's cluster DNS")
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    p.add_argument("--api-server", default=f"https://{host}:{port}" if host else None)
    p.add_argument("--token-file", default=f"{SA_DIR}/token")
    p.add_argument("--ca-file", default=f"{SA_DIR}/ca.crt")
    p.add_argument("--listen", default="0.0.0.0:53", help="HOST:PORT for UDP and TCP")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--upstream", default=None, help="HOST[:PORT] to forward other names to (default: refuse)")
    p.add_argument("--service-addresses", choices=("cluster-ip", "loopback"), default="cluster-ip",
                   help="loopback: answer 127.96.A.B for ClusterIP 10.96.A.B (the local provider's userspace proxy)")
    p.add_argument("--log-level", default=os.environ.get("KUBETUI_LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    if not args.api_server:
        p.error("--api-server is required outside a pod (no KUBERNETES_SERVICE_HOST)")
    return args


class DNSAgent:
    """The cluster DNS as ``kubetui.agent.blocking.serve`` runs it: answers only once both caches have listed."""

    def __init__(self, data: ClusterData, server: DNSServer, args: argparse.Namespace) -> None:
        self.data, self.server, self.args = data, server, args

    def start(self) -> None:
        self.data.start()
        host, _, port = self.args.listen.rpartition(":")
        bound = self.server.start(host or "0.0.0.0", int(port))
        up = self.server.upstream
        log.info("cluster DNS for %s on %s:%d (UDP+TCP), upstream %s", self.args.cluster_domain, host, bound,
                 f"{up[0]}:{up[1]}" if up else "none: other names are REFUSED")

    def stop(self) -> None:
        self.server.close()
        self.data.stop()


def build(args: argparse.Namespace) -> DNSAgent:
    token = None
    if os.path.exists(args.token_file):
        with open(args.token_file) as f:
            token = f.read().strip()
    ca = args.ca_file if os.path.exists(args.ca_file) else None
    api = BlockingAPIClient(args.api_server, token=token, ca_file=ca, user_agent="kubetui-dns/v1.37.0")
    address_for = lambda ip: ip  # noqa: E731
    if args.service_addresses == "loopback":
        # Only the local provider's DNS needs kube-proxy's loopback addresses: the kube-dns pod
        # on a Docker node does not pay for importing the userspace proxy.
        from kubetui.proxy.userspace import loopback_address as address_for
    data = ClusterData(api, args.cluster_domain, address_for)
    upstream = None
    if args.upstream:
        h, _, p = args.upstream.partition(":")
        upstream = (h, int(p or 53))
    return DNSAgent(data, DNSServer(data.zone, upstream), args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return serve(NAME, build(args), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
