"""kube-proxy's rules applied with the REAL iptables, in a network namespace this test creates.

The namespace plays a node: three "pods" are HTTP servers on 10.244.x.y
addresses (on its loopback), the Service's ClusterIP 10.96.0.20 is routed
there, and a client inside the namespace connects to the ClusterIP. Traffic
never leaves the namespace. Needs root, ``ip`` and iptables (CI: the Debian
image has them; docker.io depends on iptables). Without them the test skips on
a laptop and FAILS in CI (``require_or_skip``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from kubetui.proxy.iptables import IPTables, detect_backend, parse_counters, subprocess_runner
from kubetui.proxy.rules import ProxyConfig, build_rules, endpoint_chain, restore_chains
from tests.conftest import require_or_skip
from tests.proxy.fixtures import endpoint, service, slice_

PODS = ["10.244.1.5", "10.244.2.7", "10.244.3.9"]

CLIENT = r"""
import http.server, json, sys, threading, urllib.request
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.server_address[0].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
for ip in sys.argv[2].split(","):
    s = http.server.ThreadingHTTPServer((ip, 8080), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
counts = {}
for _ in range(int(sys.argv[1])):
    who = urllib.request.urlopen("http://10.96.0.20:80/", timeout=2).read().decode()
    counts[who] = counts.get(who, 0) + 1
print(json.dumps(counts))
"""


def _have(mode: str) -> bool:
    return bool(shutil.which(f"iptables-{mode}-restore"))


@pytest.fixture
def netns(tmp_path):
    require_or_skip(sys.platform.startswith("linux") and os.geteuid() == 0, "needs root on Linux (network namespaces)")
    require_or_skip(bool(shutil.which("ip")), "needs the `ip` command (iproute2)")
    require_or_skip(_have("nft") or _have("legacy"), "needs iptables (apt-get install iptables)")
    name = f"kubetui-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        for ip in PODS:
            subprocess.run(["ip", "-n", name, "addr", "add", f"{ip}/32", "dev", "lo"], check=True)
        subprocess.run(["ip", "-n", name, "route", "add", "10.96.0.0/12", "dev", "lo"], check=True)
        (tmp_path / "client.py").write_text(CLIENT)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def traffic(ns: str, tmp_path, n: int, pods=PODS) -> dict[str, int]:
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, str(tmp_path / "client.py"), str(n),
                        ",".join(pods)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("mode", ["nft", "legacy"])
def test_cluster_ip_balances_and_sep_counters_count_connections(netns, tmp_path, mode):
    require_or_skip(_have(mode), f"needs iptables-{mode}")
    ipt = IPTables(mode, subprocess_runner(["ip", "netns", "exec", netns]))
    ipt.ensure_jumps()
    ipt.ensure_jumps()                         # idempotent: no duplicate jump rules
    eps = [endpoint(PODS[0]), endpoint(PODS[1], "node-2"), endpoint(PODS[2], "node-3")]
    rs = build_rules([service("web")], [slice_("web", eps)], ProxyConfig(node_name="node-1",
                                                                            random_fully=ipt.random_fully()))
    ipt.restore(rs.text)

    saved = ipt.save("nat")
    # what a learner reads with `iptables -t nat -S` / iptables-save on a real node
    assert saved.count('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES') == 1
    assert "-m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-" in saved
    assert "-m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-" in saved
    assert "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000" in saved

    counts = traffic(netns, tmp_path, 300)
    assert sum(counts.values()) == 300
    assert set(counts) == set(PODS)           # (2/3)^300: every pod answers
    by_ep = {rs.endpoints[c].endpoint.split(":")[0]: p for c, (p, _) in parse_counters(ipt.save("nat", counters=True)).items()}
    assert by_ep == counts                    # one DNAT per connection: counters are the traffic view

    # a pod stops being ready: its rules are gone after the next sync, nothing reaches it
    eps[1] = endpoint(PODS[1], "node-2", ready=False)
    ipt.restore(build_rules([service("web")], [slice_("web", eps)], ProxyConfig(node_name="node-1"),
                            existing_nat_chains=restore_chains(saved)["nat"]).text)
    assert endpoint_chain("default/web:http", "tcp", f"{PODS[1]}:8080") not in ipt.save("nat")
    counts = traffic(netns, tmp_path, 60)
    assert PODS[1] not in counts and sum(counts.values()) == 60


def test_client_ip_affinity_sticks_to_one_endpoint(netns, tmp_path):
    mode = "nft" if _have("nft") else "legacy"
    ipt = IPTables(mode, subprocess_runner(["ip", "netns", "exec", netns]))
    ipt.ensure_jumps()
    eps = [endpoint(ip) for ip in PODS]
    ipt.restore(build_rules([service("web", sessionAffinity="ClientIP")], [slice_("web", eps)],
                            ProxyConfig(node_name="node-1")).text)
    counts = traffic(netns, tmp_path, 40)
    assert len(counts) == 1 and sum(counts.values()) == 40


def test_detect_backend_prefers_the_backend_holding_rules(netns):
    require_or_skip(_have("nft") and _have("legacy"), "needs both iptables-nft and iptables-legacy")
    run = subprocess_runner(["ip", "netns", "exec", netns])
    IPTables("nft", run).ensure_jumps()        # like Docker writing its DNS rules with the host's backend
    assert detect_backend(run) == "nft"
