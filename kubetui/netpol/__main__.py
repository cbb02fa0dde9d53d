"""``python3 -m kubetui.netpol``: start the network-policy agent (what a CNI plugin's node agent is:
Calico's calico-node, kube-router). A Docker node runs it in its agents' process, beside the
kubelet and kube-proxy (``python3 -m kubetui.agent run … -- kubetui.netpol …``)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from kubetui.agent.apiclient import APIClient
from kubetui.agent.flags import FlagParser, Flags
from kubetui.agent.main import main as agent_main
from kubetui.netpol.agent import IptablesEnforcer, NetworkPolicyAgent
from kubetui.proxy.iptables import IPTables, detect_backend, subprocess_runner

log = logging.getLogger("kubetui.netpol")
NAME = "netpol"
METRICS_PORT = 9099     # where Calico's Felix serves its health port too


def parse_args(argv: list[str]) -> Flags:
    p = FlagParser(prog="kubetui-netpol", description="kubetui's NetworkPolicy agent (iptables)")
    p.add_argument("--api-server", required=True, help="https://HOST:PORT of the API server")
    p.add_argument("--token-file", required=True, help="file holding the bearer token")
    p.add_argument("--ca-file", help="cluster CA (PEM) to trust")
    p.add_argument("--node-name", required=True)
    p.add_argument("--iptables-backend", choices=("auto", "nft", "legacy"), default="auto")
    p.add_argument("--min-sync-period", type=float, default=0.02, help="seconds to batch changes")
    p.add_argument("--sync-period", type=float, default=10.0, help="seconds between full resyncs")
    p.add_argument("--metrics-bind-address", default=f"0.0.0.0:{METRICS_PORT}", help="HOST:PORT of /policies")
    p.add_argument("--log-level", default=os.environ.get("KUBETUI_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


class PolicyAgentProcess:
    """The agent as ``kubetui.agent.main`` runs it: the metrics port first, then the informers."""

    def __init__(self, agent: NetworkPolicyAgent, args: Flags) -> None:
        self.agent, self.args = agent, args

    async def start(self) -> None:
        host, _, port = self.args.metrics_bind_address.rpartition(":")
        bound = await self.agent.serve(host or "0.0.0.0", int(port))
        await self.agent.start()
        log.info("network policy agent for node %s started (/policies on %s:%d)", self.args.node_name, host, bound)

    async def stop(self) -> None:
        await self.agent.stop()


async def build(args: Flags) -> PolicyAgentProcess:
    token = Path(args.token_file).read_text().strip()
    api = APIClient(args.api_server, token=token, ca_file=args.ca_file, user_agent="kubetui-netpol/v1.37.0")
    run = subprocess_runner()
    mode = detect_backend(run) if args.iptables_backend == "auto" else args.iptables_backend
    agent = NetworkPolicyAgent(api, IptablesEnforcer(IPTables(mode, run)), node_name=args.node_name,
                               min_sync_seconds=args.min_sync_period, sync_seconds=args.sync_period)
    return PolicyAgentProcess(agent, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return agent_main(NAME, lambda: build(args), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
