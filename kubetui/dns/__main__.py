"""``python3 -m kubetui.dns``: the cluster DNS server (what the kube-dns pod in kube-system runs).

Inside a pod it finds the API server as any in-cluster client does
(``KUBERNETES_SERVICE_HOST``/``PORT`` and the service account token and CA
under ``/var/run/secrets/kubernetes.io/serviceaccount/``); flags override.

It runs on threads, not asyncio (``kubetui.agent.blocking``): it is a second
Python interpreter on its node, and asyncio's imports alone weigh more than
everything else it holds.
"""

from __future__ import annotations

import logging
import os
import sys

from kubetui.agent.blocking import BlockingAPIClient, serve
from kubetui.dns.cluster import ClusterData
from kubetui.dns.server import DNSServer

log = logging.getLogger("kubetui.dns")
NAME = "kubetui-dns"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


#: the flags, their defaults and help: ``(flag, default, help, choices)``; every flag takes a value
FLAGS = (
    ("--api-server", None, "the API server's URL (default: from KUBERNETES_SERVICE_HOST/PORT in a pod)", None),
    ("--token-file", f"{SA_DIR}/token", "bearer token file", None),
    ("--ca-file", f"{SA_DIR}/ca.crt", "the cluster CA's certificate file", None),
    ("--listen", "0.0.0.0:53", "HOST:PORT for UDP and TCP", None),
    ("--cluster-domain", "cluster.local", "the cluster's DNS domain", None),
    ("--upstream", None, "HOST[:PORT] to forward other names to (default: refuse)", None),
    ("--service-addresses", "cluster-ip",
     "loopback: answer ClusterIP 10.96.A.B's address in --service-address-range (the local provider's "
     "userspace proxy)", ("cluster-ip", "loopback")),
    ("--service-address-range", "127.96.0.0/12",
     "with --service-addresses loopback: the local cluster's Service block (kubetui.agent.loopback)", None),
    ("--log-level", None, "DEBUG, INFO, WARNING, ERROR (default: $KUBETUI_LOG_LEVEL, else INFO)", None),
)


class Flags:
    """The parsed flags, as attributes (``args.api_server``), like ``argparse.Namespace``."""

    def __init__(self, **values: str | None) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Flags({self.__dict__!r})"


def usage() -> str:
    lines = ["usage: kubetui-dns [--FLAG VALUE]...", "", "kubetui's cluster DNS", "", "options:"]
    for flag, default, text, choices in FLAGS:
        extra = f" {{{','.join(choices)}}}" if choices else ""
        lines.append(f"  {flag}{extra}  {text}" + (f" (default: {default})" if default else ""))
    return "\n".join(lines)


def parse_args(argv: list[str]) -> Flags:
    """``--flag value`` and ``--flag=value``, ``-h``/``--help``; exit status 2 on a bad flag, as argparse.

    The flags are parsed by hand: argparse, with the ``gettext`` and ``locale`` tables it loads
    to translate its messages, costs this interpreter 0.7 MiB for as long as the pod runs (the
    kube-dns pod's node is the largest of a cluster; issue 18)."""
    def fail(msg: str) -> None:
        sys.stderr.write(f"usage: kubetui-dns [--FLAG VALUE]...\nkubetui-dns: error: {msg}\n")
        raise SystemExit(2)

    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    values = {flag[2:].replace("-", "_"): default for flag, default, _, _ in FLAGS}
    values["api_server"] = f"https://{host}:{port}" if host else None
    values["log_level"] = os.environ.get("KUBETUI_LOG_LEVEL", "INFO")
    choices = {flag: c for flag, _, _, c in FLAGS}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            sys.stdout.write(usage() + "\n")
            raise SystemExit(0)
        flag, eq, value = arg.partition("=")
        if flag not in choices:
            fail(f"unrecognized arguments: {arg}")
        if not eq:
            if i + 1 >= len(argv):
                fail(f"argument {flag}: expected one argument")
            i += 1
            value = argv[i]
        if choices[flag] and value not in choices[flag]:
            fail(f"argument {flag}: invalid choice: {value!r} (choose from {', '.join(map(repr, choices[flag]))})")
        values[flag[2:].replace("-", "_")] = value
        i += 1
    if not values["api_server"]:
        fail("--api-server is required outside a pod (no KUBERNETES_SERVICE_HOST)")
    return Flags(**values)


class DNSAgent:
    """The cluster DNS as ``kubetui.agent.blocking.serve`` runs it: answers only once both caches have listed."""

    def __init__(self, data: ClusterData, server: DNSServer, args: Flags) -> None:
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


def build(args: Flags) -> DNSAgent:
    token = None
    if os.path.exists(args.token_file):
        with open(args.token_file) as f:
            token = f.read().strip()
    ca = args.ca_file if os.path.exists(args.ca_file) else None
    api = BlockingAPIClient(args.api_server, token=token, ca_file=ca, user_agent="kubetui-dns/v1.37.0")
    address_for = lambda ip: ip  # noqa: E731
    if args.service_addresses == "loopback":
        # Only the local provider's DNS needs kube-proxy's loopback addresses (its cluster's own block)
        from kubetui.agent.loopback import service_address
        address_for = lambda ip: service_address(ip, args.service_address_range)  # noqa: E731
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
