"""One control-plane node's components in one process: kube-apiserver, kube-scheduler, kube-controller-manager.

Upstream these are the static pods kubeadm writes on each control-plane node
(``kubeadm join --control-plane``). Started by ``cluster/ha.py`` as
``python -m kubetui.cluster.member --state-dir S --node NAME --etcd-servers URLS``:
its API server listens on a free port of 127.0.0.1 (the load balancer's
backend), its store is the shared etcd cluster, and its scheduler and
controller manager are candidates for their Leases (identity ``NAME_<uuid>``).
It records ``<state>/control-planes/NAME.json`` (pid, URL, port, phase) and
stops cleanly (releasing its Leases) on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path

from kubetui.cluster.controlplane import ControlPlane
from kubetui.cluster.ha import MEMBERS_DIR, member_file, wait_to_join
from kubetui.cluster.settings import ClusterSettings
from kubetui.netutil import free_port

log = logging.getLogger(__name__)

#: how long the control plane's own stop may take on SIGTERM (well below the 20 s cpnode.py and the 30 s
#: ha.py wait before SIGKILL); what is left then (a request waiting on a store that never answers) is dropped
STOP_GRACE = 10.0


def _write(path: Path, doc: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


async def run(state_dir: Path, node: str, etcd_servers: str, extra_hosts: tuple[str, ...], port: int = 0,
              bind_hosts: tuple[str, ...] = (), advertise_address: str = "", join: str | None = None,
              ingress: tuple[str, int, int] | None = None) -> int:
    settings = ClusterSettings.load(state_dir)
    if settings is None:
        raise SystemExit(f"no cluster.json in {state_dir}")
    settings.api_port = port or free_port()  # a restarted member keeps its port: the load balancer's backend
    cp = ControlPlane(settings, state_dir, extra_hosts=extra_hosts, etcd_servers=etcd_servers, node_name=node,
                      kubeconfig_file=state_dir / MEMBERS_DIR / f"{node}.kubeconfig", bind_hosts=bind_hosts,
                      advertise_address=advertise_address, ingress_bind=ingress)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rec = {"pid": os.getpid(), "node": node, "phase": "starting"}
    _write(member_file(state_dir, node), rec)
    if join is not None:
        await wait_to_join(state_dir, etcd_servers, join)
    try:
        await cp.start(lambda phase, detail: log.info("%s: %s", phase, detail))
        rec.update(phase="ready", url=cp.apiserver.url, port=cp.apiserver.port)
        if cp.ingress_dataplane is not None:  # the host's load balancer forwards the ingress ports here
            rec["ingressPorts"] = [cp.ingress_dataplane.http_port, cp.ingress_dataplane.https_port]
        _write(member_file(state_dir, node), rec)
        await stop.wait()
    finally:
        # SIGTERM must end the process even when etcd is gone (kubetui down stops the etcd cluster too, a
        # fault may have frozen it): each step of the stop is bounded, and so is the whole, below the grace
        # period the process is given before SIGKILL (ha.py's and cpnode.py's).
        try:
            await asyncio.wait_for(cp.stop(), STOP_GRACE)
        except asyncio.TimeoutError:
            log.warning("control plane %s: stopping took over %gs (its store does not answer?); exiting", node,
                        STOP_GRACE)
        rec.update(phase="stopped")
        _write(member_file(state_dir, node), rec)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kubetui.cluster.member", description=__doc__)
    p.add_argument("--state-dir", required=True, type=Path)
    p.add_argument("--node", required=True)
    p.add_argument("--etcd-servers", required=True)
    p.add_argument("--extra-host", action="append", default=[])
    p.add_argument("--port", type=int, default=0, help="the API server's port (default: a free one)")
    p.add_argument("--bind-address", action="append", default=[],
                   help="another address to listen on, not in the serving certificate (a container's own IP)")
    p.add_argument("--advertise-address", default="",
                   help="the address the kubernetes Service's endpoints name (default: the first --extra-host)")
    p.add_argument("--join", metavar="NODE", nargs="?", const="",
                   help="wait until etcd answers (and, given, until control plane NODE is ready) before opening "
                        "the store: started with its etcd member, as kubeadm join waits for the cluster")
    p.add_argument("--ingress-address", default="127.0.0.1",
                   help="where this node's ingress data plane listens (a container's: 0.0.0.0)")
    p.add_argument("--ingress-ports", default="0,0", metavar="HTTP,HTTPS",
                   help="its HTTP and HTTPS ports (0: free ones; a restarted member keeps its own)")
    a = p.parse_args(argv)
    http, _, https = a.ingress_ports.partition(",")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(a.state_dir, a.node, a.etcd_servers, tuple(a.extra_host), a.port,
                           tuple(a.bind_address), a.advertise_address, a.join,
                           (a.ingress_address, int(http or 0), int(https or 0))))


if __name__ == "__main__":
    raise SystemExit(main())
