"""A pod's /etc/resolv.conf, as the kubelet writes it (pure functions).

Upstream: ``pkg/kubelet/network/dns/dns.go`` (``GetPodDNS``, ``dnsPolicy``):

* ``ClusterFirst`` (the default): the cluster DNS Service's IP, and search
  domains ``<ns>.svc.cluster.local svc.cluster.local cluster.local`` (then the
  node's own search domains), with ``options ndots:5``: a name with fewer than
  five dots is tried with each search domain first, which is why ``web``,
  ``web.default`` and ``web.default.svc`` all resolve inside a pod;
* ``ClusterFirstWithHostNet``: the same, for pods on the host network (a
  host-network pod with plain ``ClusterFirst`` gets ``Default``);
* ``Default``: the node's own resolv.conf;
* ``None``: only what ``spec.dnsConfig`` says.

``spec.dnsConfig`` (nameservers, searches, options) is merged on top, as upstream.
"""

from __future__ import annotations

from typing import Any

CLUSTER_DNS_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
MAX_SEARCH = 32            # upstream's MaxDNSSearchPaths (since 1.28)
MAX_NAMESERVERS = 3


def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, searches, options) of a resolv.conf."""
    ns, search, opts = [], [], []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            ns.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            opts += words[1:]
    return ns, search, opts


def _merge_options(base: list[str], extra: list[dict[str, Any]]) -> list[str]:
    out: dict[str, str | None] = {}
    for o in base:
        k, _, v = o.partition(":")
        out[k] = v or None
    for o in extra:
        out[o.get("name", "")] = o.get("value")
    return [k if v is None else f"{k}:{v}" for k, v in out.items() if k]


def pod_resolv_conf(pod: dict[str, Any], cluster_dns: list[str] | None = None,
                    cluster_domain: str = CLUSTER_DOMAIN, node_resolv_conf: str = "") -> str:
    """The resolv.conf text for ``pod``."""
    spec = pod.get("spec") or {}
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    host_ns, host_search, host_opts = parse_resolv_conf(node_resolv_conf)
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        servers = list(cluster_dns or [CLUSTER_DNS_IP])
        search = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain] + host_search
        options = ["ndots:5"]
    elif policy == "Default":
        servers, search, options = host_ns, host_search, host_opts
    else:  # "None"
        servers, search, options = [], [], []
    cfg = spec.get("dnsConfig") or {}
    servers = list(dict.fromkeys(servers + list(cfg.get("nameservers") or [])))[:MAX_NAMESERVERS]
    search = list(dict.fromkeys(search + list(cfg.get("searches") or [])))[:MAX_SEARCH]
    options = _merge_options(options, list(cfg.get("options") or []))
    lines = [f"search {' '.join(search)}"] if search else []
    lines += [f"nameserver {s}" for s in servers]
    if options:
        lines.append(f"options {' '.join(options)}")
    return "\n".join(lines) + "\n"
