"""``python3 -m kubetui.dns``: the cluster DNS server (what the kube-dns pod in kube-system runs).

Inside a pod it finds the API server as any in-cluster client does
(``KUBERNETES_SERVICE_HOST``/``PORT`` and the service account token and CA
under ``/var/run/secrets/kubernetes.io/serviceaccount/``); flags override.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from kubetui.dns.cluster import ClusterData
from kubetui.dns.server import DNSServer
from kubetui.kubelet.apiclient import APIClient
from kubetui.proxy.userspace import loopback_address

log = logging.getLogger("kubetui.dns")
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubetui-dns", description="kubetui's cluster DNS")
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    p.add_argument("--api-server", default=f"https://{host}:{port}" if host else None)
    p.add_argument("--token-file", default=str(SA_DIR / "token"))
    p.add_argument("--ca-file", default=str(SA_DIR / "ca.crt"))
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


async def amain(args: argparse.Namespace) -> int:
    token = Path(args.token_file).read_text().strip() if Path(args.token_file).exists() else None
    ca = args.ca_file if Path(args.ca_file).exists() else None
    api = APIClient(args.api_server, token=token, ca_file=ca, user_agent="kubetui-dns/v1.37.0")
    data = ClusterData(api, args.cluster_domain,
                       loopback_address if args.service_addresses == "loopback" else (lambda ip: ip))
    upstream = None
    if args.upstream:
        h, _, p = args.upstream.partition(":")
        upstream = (h, int(p or 53))
    server = DNSServer(data.zone, upstream)
    await data.start()
    host, _, port = args.listen.rpartition(":")
    bound = await server.start(host or "0.0.0.0", int(port))
    log.info("cluster DNS for %s on %s:%d (UDP+TCP), upstream %s", args.cluster_domain, host, bound,
             f"{upstream[0]}:{upstream[1]}" if upstream else "none: other names are REFUSED")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    await data.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
