"""Services on Docker nodes, end to end: cluster DNS, kube-proxy's iptables rules, NodePort, LoadBalancer.

One 3-node Docker cluster for the whole module (tests/nodes' fixture). The
client is a ``kubetui/loadgen`` pod (its image has BusyBox's wget and Python; a
real ``busybox`` image has no Python); its load comes from the loadgen module
run with ``kubectl exec`` (bounded request counts). Pod-to-pod traffic by pod IP
across nodes is covered by tests/nodes/test_docker_cluster.py.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request

import pytest

from kubetui.netutil import free_port
from tests.nodes.conftest import pod_ready, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WEB = "web"


def web_deployment(replicas: int) -> dict:
    # preStop keeps a deleted pod serving while every kube-proxy drops it from its
    # rules (the usual production pattern: without it, connections still DNAT'd to
    # the pod between SIGTERM and the rule update are refused).
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": WEB},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": WEB}},
                     "template": {"metadata": {"labels": {"app": WEB}},
                                  "spec": {"containers": [{
                                      "name": "hello", "image": "kubetui/hello:1",
                                      "ports": [{"name": "http", "containerPort": 8080}],
                                      "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                         "periodSeconds": 1},
                                      "lifecycle": {"preStop": {"exec": {"command": ["sleep", "2"]}}}}]}}}}


def service(name: str, typ: str = "ClusterIP", port: int = 8080) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": typ, "selector": {"app": WEB},
                     "ports": [{"name": "http", "port": port, "targetPort": 8080}]}}


CLIENT = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
          "spec": {"terminationGracePeriodSeconds": 0,
                   "containers": [{"name": "c", "image": "kubetui/loadgen", "command": ["sleep", "3600"]}]}}


def ready_web(cluster, n: int) -> list[dict] | None:
    pods = [p for p in cluster.pods(f"app={WEB}") if not p["metadata"].get("deletionTimestamp")]
    ready = [p for p in pods if pod_ready(p)]
    return ready if len(ready) == n and len(pods) == n else None


def loadgen_argv(url: str, n: int, c: int) -> list[str]:
    return ["exec", "client", "--", "python3", "-m", "kubetui.workloads.loadgen", url, "-n", str(n), "-c", str(c)]


def parse_loadgen(out: str) -> dict[str, int]:
    """``loadgen``'s summary -> {pod name or "error: X": count}."""
    counts = {}
    for line in out.splitlines()[1:]:
        m = re.match(r"\s+(.+?)\s+(\d+)\s+[\d.]+%$", line)
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def web(docker_cluster):
    """3 replicas of kubetui/hello behind Service `web`, and a client pod (kubetui/loadgen)."""
    c = docker_cluster
    c.apply(web_deployment(3))
    c.apply(service(WEB))
    c.apply(CLIENT)
    wait_for("3 ready web pods", lambda: ready_web(c, 3), 120)
    wait_for("the client pod", lambda: pod_ready(c.get("pod", "client")), 60)
    wait_for("the cluster DNS pod", lambda: [p for p in c.get("pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")
                                             ["items"] if pod_ready(p)], 60)
    return c


