"""``metrics.k8s.io``: PodMetrics and NodeMetrics, the way metrics-server serves them.

Upstream: metrics-server's ``pkg/api/pod.go`` and ``node.go`` (an aggregated
API: kube-apiserver proxies ``/apis/metrics.k8s.io`` to it). Usage comes from
``metrics_source()`` (every kubelet's Summary API, ``kubeletclient.KubeletMetrics``).
The HTTPS handler and the in-process metrics client (what the HPA controller
reads when it shares the control plane's process) both answer from here, so
``kubectl top`` and the autoscaler see the same numbers.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from kubetui.api.errors import NotFound
from kubetui.api.resources import resource_for
from kubetui.clock import Clock, rfc3339

API_VERSION = "metrics.k8s.io/v1beta1"


async def metrics_list(registry: Any, metrics_source: Callable[[], Any] | None, clock: Clock, *,
                       plural: str, kind: str, namespace: str | None, name: str | None = None,
                       label_selector: str | None = None, field_selector: str | None = None) -> dict:
    """A ``PodMetricsList``/``NodeMetricsList`` (or one item when ``name`` is given).

    metrics-server lists the *pods* (or nodes) with the request's label and
    field selectors, then looks up each one's usage, and copies the object's
    labels onto its metrics: so ``kubectl top pod -l app=web`` selects by the
    pods' labels, and a pod that is gone has no metrics even if the last
    scrape still mentions it.
    """
    data: Any = {}
    if metrics_source is not None:
        data = metrics_source()
        if inspect.isawaitable(data):
            data = await data
    usage = {((i.get("metadata") or {}).get("namespace"), (i.get("metadata") or {}).get("name")): i
             for i in (data or {}).get(plural) or []}
    objects = await registry.list(resource_for(plural), namespace, label_selector=label_selector or None,
                                  field_selector=(f"metadata.name={name}" if name is not None
                                                  else field_selector or None))
    items = []
    for obj in sorted(objects.get("items") or [],
                      key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"])):
        meta = obj["metadata"]
        m = usage.get((meta.get("namespace"), meta["name"]))
        if m is None:
            continue
        m_meta = {"name": meta["name"]}
        if meta.get("namespace"):
            m_meta["namespace"] = meta["namespace"]
        m_meta["creationTimestamp"] = (m.get("metadata") or {}).get("creationTimestamp") or rfc3339(clock.time())
        if meta.get("labels"):
            m_meta["labels"] = dict(meta["labels"])
        items.append({"kind": kind, "apiVersion": API_VERSION, "metadata": m_meta,
                      **{k: v for k, v in m.items() if k not in ("kind", "apiVersion", "metadata")}})
    if name is not None:
        if not items:
            raise NotFound(f'{plural}.metrics.k8s.io "{name}" not found', name=name, group="metrics.k8s.io",
                           kind=plural)
        return items[0]
    return {"kind": f"{kind}List", "apiVersion": API_VERSION, "metadata": {}, "items": items}


class InProcessMetricsClient:
    """The resource metrics client (k8s.io/metrics ``PodMetricses(ns).List``) over this process's API server."""

    def __init__(self, registry: Any, metrics_source: Callable[[], Any] | None, clock: Clock) -> None:
        self.registry = registry
        self.metrics_source = metrics_source
        self.clock = clock

    async def list_pod_metrics(self, namespace: str, label_selector: str | None = None) -> dict:
        return await metrics_list(self.registry, self.metrics_source, self.clock, plural="pods", kind="PodMetrics",
                                  namespace=namespace, label_selector=label_selector)
