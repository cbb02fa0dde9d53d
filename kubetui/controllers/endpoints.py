"""The Endpoints controller: which pod IPs and ports stand behind each Service.

Upstream: ``pkg/controller/endpoint/endpoints_controller.go`` (syncService)
and ``pkg/api/v1/endpoints/util.go`` (RepackSubsets). For a Service with a
selector, every matching pod that has an IP becomes an address - in
``addresses`` if it is Ready, in ``notReadyAddresses`` if not - and each
Service port is resolved against the pod (a named ``targetPort`` looks up the
container port of that name). Services without a selector are left alone:
their Endpoints are written by hand. The ``kubernetes`` Service points at the
API server itself (upstream the API server's endpoint reconciler does this).
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.api.selectors import selector_from_set
from kubetui.client import reconciles
from kubetui.client.informer import split_key
from kubetui.controllers.base import Controller
from kubetui.controllers.util import is_deleting, is_pod_ready, labels_of, meta

Obj = dict[str, Any]
HEADLESS_LABEL = "service.kubernetes.io/headless"


def resolve_port(pod: Obj, svc_port: Obj) -> int | None:
    """``podutil.FindPort``: the pod's port for a Service port (named targetPorts looked up)."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = svc_port.get("protocol", "TCP")
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == proto:
                return int(p["containerPort"])
    return None


def pod_in_endpoints(pod: Obj, publish_not_ready: bool) -> bool:
    """``ShouldPodBeInEndpoints``: has an IP, not finished, not being deleted (unless publishing not-ready)."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    if is_deleting(pod) and not publish_not_ready:
        return False
    return True


def endpoint_ports(pod: Obj, svc: Obj) -> tuple[tuple[str, int, str, str | None], ...] | None:
    """(name, port, protocol, appProtocol) for every Service port this pod can serve."""
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        port = resolve_port(pod, sp)
        if port is None:
            continue  # upstream logs and skips this port for this pod
        out.append((sp.get("name", ""), port, sp.get("protocol", "TCP"), sp.get("appProtocol")))
    return tuple(sorted(out))


def _address(pod: Obj, svc: Obj | None = None) -> Obj:
    m = meta(pod)
    spec = pod.get("spec") or {}
    addr: Obj = {"ip": pod["status"]["podIP"],
                 "targetRef": {"kind": "Pod", "namespace": m.get("namespace"), "name": m.get("name"),
                               "uid": m.get("uid")}}
    # ShouldSetHostname: a pod whose subdomain is this Service (a StatefulSet's pod) is named by its hostname.
    if svc and spec.get("hostname") and spec.get("subdomain") == meta(svc).get("name") \
            and meta(svc).get("namespace") == m.get("namespace"):
        addr["hostname"] = spec["hostname"]
    node = spec.get("nodeName")
    if node:
        addr["nodeName"] = node
    return addr


def _port(p: tuple[str, int, str, str | None]) -> Obj:
    out: Obj = {"port": p[1], "protocol": p[2]}
    if p[0]:
        out["name"] = p[0]
    if p[3]:
        out["appProtocol"] = p[3]
    return out


def compute_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """Endpoints ``subsets``, repacked: one subset per distinct set of ports."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple, tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        if not pod_in_endpoints(pod, publish):
            continue
        ports = endpoint_ports(pod, svc)
        if spec.get("ports") and not ports:
            continue
        ready, not_ready = groups.setdefault(ports or (), ([], []))
        (ready if publish or is_pod_ready(pod) else not_ready).append(_address(pod, svc))
    subsets = []
    for ports, (ready, not_ready) in sorted(groups.items()):
        subset: Obj = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        if ports:
            subset["ports"] = [_port(p) for p in ports]
        subsets.append(subset)
    return subsets


def api_server_subsets(endpoint: tuple[str, int]) -> list[Obj]:
    return [{"addresses": [{"ip": endpoint[0]}], "ports": [{"name": "https", "port": endpoint[1], "protocol": "TCP"}]}]


def is_kubernetes_service(svc: Obj) -> bool:
    return meta(svc).get("namespace") == "default" and meta(svc).get("name") == "kubernetes"


def selected_pods(pod_informer: Any, svc: Obj) -> list[Obj]:
    sel = (svc.get("spec") or {}).get("selector") or {}
    selector = selector_from_set(sel)
    return [p for p in pod_informer.list(meta(svc).get("namespace")) if selector.matches(labels_of(p))]


class ServiceWatcher(Controller):
    """Shared wiring for Endpoints and EndpointSlices: Service and pod events -> service keys."""

    def __init__(self, *args: Any, api_server_endpoint: tuple[str, int] = ("127.0.0.1", 6443), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.api_server_endpoint = api_server_endpoint
        self.svc_informer = self.factory.informer("services")
        self.pod_informer = self.factory.informer("pods")
        self.svc_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        self.pod_informer.add_handler(self._pod_changed, self._pod_updated, self._pod_changed)

    @classmethod
    def extra_args(cls, manager: Any) -> dict[str, Any]:
        return {"api_server_endpoint": manager.api_server_endpoint}

    def _services_for(self, pod: Obj) -> list[Obj]:
        out = []
        for svc in self.svc_informer.list(meta(pod).get("namespace")):
            sel = (svc.get("spec") or {}).get("selector")
            if sel and selector_from_set(sel).matches(labels_of(pod)):
                out.append(svc)
        return out

    def _pod_changed(self, pod: Obj) -> None:
        for svc in self._services_for(pod):
            self.enqueue(svc)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for svc in {meta(s)["name"]: s for s in self._services_for(old) + self._services_for(new)}.values():
            self.enqueue(svc)


class EndpointsController(ServiceWatcher):
    name = "endpoints"
    kind = "Service"
    component = "endpoint-controller"

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        svc = self.svc_informer.get(key)
        if svc is None:
            try:
                await self.client.delete("endpoints", name, ns)
            except errors.NotFound:
                pass
            return None
        if is_kubernetes_service(svc):
            subsets = api_server_subsets(self.api_server_endpoint)
        elif not (svc.get("spec") or {}).get("selector"):
            return None  # manual Endpoints
        else:
            subsets = compute_subsets(svc, selected_pods(self.pod_informer, svc))
        if (rec := reconciles.current()) is not None:
            ready = sum(len(s.get("addresses") or ()) for s in subsets)
            not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
            rec.observe(f"{ready} ready and {not_ready} not-ready endpoint addresses for the Service's selector")
        labels = dict(labels_of(svc))
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        try:
            current = await self.client.get("endpoints", name, ns)
        except errors.NotFound:
            current = None
        if current is None:
            reconciles.decide(f"create Endpoints {name}", action="create")
            body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                         "metadata": {"name": name, "namespace": ns, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            try:
                await self.client.create("endpoints", body, ns)
            except errors.AlreadyExists:
                return 0.0
            return None
        if (current.get("subsets") or []) == subsets and (labels_of(current) == labels):
            return None
        reconciles.decide(f"update Endpoints {name}: its addresses changed", action="update")
        body = copy.deepcopy(current)
        body["metadata"]["labels"] = labels
        if subsets:
            body["subsets"] = subsets
        else:
            body.pop("subsets", None)
        await self.client.update("endpoints", body, ns)
        return None
