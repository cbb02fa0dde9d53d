"""Printers for Ingresses and IngressClasses (``networking.k8s.io/v1``).

Upstream: ``printIngress`` (with ``formatHosts``, ``formatPorts`` and
``ingressLoadBalancerStatusStringer``) and ``printIngressClass`` in
``pkg/printers/internalversion/printers.go``. HOSTS lists at most three
rule hosts (``*`` when no rule names one), PORTS is ``80`` or ``80, 443``
once the Ingress has a TLS section, ADDRESS is what the ingress controller
wrote into ``status.loadBalancer``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import AGE_COL, NAME_COL, age, col
from kubetui.api.printers.core import load_balancer_status

INGRESS_COLUMNS = [
    NAME_COL,
    col("Class", desc="The name of the IngressClass resource that should be used for additional configuration"),
    col("Hosts", desc="Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", desc="Address is a list containing ingress points for the load-balancer"),
    col("Ports", desc="Ports of TLS configurations that open"),
    AGE_COL,
]

INGRESSCLASS_COLUMNS = [
    NAME_COL,
    col("Controller", desc="Controller that is responsible for handling this class"),
    col("Parameters", desc="A reference to a resource with additional parameters"),
    AGE_COL,
]

MAX_HOSTS = 3


def format_hosts(rules: list[dict] | None) -> str:
    """``formatHosts``: ``a.example,b.example,c.example + 2 more...``; ``*`` when no rule has a host."""
    rules = rules or []
    shown: list[str] = []
    more = False
    for rule in rules:
        if len(shown) == MAX_HOSTS:
            more = True
        if not more and (rule or {}).get("host"):
            shown.append(rule["host"])
    if not shown:
        return "*"
    out = ",".join(shown)
    return f"{out} + {len(rules) - MAX_HOSTS} more..." if more else out


def format_ports(tls: list[dict] | None) -> str:
    """``formatPorts``: the ports an Ingress opens (HTTPS only with a TLS section)."""
    return "80, 443" if tls else "80"


def ingress_row(ing: dict, now: float) -> list[Any]:
    spec = ing.get("spec") or {}
    cls = spec.get("ingressClassName")
    return [ing["metadata"].get("name", ""), cls if cls is not None else "<none>", format_hosts(spec.get("rules")),
            load_balancer_status((ing.get("status") or {}).get("loadBalancer")), format_ports(spec.get("tls")),
            age(ing, now)]


def ingressclass_row(ic: dict, now: float) -> list[Any]:
    spec = ic.get("spec") or {}
    params = spec.get("parameters")
    parameters = "<none>"
    if params:
        parameters = params.get("kind", "")
        if params.get("apiGroup") is not None:
            parameters += "." + params["apiGroup"]
        parameters += "/" + params.get("name", "")
    return [ic["metadata"].get("name", ""), spec.get("controller", ""), parameters, age(ic, now)]