def test_pods_resolve_service_names_through_the_cluster_dns(web):
    resolv = web.kubectl("exec", "client", "--", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.96.0.10" in resolv
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "options ndots:5" in resolv
    names = {p["metadata"]["name"] for p in web.pods(f"app={WEB}")}
    for url in ("http://web.default.svc.cluster.local:8080", "http://web:8080"):
        body = wait_for(f"{url} from the client pod",
                        lambda url=url: web.kubectl("exec", "client", "--", "wget", "-qO-", url, check=False).stdout, 30)
        assert body.startswith("pod=") and body.split()[0][4:] in names
    # in-cluster clients find the API server through the `kubernetes` Service
    env = web.kubectl("exec", "client", "--", "env").stdout
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in env and "KUBERNETES_SERVICE_PORT=443" in env


def test_600_requests_spread_over_three_replicas(web):
    counts = parse_loadgen(web.kubectl(*loadgen_argv("http://web:8080", 600, 4), timeout=120).stdout)
    assert not [k for k in counts if k.startswith("error")], counts
    assert sum(counts.values()) == 600 and len(counts) == 3, counts
    for pod, n in counts.items():
        assert 0.20 * 600 <= n <= 0.47 * 600, counts


def test_a_pod_reaches_itself_through_its_own_service(web):
    """Hairpin (issue 12 item 10): DNAT may send a pod's request to its Service back to the pod.

    The bridge must let the frame out of the port it came in on (hairpin mode on
    the pod's veth) and kube-proxy must masquerade it (KUBE-SEP's ``-s <itself>
    -j KUBE-MARK-MASQ``), or the pod never reaches itself: 0 of 50 before.
    """
    me = ready_web(web, 3)[0]["metadata"]["name"]
    out = web.kubectl("exec", me, "--", "python3", "-m", "kubetui.workloads.loadgen", "http://web:8080",
                      "-n", "50", "-c", "1", timeout=120, check=False).stdout
    counts = parse_loadgen(out)
    assert not [k for k in counts if k.startswith("error")], out
    assert sum(counts.values()) == 50 and len(counts) == 3, out
    assert counts.get(me, 0) > 0, f"{me} never reached itself: {counts}"


def _listen_overflows(cluster, pod: str) -> int:
    """The kernel's count of connections refused for a full accept queue, in ``pod``'s network namespace."""
    lines = [line.split() for line in cluster.kubectl("exec", pod, "--", "cat", "/proc/net/netstat").stdout.splitlines()]
    for names, values in zip(lines, lines[1:]):
        if names[0] == "TcpExt:" and values[0] == "TcpExt:":
            return int(values[names.index("ListenOverflows")])
    raise AssertionError("no TcpExt line in /proc/net/netstat")


def test_2000_requests_by_name_from_16_clients_on_a_busy_machine_all_succeed(web):
    """Issue 12 item 11, the short form of ``kubetui bench service --soak``.

    Each request resolves ``web`` through the cluster DNS and opens a new
    connection through kube-proxy's DNAT, 16 at a time, while this machine's
    CPUs spin. Before: ``kubetui/hello`` listened with socketserver's backlog
    of 5, the kernel dropped SYNs beyond it (ListenOverflows), the client
    resent after 1 s and 3 s, and now and then a 2 s timeout failed.
    """
    import json as _json
    import os

    from kubetui.bench.service_soak import SOAK_CLIENT, cpu_burner, merge

    pods = [p["metadata"]["name"] for p in ready_web(web, 3)]
    before = {p: _listen_overflows(web, p) for p in pods}
    cfg = {"url": "http://web:8080/", "n": 500, "c": 4, "timeout": 2.0}
    argv = [web.kubectl_bin, f"--kubeconfig={web.kubeconfig}", "exec", "client", "--",
            "python3", "-c", SOAK_CLIENT, _json.dumps(cfg)]
    with cpu_burner(os.cpu_count() or 2, 150):
        procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        try:
            outs = [p.communicate(timeout=180) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
    runs = [_json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    r = merge(runs)
    assert r["requests"] == 2000 and r["failures"] == 0, (r["errors"], r["errorSamples"])
    assert set(r["pods"]) == set(pods), r["pods"]
    assert r["dnsMs"]["lookups"] == 2000
    assert {p: _listen_overflows(web, p) for p in pods} == before, "SYNs dropped for a full accept queue"


def test_new_replicas_join_the_rotation_as_soon_as_they_are_ready(web):
    web.kubectl("scale", "deployment", WEB, "--replicas", "5")
    pods = wait_for("5 ready web pods", lambda: ready_web(web, 5), 120, interval=0.1)
    # Sent right after the 5th pod was seen Ready: every replica must already answer.
    counts = parse_loadgen(web.kubectl(*loadgen_argv("http://web:8080", 300, 4), timeout=120).stdout)
    assert set(counts) == {p["metadata"]["name"] for p in pods}, counts


def test_deleting_a_pod_under_load_fails_no_request(web):
    pods = wait_for("5 ready web pods", lambda: ready_web(web, 5), 120)
    victim = pods[0]["metadata"]["name"]
    load = subprocess.Popen([web.kubectl_bin, f"--kubeconfig={web.kubeconfig}",
                             *loadgen_argv("http://web:8080", 4000, 2)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)          # let the load start (sequencing, not a measurement)
        web.kubectl("delete", "pod", victim, "--wait=false")
        out, err = load.communicate(timeout=120)
    finally:
        if load.poll() is None:
            load.kill()
            load.communicate()
    counts = parse_loadgen(out)
    assert sum(counts.values()) == 4000, (out, err)
    assert not [k for k in counts if k.startswith("error")], counts
    assert counts.get(victim, 0) > 0, counts     # the load really overlapped the deletion
    wait_for(f"{victim} gone", lambda: victim not in {p["metadata"]["name"] for p in web.pods(f"app={WEB}")}, 60)


def _nat_rules(cluster, node: str) -> str:
    return cluster.node_exec(node, "iptables", "-t", "nat", "-S")


def test_iptables_has_svc_and_sep_chains_for_every_service(web):
    wait_for("5 ready web pods", lambda: ready_web(web, 5), 120)
    expected = []       # (service port name, cluster IP, "ip:port" of each ready endpoint)
    slices = web.get("endpointslices", "-A")["items"]
    for svc in web.get("services", "-A")["items"]:
        m, spec = svc["metadata"], svc["spec"]
        if spec.get("clusterIP") in (None, "None"):
            continue
        mine = [s for s in slices if s["metadata"]["namespace"] == m["namespace"]
                and s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == m["name"]]
        for p in spec["ports"]:
            spn = f"{m['namespace']}/{m['name']}" + (f":{p['name']}" if p.get("name") else "")
            eps = {f"{a}:{sp['port']}" for s in mine for sp in s.get("ports") or [] if sp.get("name", "") == p.get("name", "")
                   for e in s.get("endpoints") or [] if e.get("conditions", {}).get("ready") for a in e["addresses"]}
            expected.append((spn, spec["clusterIP"], eps))
    assert {e[0] for e in expected} >= {"default/kubernetes:https", "default/web:http", "kube-system/kube-dns:dns-tcp"}

    def rules_complete(node: str):
        rules = _nat_rules(web, node)
        missing = []
        for spn, ip, eps in expected:
            svc = re.search(rf'-A KUBE-SERVICES -d {re.escape(ip)}/32 .*--comment "{re.escape(spn)} cluster IP" '
                            rf'.*-j (KUBE-SVC-\w+)', rules)
            if not svc:
                missing.append(f"{spn}: no KUBE-SVC jump")
                continue
            for ep in eps:
                sep = re.search(rf'-A {svc.group(1)} .*--comment "{re.escape(spn)} -> {re.escape(ep)}".* -j (KUBE-SEP-\w+)',
                                rules)
                if not sep or not re.search(rf"-A {sep.group(1)} .*-j DNAT --to-destination {re.escape(ep)}", rules):
                    missing.append(f"{spn}: no KUBE-SEP for {ep}")
        if missing:
            raise AssertionError(missing)
        return True

    for node in ("node-1", "node-2", "node-3"):
        wait_for(f"{node}'s rules for every Service", lambda node=node: rules_complete(node), 10)


def test_nodeport_answers_on_every_node_and_loadbalancer_on_localhost(web):
    web.apply(service("web-np", "NodePort"))
    lb_port = free_port()
    web.apply(service("web-lb", "LoadBalancer", lb_port))
    node_port = web.get("service", "web-np")["spec"]["ports"][0]["nodePort"]
    addresses = [a["address"] for n in web.get("nodes")["items"] for a in n["status"]["addresses"]
                 if a["type"] == "InternalIP"]
    assert len(addresses) == 3

    def get(url: str) -> str | None:
        # Refused until every kube-proxy has programmed the new NodePort: keep polling.
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return r.read().decode()
        except OSError:
            return None
    for ip in addresses:
        body = wait_for(f"NodePort {ip}:{node_port}", lambda ip=ip: get(f"http://{ip}:{node_port}/"), 30)
        assert body.startswith("pod=web-")
    body = wait_for(f"LoadBalancer 127.0.0.1:{lb_port}", lambda: get(f"http://127.0.0.1:{lb_port}/"), 30)
    assert body.startswith("pod=web-")
    ingress = web.get("service", "web-lb")["status"]["loadBalancer"]["ingress"]
    assert ingress == [{"ip": "127.0.0.1", "ipMode": "Proxy"}]


def test_traffic_api_counts_connections_per_endpoint(web):
    import json
    ready_web_pods = wait_for("5 ready web pods", lambda: ready_web(web, 5), 120)
    counts = parse_loadgen(web.kubectl(*loadgen_argv("http://web:8080", 300, 4), timeout=120).stdout)
    assert set(counts) == {p["metadata"]["name"] for p in ready_web_pods}, counts
    doc = json.loads(web.kubectl("get", "--raw", "/apis/networking.kubetui.dev/v1alpha1/namespaces/default/"
                                                 "services/web/traffic").stdout)
    assert sorted(v["node"] for v in doc["proxies"].values()) == ["node-1", "node-2", "node-3"]
    eps = doc["services"]["default/web:http"]
    assert sum(e["connections"] for e in eps.values()) >= 300
    for p in ready_web_pods:
        ep = eps[f"{p['status']['podIP']}:8080"]
        assert ep["pod"] == f"default/{p['metadata']['name']}" and ep["connections"] >= counts[p["metadata"]["name"]]
    everything = json.loads(web.kubectl("get", "--raw", "/apis/networking.kubetui.dev/v1alpha1/traffic").stdout)
    assert "default/web:http" in everything["services"]
    r = web.kubectl("get", "--raw", "/apis/networking.kubetui.dev/v1alpha1/namespaces/default/services/nope/traffic",
                    check=False)
    assert r.returncode != 0 and "not found" in r.stderr.lower()


def test_traffic_api_says_no_endpoint_accepts_a_wrong_target_port(web):
    """Issue 12 item 26: ``kubectl expose deployment web --port 80`` for kubetui/hello (on 8080) gives a
    Service whose every connection is refused; the traffic API says so per endpoint (kube-proxy's probe),
    and still says ``open`` for the Service that targets 8080."""
    import json

    web.kubectl("expose", "deployment", WEB, "--port", "80", "--name", "web80")
    try:
        assert web.get("service", "web80")["spec"]["ports"][0]["targetPort"] == 80   # kubectl's default: --port
        path = "/apis/networking.kubetui.dev/v1alpha1/namespaces/default/services/{}/traffic"

        def probes(name: str) -> dict[str, str] | None:
            doc = json.loads(web.kubectl("get", "--raw", path.format(name)).stdout)
            eps = {ep: v.get("probe") for port in doc["services"].values() for ep, v in port.items()
                   if v.get("active")}
            return eps if eps and all(eps.values()) else None

        wrong = wait_for("web80's endpoints probed", lambda: probes("web80"), 60)
        ready_ips = {p["status"]["podIP"] for p in ready_web(web, len(wrong)) or []}
        assert {ep.rpartition(":")[0] for ep in wrong} == ready_ips
        assert set(wrong.values()) == {"refused"}, wrong
        assert all(ep.endswith(":80") for ep in wrong)
        right = wait_for("web's endpoints probed", lambda: probes(WEB), 60)
        assert set(right.values()) == {"open"}, right
    finally:
        web.kubectl("delete", "service", "web80", "--ignore-not-found")
