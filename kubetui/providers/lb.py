"""LoadBalancer Services on the host: a listener on 127.0.0.1 per Service port, spreading over the nodes.

Upstream: the cloud-controller-manager's service controller
(``staging/src/k8s.io/cloud-provider/controllers/service/controller.go``:
``EnsureLoadBalancer``, then ``status.loadBalancer.ingress``), with the cloud's
load balancer played by this process, like kind's ``cloud-provider-kind``.
For each port of a ``type: LoadBalancer`` Service a TCP listener opens on
``127.0.0.1:<port>``; each connection goes to the next Ready node's NodePort
(round-robin), where kube-proxy takes over exactly as behind a cloud load
balancer. With the local provider, whose nodes share this machine's
loopback, it can instead go straight to the Service's ready endpoints
(``backends="endpoints"``).

The Service then gets ``status.loadBalancer.ingress: [{ip: 127.0.0.1,
ipMode: Proxy}]``: ``ipMode: Proxy`` (KEP-1860) tells kube-proxy the balancer
proxies to the nodes, so nodes must not capture 127.0.0.1 themselves. A port
that cannot be bound (taken, or below 1024 without root on Linux) leaves the
Service pending with a ``SyncLoadBalancerFailed`` event, as a cloud failure would.
Nodes labelled ``node.kubernetes.io/exclude-from-external-load-balancers`` are skipped, as upstream.
"""

from __future__ import annotations

from typing import Any

from kubetui.api import errors
from kubetui.client.informer import meta_namespace_key, split_key
from kubetui.controllers.base import Controller
from kubetui.controllers.util import meta
from kubetui.proxy.model import Endpoint, categorize, endpoints_for, service_ports
from kubetui.proxy.userspace import Backends, Listener

Obj = dict[str, Any]
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
INGRESS_IP = "127.0.0.1"


def is_load_balancer(svc: Obj | None) -> bool:
    return bool(svc) and (svc.get("spec") or {}).get("type") == "LoadBalancer"


def node_backends(nodes: list[Obj], node_port: int) -> list[Endpoint]:
    """Every Ready, non-excluded node's InternalIP at ``node_port`` (what a cloud LB's target pool holds)."""
    out = []
    for n in sorted(nodes, key=lambda n: meta(n).get("name", "")):
        if meta(n).get("deletionTimestamp") or EXCLUDE_LABEL in (meta(n).get("labels") or {}):
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (n.get("status") or {}).get("conditions") or [])
        addrs = [a["address"] for a in (n.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]
        if ready and addrs:
            out.append(Endpoint(ip=addrs[0], port=node_port, node_name=meta(n).get("name", ""),
                                pod=f"node/{meta(n).get('name', '')}"))
    return out


class LoadBalancerController(Controller):
    name = "service-lb-controller"
    kind = "Service"
    component = "service-controller"

    def __init__(self, *args: Any, backends: str = "nodeports", host: str = INGRESS_IP, **kw: Any) -> None:
        super().__init__(*args, **kw)
        if backends not in ("nodeports", "endpoints"):
            raise ValueError("backends must be 'nodeports' or 'endpoints'")
        self.backends_mode = backends
        self.host = host
        self.svc_informer = self.factory.informer("services")
        self.node_informer = self.factory.informer("nodes")
        self.slice_informer = self.factory.informer("endpointslices")
        self.svc_informer.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                      on_delete=self.enqueue)
        self.node_informer.add_handler(on_add=self._all, on_update=lambda o, n: self._all(n), on_delete=self._all)
        self.slice_informer.add_handler(on_add=self._slice, on_update=lambda o, n: self._slice(n),
                                        on_delete=self._slice)
        # (namespace/name) -> {service port name: Listener}
        self.listeners: dict[str, dict[str, Listener]] = {}

    def _all(self, _obj: Obj) -> None:
        for svc in self.svc_informer.list():
            if is_load_balancer(svc) or meta_namespace_key(svc) in self.listeners:
                self.enqueue(svc)

    def _slice(self, s: Obj) -> None:
        svc = (meta(s).get("labels") or {}).get("kubernetes.io/service-name")
        if svc and self.backends_mode == "endpoints":
            self.queue.add(f"{meta(s).get('namespace')}/{svc}")

    def address_of(self, key: str) -> dict[str, tuple[str, int]]:
        return {name: (lst.host, lst.port) for name, lst in self.listeners.get(key, {}).items()}

    def traffic(self) -> dict[str, dict[str, int]]:
        """Connections each listener sent to each backend (``node-ip:nodePort`` or endpoint)."""
        return {name: dict(lst.backends.connections)
                for mine in self.listeners.values() for name, lst in mine.items()}

    async def reconcile(self, key: Any) -> float | None:
        svc = self.svc_informer.get(key)
        if not is_load_balancer(svc):
            await self._close(key)
            if svc is not None and ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
                await self._set_ingress(svc, [])       # no longer a LoadBalancer: clear its status
            return None
        assert svc is not None
        mine = self.listeners.setdefault(key, {})
        wanted = {}
        failures = []
        ns, _ = split_key(key)
        slices = [s for s in self.slice_informer.list(ns)
                  if (meta(s).get("labels") or {}).get("kubernetes.io/service-name") == meta(svc).get("name")]
        for sp in service_ports(svc):
            if sp.protocol != "TCP":
                failures.append(f"port {sp.port}/{sp.protocol}: only TCP is load-balanced here")
                continue
            if self.backends_mode == "endpoints":
                backends = categorize(endpoints_for(sp, slices), sp, "").cluster
            else:
                backends = node_backends(self.node_informer.list(), sp.node_port) if sp.node_port else []
            wanted[sp.name_string] = sp.port
            lst = mine.get(sp.name_string)
            if lst is not None and lst.port != sp.port:
                await mine.pop(sp.name_string).close()
                lst = None
            if lst is None:
                lst = Listener(self.host, sp.port, Backends(sp.name_string))
                try:
                    await lst.start()
                except OSError as e:
                    hint = " (ports below 1024 need root on Linux)" if sp.port < 1024 else ""
                    failures.append(f"cannot listen on {self.host}:{sp.port}: {e.strerror or e}{hint}")
                    continue
                mine[sp.name_string] = lst
            lst.backends.set(backends, float(sp.sticky_seconds) if sp.session_affinity else 0.0)
        for name in set(mine) - set(wanted):
            await mine.pop(name).close()
        if failures:
            self.event(svc, "Warning", "SyncLoadBalancerFailed",
                       f"Error syncing load balancer: failed to ensure load balancer: {'; '.join(failures)}")
            return 30.0
        ingress = [{"ip": self.host, "ipMode": "Proxy"}]
        if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") != ingress:
            self.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
            await self._set_ingress(svc, ingress)
        return None

    async def _set_ingress(self, svc: Obj, ingress: list[Obj]) -> None:
        try:
            await self.client.patch("services", meta(svc)["name"], {"status": {"loadBalancer": {"ingress": ingress}}},
                                    meta(svc).get("namespace"), subresource="status")
        except errors.NotFound:
            pass

    async def _close(self, key: str) -> None:
        for lst in self.listeners.pop(key, {}).values():
            await lst.close()

    async def stop(self) -> None:
        await super().stop()
        for key in list(self.listeners):
            await self._close(key)
