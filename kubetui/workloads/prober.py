"""kubetui/prober: a synthetic availability probe, one JSON line per second (a drill's SLO prober).

What blackbox exporters and uptime checks do for a real service: request each
target through its Service, as a client in the cluster would, once a second,
and say whether every one answered 2xx. A failure drill reads these lines back
through the API (``kubectl logs``) to measure the availability the incident
cost and to see when service came back::

    prober --namespace NS --target web:80/ --target db:80/ [--resolve api|dns] [--every 1]

Each line is ``{"t": <unix time>, "ok": true|false, "results": {"web": "200", "db": "error: ..."}}``.

How a Service name becomes an address: ``--resolve dns`` asks the cluster DNS
(``web.NS.svc.cluster.local``), as an application would; ``--resolve api``
(default) reads the Service's ClusterIP from the API with the pod's
ServiceAccount token, so it also works where pods have no cluster DNS (the
local provider, whose userspace kube-proxy serves ClusterIP ``10.96.A.B`` at
``127.S.A.B``, S from the pod's own address). Either way the request goes through kube-proxy to the
Service's ready endpoints, and a Service recreated with a new ClusterIP is
followed. It stops by itself after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

from kubetui.workloads import _pod

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class APIResolver:
    """Service name -> ClusterIP, from the API server (cached for a moment)."""

    def __init__(self, namespace: str, ttl: float = 2.0) -> None:
        self.namespace = namespace
        self.ttl = ttl
        self.cache: dict[str, tuple[float, str]] = {}
        sa = _pod.host_path(SA_DIR)
        self.token_path = os.path.join(sa, "token")
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        self.base = f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"
        self.ctx = ssl.create_default_context(cafile=os.path.join(sa, "ca.crt"))
        self.ctx.check_hostname = False          # the API server's certificate names its own addresses

    def address(self, service: str) -> str:
        hit = self.cache.get(service)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        with open(self.token_path) as f:
            token = f.read().strip()
        req = urllib.request.Request(f"{self.base}/api/v1/namespaces/{self.namespace}/services/{service}",
                                     headers={"Authorization": f"Bearer {token}", "User-Agent": "kubetui-prober"})
        try:
            with urllib.request.urlopen(req, timeout=2, context=self.ctx) as r:
                svc = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise LookupError(f"service {service}: API said {e.code}") from None
        ip = (svc.get("spec") or {}).get("clusterIP") or ""
        if not ip or ip == "None":
            raise LookupError(f"service {service} has no ClusterIP")
        pod_ip = os.environ.get("KUBETUI_POD_IP", "")
        if pod_ip.startswith("127.") and sys.platform.startswith("linux"):
            # the local provider's userspace proxy address, in this pod's cluster's Service block
            from kubetui.agent.loopback import LoopbackBlock, service_address
            block = LoopbackBlock.of_address(pod_ip)
            ip = block.service_address(ip) if block else service_address(ip)
        self.cache[service] = (time.monotonic(), ip)
        return ip


def probe(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read(4096)
            return str(r.status)
    except urllib.error.HTTPError as e:
        return str(e.code)
    except Exception as e:  # noqa: BLE001 - every failure is a result, named by its kind
        reason = getattr(e, "reason", None)
        return f"error: {type(reason or e).__name__}: {reason or e}"[:120]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="prober")
    p.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "default"))
    p.add_argument("--target", action="append", required=True, help="SERVICE:PORT/PATH (repeatable)")
    p.add_argument("--resolve", choices=("api", "dns"), default="api")
    p.add_argument("--every", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=4 * 3600)
    a = p.parse_args(argv)
    targets = []
    for t in a.target:
        hostport, _, path = t.partition("/")
        name, _, port = hostport.partition(":")
        targets.append((name, port or "80", "/" + path))
    resolver = APIResolver(a.namespace) if a.resolve == "api" else None
    end = time.monotonic() + a.duration
    while time.monotonic() < end:
        start = time.monotonic()
        results = {}
        for name, port, path in targets:
            try:
                host = resolver.address(name) if resolver else f"{name}.{a.namespace}.svc.cluster.local"
            except (LookupError, OSError) as e:
                results[name] = f"error: {e}"[:120]
                continue
            results[name] = probe(f"http://{host}:{port}{path}", a.timeout)
        ok = all(r.startswith("2") for r in results.values())
        print(json.dumps({"t": round(time.time(), 3), "ok": ok, "results": results}), flush=True)
        time.sleep(max(0.0, a.every - (time.monotonic() - start)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
