"""The ingress controller's control loop: Ingresses in, routing table and ``status.loadBalancer`` out.

Upstream an ingress controller (ingress-nginx's ``internal/ingress/controller``)
watches Ingresses, IngressClasses, Services, EndpointSlices and Secrets,
regenerates its proxy's configuration whenever one changes, and publishes
where it can be reached in each Ingress's ``status.loadBalancer.ingress``
(its ``--publish-service`` address). kubetui's does the same for the
IngressClass ``kubetui`` (controller ``kubetui.dev/ingress-controller``,
the cluster's default class): informers -> work queue -> ``reconcile(key)``,
which decides with the pure ``desired_config`` (the routing table, each
backend's ready endpoints, the TLS certificates by Secret) and acts thinly:
it hands that to the data plane (``kubetui.ingress.dataplane``) and writes
the Ingress's status: ``ip: 127.0.0.1`` with the HTTP and HTTPS ports.
"""

from __future__ import annotations

import base64
from typing import Any, Iterable

from kubetui.api import errors
from kubetui.client.informer import meta_namespace_key
from kubetui.controllers.base import Controller
from kubetui.controllers.util import meta
from kubetui.ingress.dataplane import IngressDataPlane
from kubetui.ingress.routing import Backend, RoutingTable, backend_endpoints, class_names, served_by
from kubetui.proxy.model import Endpoint

Obj = dict[str, Any]

CONTROLLER_NAME = "kubetui.dev/ingress-controller"
CLASS_NAME = "kubetui"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
TLS_SECRET_TYPE = "kubernetes.io/tls"


def default_ingress_class() -> Obj:
    """The IngressClass every kubetui cluster starts with (as kind ships ``standard`` for storage)."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "spec": {"controller": CONTROLLER_NAME}}


async def ensure_ingress_class(client: Any) -> None:
    """Create the default IngressClass unless it exists (a learner may have changed or removed its annotation)."""
    try:
        await client.create("ingressclasses", default_ingress_class())
    except errors.AlreadyExists:
        pass


def tls_pair(secret: Obj | None) -> tuple[bytes, bytes] | None:
    """``(tls.crt, tls.key)`` of a ``kubernetes.io/tls`` Secret, or None."""
    if not secret or secret.get("type") != TLS_SECRET_TYPE:
        return None
    data = secret.get("data") or {}
    try:
        return base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])
    except (KeyError, ValueError):
        return None


def desired_config(ingresses: Iterable[Obj], classes: Iterable[Obj], services: Iterable[Obj],
                   slices: Iterable[Obj], secrets: Iterable[Obj]):
    """Decide: ``(served ingresses, routing table, endpoints per backend, certificates, problems)``."""
    names, is_default = class_names(classes, CONTROLLER_NAME)
    served = [i for i in ingresses if served_by(i, names, is_default) and not meta(i).get("deletionTimestamp")]
    table = RoutingTable.build(served)
    by_name = {(meta(s).get("namespace"), meta(s).get("name")): s for s in services}
    slices = list(slices)
    endpoints: dict[Backend, list[Endpoint]] = {}
    problems: list[str] = []
    for b in table.backends():
        eps = backend_endpoints(b, by_name, slices)
        if eps is None:
            problems.append(f"service {b.namespace}/{b.service} (port {b.port}) not found")
        endpoints[b] = eps or []
    secret_by = {(meta(s).get("namespace"), meta(s).get("name")): s for s in secrets}
    certificates = {}
    for _hosts, ns, name in table.tls:
        pair = tls_pair(secret_by.get((ns, name)))
        if pair is None:
            problems.append(f"TLS Secret {ns}/{name} not found or not of type {TLS_SECRET_TYPE}")
        else:
            certificates[(ns, name)] = pair
    return served, table, endpoints, certificates, problems


class IngressController(Controller):
    name = "ingress-controller"
    kind = "Ingress"
    component = "ingress-controller"

    def __init__(self, *args: Any, dataplane: IngressDataPlane, published: tuple[str, int, int] | None = None,
                 **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.dataplane = dataplane
        #: where clients reach the data plane when that is not where it listens, as ingress-nginx's
        #: ``--publish-service`` names its Service: (ip, http, https) of the host's load balancer in front of
        #: several control-plane nodes' data planes (cluster/apilb.py); None: the data plane's own address
        self.published = published
        self.ing_informer = self.factory.informer("ingresses")
        self.ing_informer.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                      on_delete=self.enqueue)
        for res in ("ingressclasses", "services", "endpointslices", "secrets"):
            inf = self.factory.informer(res)
            handler = {"ingressclasses": self._all, "secrets": self._secret}.get(res, self._routes)
            inf.add_handler(on_add=handler, on_update=lambda o, n, h=handler: h(n), on_delete=handler)
            setattr(self, f"{res}_informer", inf)
        self.problems: list[str] = []

    def _secret(self, obj: Obj) -> None:
        if obj.get("type") == TLS_SECRET_TYPE:      # only TLS Secrets matter here
            self._routes(obj)

    def _routes(self, _obj: Obj) -> None:
        """A Service, slice or TLS Secret changed: the data plane's table is rebuilt (key ""), no status changes."""
        self.queue.add("")

    def _all(self, obj: Obj) -> None:
        """An IngressClass changed: which Ingresses this controller serves may have changed (their status too)."""
        for ing in self.ing_informer.list():
            self.enqueue(ing)
        self.queue.add("")

    def address(self) -> list[Obj]:
        """``status.loadBalancer.ingress`` of an Ingress this controller serves: the IP and both ports (HTTP
        first; the HTTPS port answers every Ingress, with the fallback certificate when it has no TLS)."""
        ip, http, https = self.published or (self.dataplane.host, self.dataplane.http_port, self.dataplane.https_port)
        return [{"ip": ip, "ports": [{"port": http, "protocol": "TCP"}, {"port": https, "protocol": "TCP"}]}]

    async def reconcile(self, key: Any) -> float | None:
        served, table, endpoints, certificates, problems = desired_config(
            self.ing_informer.list(), self.ingressclasses_informer.list(), self.services_informer.list(),
            self.endpointslices_informer.list(), self.secrets_informer.list())
        problems += self.dataplane.update(table, endpoints, certificates)
        if problems != self.problems:
            for p in problems:
                self.log.warning("ingress: %s", p)
            self.problems = problems
        if not key:
            return None
        ing = self.ing_informer.get(key)
        if ing is None:
            return None
        mine = any(meta_namespace_key(i) == key for i in served)
        current = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if mine:
            want = self.address()
            if current != want:
                await self._set_status(ing, want)
                self.event(ing, "Normal", "Sync", "Scheduled for sync")
        elif current and any(i.get("ip") == self.address()[0]["ip"] for i in current):
            await self._set_status(ing, [])         # no longer ours (class changed): withdraw the address
        return None

    async def _set_status(self, ing: Obj, addresses: list[Obj]) -> None:
        body = {"status": {"loadBalancer": {"ingress": addresses or None}}}
        try:
            await self.client.patch("ingresses", meta(ing)["name"], body, meta(ing).get("namespace"),
                                    subresource="status")
        except errors.NotFound:
            pass
