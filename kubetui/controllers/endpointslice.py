"""The EndpointSlice controller: the newer, scalable form of Endpoints (discovery.k8s.io/v1).

Upstream: ``pkg/controller/endpointslice/`` and ``staging/.../endpointslice/reconciler.go``.
Each Service with a selector gets slices labelled
``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io``, owned by the Service. Unlike Endpoints,
terminating pods stay listed, with conditions saying what they can do:

* ``ready``: serving and not terminating - send new connections here;
* ``serving``: the pod's Ready condition, even while terminating;
* ``terminating``: the pod has a deletionTimestamp.

Pods whose named ports resolve differently land in different slices (a slice
has one port list); at most 100 endpoints per slice (upstream's default).
A Service with no endpoints keeps one empty placeholder slice.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.client.informer import split_key
from kubetui.controllers.endpoints import (
    ServiceWatcher, _port, endpoint_ports, is_kubernetes_service, selected_pods,
)
from kubetui.controllers.util import is_deleting, is_pod_ready, labels_of, meta, new_controller_ref

Obj = dict[str, Any]
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100


def should_set_hostname(pod: Obj, svc: Obj | None) -> bool:
    """``ShouldSetHostname``: a pod whose subdomain is this Service gets a DNS name under it.

    That is how a StatefulSet's ``web-0`` (hostname ``web-0``, subdomain ``web``)
    becomes ``web-0.web.default.svc.cluster.local`` through a headless Service.
    """
    spec = pod.get("spec") or {}
    return bool(svc and spec.get("hostname") and spec.get("subdomain") == meta(svc).get("name")
                and meta(svc).get("namespace") == meta(pod).get("namespace"))


def slice_endpoint(pod: Obj, publish_not_ready: bool, svc: Obj | None = None) -> Obj:
    m = meta(pod)
    serving = publish_not_ready or is_pod_ready(pod)
    terminating = is_deleting(pod)
    ep: Obj = {"addresses": [pod["status"]["podIP"]],
               "conditions": {"ready": serving and not terminating, "serving": serving, "terminating": terminating},
               "targetRef": {"kind": "Pod", "namespace": m.get("namespace"), "name": m.get("name"), "uid": m.get("uid")}}
    if should_set_hostname(pod, svc):
        ep["hostname"] = pod["spec"]["hostname"]
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
    return ep


def desired_slices(svc: Obj, pods: list[Obj]) -> list[tuple[tuple, list[Obj]]]:
    """[(ports, endpoints)] grouped by port set, chunked to MAX_ENDPOINTS_PER_SLICE."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple, list[Obj]] = {}
    for pod in pods:
        status = pod.get("status") or {}
        if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        ports = endpoint_ports(pod, svc) or ()
        if spec.get("ports") and not ports:
            continue
        groups.setdefault(ports, []).append(slice_endpoint(pod, publish, svc))
    out = []
    for ports, eps in sorted(groups.items()):
        eps.sort(key=lambda e: e["addresses"][0])
        for i in range(0, len(eps), MAX_ENDPOINTS_PER_SLICE):
            out.append((ports, eps[i:i + MAX_ENDPOINTS_PER_SLICE]))
    return out


class EndpointSliceController(ServiceWatcher):
    name = "endpointslice"
    kind = "Service"
    component = "endpoint-slice-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.slice_informer = self.factory.informer("endpointslices")
        self.slice_informer.add_handler(on_delete=self._slice_deleted)
        # Slices written but maybe not yet in the informer (upstream: endpointSliceTracker),
        # so a quick second sync neither duplicates nor resurrects them.
        self._written: dict[str, Obj] = {}
        self._deleted: set[str] = set()

    def _slice_deleted(self, s: Obj) -> None:
        # Gone for good: forget it, or a Service recreated under the same name
        # would keep "updating" a slice that no longer exists.
        self._written.pop(f"{meta(s).get('namespace')}/{meta(s)['name']}", None)
        svc = labels_of(s).get(SERVICE_NAME)
        if svc and labels_of(s).get(MANAGED_BY) == CONTROLLER_NAME:
            self.queue.add(f"{meta(s).get('namespace')}/{svc}")

    def _current(self, ns: str, name: str) -> list[Obj]:
        cached = {f"{ns}/{meta(s)['name']}": s for s in self.slice_informer.list(ns)}
        for k, obj in list(self._written.items()):
            seen = cached.get(k)
            if seen is not None and int(meta(seen).get("resourceVersion", 0)) >= int(meta(obj).get("resourceVersion", 0)):
                del self._written[k]
            elif meta(obj).get("namespace") == ns:
                cached[k] = obj
        for k in list(self._deleted):
            if k not in {f"{ns}/{meta(s)['name']}" for s in self.slice_informer.list(ns)}:
                self._deleted.discard(k)
            cached.pop(k, None)
        return [s for s in cached.values()
                if labels_of(s).get(SERVICE_NAME) == name and labels_of(s).get(MANAGED_BY) == CONTROLLER_NAME]

    def _remember(self, obj: Obj) -> None:
        self._written[f"{meta(obj).get('namespace')}/{meta(obj)['name']}"] = obj

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        svc = self.svc_informer.get(key)
        if svc is None:
            return None  # its slices are owned by it: the garbage collector removes them
        if is_kubernetes_service(svc):
            ip, port = self.api_server_endpoint
            want = [((("https", port, "TCP", None),),
                     [{"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False}}])]
        elif not (svc.get("spec") or {}).get("selector"):
            return None
        else:
            want = desired_slices(svc, selected_pods(self.pod_informer, svc))
        if not want:
            want = [((), [])]  # placeholder
        # Only this Service's own slices: those of an earlier Service of the same
        # name belong to the garbage collector now.
        uid = meta(svc).get("uid")
        current = [c for c in self._current(ns, name)
                   if all(r.get("uid") == uid for r in meta(c).get("ownerReferences") or [] if r.get("controller"))]
        labels = {**labels_of(svc), SERVICE_NAME: name, MANAGED_BY: CONTROLLER_NAME}
        unused = list(current)
        for ports, eps in want:
            port_list = [_port(p) for p in ports]
            for p in port_list:
                p.setdefault("name", "")
            match = next((s for s in unused if (s.get("ports") or []) == port_list), None)
            if match is None:
                match = unused[0] if unused else None
            if match is not None:
                unused.remove(match)
                if ((match.get("endpoints") or []) == eps and (match.get("ports") or []) == port_list
                        and labels_of(match) == labels):
                    continue
                body = copy.deepcopy(match)
                body["metadata"]["labels"] = labels
                body["endpoints"], body["ports"] = eps, port_list
                try:
                    self._remember(await self.client.update("endpointslices", body, ns))
                except errors.NotFound:
                    self._written.pop(f"{ns}/{meta(match)['name']}", None)
                    return 0.0
                continue
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"generateName": f"{name}-", "namespace": ns, "labels": labels,
                                 "ownerReferences": [new_controller_ref(svc, "v1", "Service")]},
                    "addressType": "IPv4", "endpoints": eps, "ports": port_list}
            self._remember(await self.client.create("endpointslices", body, ns))
        for s in unused:
            self._deleted.add(f"{ns}/{meta(s)['name']}")
            self._written.pop(f"{ns}/{meta(s)['name']}", None)
            try:
                await self.client.delete("endpointslices", meta(s)["name"], ns)
            except errors.NotFound:
                pass
        return None
