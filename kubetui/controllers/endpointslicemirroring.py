"""The EndpointSlice mirroring controller: hand-written Endpoints, copied into EndpointSlices.

Upstream: ``pkg/controller/endpointslicemirroring/`` (``endpointslicemirroring_controller.go``
``syncEndpoints``, ``reconciler.go``, ``utils.go``). kube-proxy and cluster DNS
read only EndpointSlices. A Service *without* a selector gets no endpoints
from any controller: its owner writes an ``Endpoints`` object of the same name
by hand (to point the Service at a database outside the cluster, say). This
controller mirrors that object into EndpointSlices so the Service works:

* one slice per distinct port set and address family (``IPv4``/``IPv6``) of the
  repacked subsets, named ``<endpoints>-xxxxx``, labelled
  ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
  endpointslicemirroring-controller.k8s.io``, with the Endpoints' other labels
  and annotations copied, and owned by the Endpoints;
* ``addresses`` become endpoints with ``ready: true``, ``notReadyAddresses``
  endpoints with ``ready: false`` (``nodeName``, ``hostname``, ``targetRef`` kept);
* at most 1000 addresses per subset are mirrored (upstream's
  ``--mirroring-max-endpoints-per-subset``); the rest are skipped with a
  ``TooManyAddressesToMirror`` warning Event on the Endpoints.

Nothing is mirrored - and mirrored slices are deleted - when the Service is
gone or has a selector (the endpoints and EndpointSlice controllers own those),
when the Endpoints is gone, or when it carries the label
``endpointslice.kubernetes.io/skip-mirror: "true"`` (upstream's endpoints
controller puts that label on every Endpoints it writes).
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from kubetui.api import errors
from kubetui.client.informer import split_key
from kubetui.controllers.base import Controller
from kubetui.controllers.endpoints import is_kubernetes_service
from kubetui.controllers.util import labels_of, meta, new_controller_ref

Obj = dict[str, Any]
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
#: Endpoints used as a leader-election lock (old-style) are not Service endpoints
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
#: annotations that describe the Endpoints object itself, not its endpoints
NOT_MIRRORED_ANNOTATIONS = ("endpoints.kubernetes.io/last-change-trigger-time",
                            "kubectl.kubernetes.io/last-applied-configuration")
MAX_ENDPOINTS_PER_SUBSET = 1000

# (name, port, protocol, appProtocol): one EndpointPort, hashable
PortKey = tuple[str, int, str, str]


def should_mirror(endpoints: Obj | None) -> bool:
    """``shouldMirror``: an Endpoints not opted out and not a leader-election lock."""
    if endpoints is None:
        return False
    if labels_of(endpoints).get(SKIP_MIRROR) == "true":
        return False
    return LEADER_ANNOTATION not in (meta(endpoints).get("annotations") or {})


def _port_key(p: Obj) -> PortKey:
    return (p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP", p.get("appProtocol") or "")


def _slice_port(k: PortKey) -> Obj:
    out: Obj = {"name": k[0], "port": k[1], "protocol": k[2]}
    if k[3]:
        out["appProtocol"] = k[3]
    return out


def _address_key(addr: Obj) -> tuple[str, str]:
    return (str(addr.get("ip") or ""), str((addr.get("targetRef") or {}).get("uid") or ""))


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """``endpoints.RepackSubsets``: canonical subsets, one per distinct set of ports.

    Hand-written Endpoints may list the same address under several subsets or
    split one port set in two. Each port learns which addresses offer it
    (an address both ready and not ready counts as ready); ports offered by
    exactly the same addresses end up in one subset:

    >>> repack_subsets([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]},
    ...                 {"notReadyAddresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}])
    [{'addresses': [{'ip': '10.0.0.1'}], 'notReadyAddresses': [{'ip': '10.0.0.2'}], 'ports': [{'port': 80}]}]
    """
    addrs: dict[tuple[str, str], Obj] = {}
    by_port: dict[PortKey | None, dict[tuple[str, str], bool]] = {}
    port_objs: dict[PortKey | None, Obj] = {}
    for subset in subsets or []:
        ports: list[Obj | None] = list(subset.get("ports") or []) or [None]   # None: no ports (a sentinel)
        for port in ports:
            pk = _port_key(port) if port is not None else None
            if port is not None:
                port_objs.setdefault(pk, port)
            ready_of = by_port.setdefault(pk, {})
            for ready, part in ((True, "addresses"), (False, "notReadyAddresses")):
                for addr in subset.get(part) or []:
                    ak = _address_key(addr)
                    addrs.setdefault(ak, addr)
                    ready_of[ak] = ready_of.get(ak, False) or ready
    groups: dict[frozenset, list[PortKey | None]] = {}
    for pk, ready_of in by_port.items():
        if ready_of:
            groups.setdefault(frozenset(ready_of.items()), []).append(pk)
    out = []
    for members, pks in groups.items():
        subset: Obj = {}
        ready = sorted((ak for ak, r in members if r))
        not_ready = sorted((ak for ak, r in members if not r))
        if ready:
            subset["addresses"] = [addrs[ak] for ak in ready]
        if not_ready:
            subset["notReadyAddresses"] = [addrs[ak] for ak in not_ready]
        real = sorted(pk for pk in pks if pk is not None)
        if real:
            subset["ports"] = [port_objs[pk] for pk in real]
        out.append(subset)
    out.sort(key=lambda s: [_port_key(p) for p in s.get("ports") or []])
    return out


def address_type(ip: str) -> str | None:
    """``IPv4``/``IPv6`` for a valid IP, else None (not mirrored)."""
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


def mirror_endpoint(addr: Obj, ready: bool) -> Obj:
    """``addressToEndpoint``: upstream sets only the ``ready`` condition."""
    ep: Obj = {"addresses": [addr["ip"]], "conditions": {"ready": ready}}
    if addr.get("hostname"):
        ep["hostname"] = addr["hostname"]
    if addr.get("nodeName"):
        ep["nodeName"] = addr["nodeName"]
    if addr.get("targetRef"):
        ep["targetRef"] = copy.deepcopy(addr["targetRef"])
    return ep


SliceKey = tuple[tuple[PortKey, ...], str]    # (ports, addressType)


def desired_mirror(endpoints: Obj, max_per_subset: int = MAX_ENDPOINTS_PER_SUBSET
                   ) -> tuple[dict[SliceKey, list[Obj]], int, int]:
    """What the slices should hold: {(ports, addressType): endpoints}, invalid IPs, addresses skipped.

    ``skipped`` counts addresses over ``max_per_subset`` (not invalid ones).
    """
    want: dict[SliceKey, list[Obj]] = {}
    invalid = skipped = 0
    for subset in repack_subsets(endpoints.get("subsets") or []):
        ports = tuple(sorted(_port_key(p) for p in subset.get("ports") or []))
        added = 0
        total = len(subset.get("addresses") or []) + len(subset.get("notReadyAddresses") or [])
        for ready, part in ((True, "addresses"), (False, "notReadyAddresses")):
            for addr in subset.get(part) or []:
                if added >= max_per_subset:
                    break
                family = address_type(str(addr.get("ip") or ""))
                if family is None:
                    invalid += 1
                    continue
                want.setdefault((ports, family), []).append(mirror_endpoint(addr, ready))
                added += 1
        skipped += total - added
    for eps in want.values():
        eps.sort(key=lambda e: (not e["conditions"]["ready"], e["addresses"][0]))
    return want, invalid, skipped - invalid


def slice_key(s: Obj) -> SliceKey:
    return (tuple(sorted(_port_key(p) for p in s.get("ports") or [])), s.get("addressType") or "IPv4")


class SliceTracker:
    """Slices this controller wrote or deleted that its informer may not show yet.

    Upstream: ``endpointslice.EndpointSliceTracker``. Without it, a second sync
    right after a create would not see the new slice and create another.
    """

    def __init__(self) -> None:
        self.written: dict[str, Obj] = {}
        self.deleted: set[str] = set()

    @staticmethod
    def _key(obj: Obj) -> str:
        return f"{meta(obj).get('namespace')}/{meta(obj)['name']}"

    def wrote(self, obj: Obj) -> None:
        self.written[self._key(obj)] = obj
        self.deleted.discard(self._key(obj))

    def removed(self, obj: Obj) -> None:
        self.written.pop(self._key(obj), None)
        self.deleted.add(self._key(obj))

    def view(self, cached: list[Obj], namespace: str) -> list[Obj]:
        """The informer's slices in ``namespace``, corrected by what we wrote since."""
        out = {self._key(s): s for s in cached}
        for k, obj in list(self.written.items()):
            if meta(obj).get("namespace") != namespace:
                continue
            seen = out.get(k)
            if seen is not None and int(meta(seen).get("resourceVersion") or 0) >= \
                    int(meta(obj).get("resourceVersion") or 0):
                del self.written[k]          # the informer caught up
            else:
                out[k] = obj
        cached_keys = {self._key(s) for s in cached}
        for k in list(self.deleted):
            if not k.startswith(f"{namespace}/"):
                continue
            if k not in cached_keys:
                self.deleted.discard(k)      # the informer saw the delete
            out.pop(k, None)
        return list(out.values())


class EndpointSliceMirroringController(Controller):
    name = "endpointslicemirroring"
    kind = "Endpoints"
    component = "endpoint-slice-mirroring-controller"

    def __init__(self, *args: Any, max_endpoints_per_subset: int = MAX_ENDPOINTS_PER_SUBSET, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.max_endpoints_per_subset = max_endpoints_per_subset
        self.svc_informer = self.factory.informer("services")
        self.ep_informer = self.factory.informer("endpoints")
        self.slice_informer = self.factory.informer("endpointslices")
        self.svc_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        self.ep_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        self.slice_informer.add_handler(self._slice_changed, lambda old, new: self._slice_changed(new),
                                        self._slice_changed)
        self.tracker = SliceTracker()

    def _slice_changed(self, s: Obj) -> None:
        """Someone touched one of our slices (or we did): look at its Service again."""
        svc = labels_of(s).get(SERVICE_NAME)
        if svc and labels_of(s).get(MANAGED_BY) == CONTROLLER_NAME:
            self.queue.add(f"{meta(s).get('namespace')}/{svc}")

    def mirrored_slices(self, ns: str, name: str) -> list[Obj]:
        return [s for s in self.tracker.view(self.slice_informer.list(ns), ns)
                if labels_of(s).get(SERVICE_NAME) == name and labels_of(s).get(MANAGED_BY) == CONTROLLER_NAME]

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        svc = self.svc_informer.get(key)
        endpoints = self.ep_informer.get(key)
        if (svc is None or (svc.get("spec") or {}).get("selector") or is_kubernetes_service(svc)
                or not should_mirror(endpoints)):
            # No Service, a Service the endpoints controllers manage (``kubernetes`` included,
            # which upstream's API server labels skip-mirror), no Endpoints, or opted out.
            await self._delete(self.mirrored_slices(ns, name))
            return None
        if meta(svc).get("deletionTimestamp"):
            return None
        assert endpoints is not None
        want, invalid, skipped = desired_mirror(endpoints, self.max_endpoints_per_subset)
        if invalid:
            self.event(endpoints, "Warning", "InvalidIPAddress",
                       f"Skipped {invalid} invalid IP addresses when mirroring to EndpointSlices")
        if skipped:
            self.event(endpoints, "Warning", "TooManyAddressesToMirror",
                       f"A max of {self.max_endpoints_per_subset} addresses can be mirrored to EndpointSlices "
                       f"per Endpoints subset. {skipped} addresses were skipped")
        existing: dict[SliceKey, list[Obj]] = {}
        for s in sorted(self.mirrored_slices(ns, name), key=lambda s: meta(s)["name"]):
            existing.setdefault(slice_key(s), []).append(s)
        stale: list[Obj] = []
        for k, slices in existing.items():
            stale += slices[1:] if k in want else slices     # one slice per key, the rest go
        for k, eps in sorted(want.items()):
            current = existing.get(k, [None])[0]
            body = self._slice_body(endpoints, k, eps, current)
            if current is None:
                self.tracker.wrote(await self.client.create("endpointslices", body, ns))
            elif body != current:
                try:
                    self.tracker.wrote(await self.client.update("endpointslices", body, ns))
                except errors.NotFound:
                    self.tracker.removed(current)
                    return 0.0
        await self._delete(stale)
        return None

    def _slice_body(self, endpoints: Obj, k: SliceKey, eps: list[Obj], current: Obj | None) -> Obj:
        """``newEndpointSlice``: the desired slice, as an update of ``current`` if there is one."""
        m = meta(endpoints)
        labels = {**labels_of(endpoints), SERVICE_NAME: m["name"], MANAGED_BY: CONTROLLER_NAME}
        annotations = {a: v for a, v in (m.get("annotations") or {}).items() if a not in NOT_MIRRORED_ANNOTATIONS}
        ports, family = k
        body = copy.deepcopy(current) if current is not None else {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{m['name']}-", "namespace": m.get("namespace")}}
        bm = body["metadata"]
        bm["labels"] = labels
        if annotations:
            bm["annotations"] = annotations
        else:
            bm.pop("annotations", None)
        bm["ownerReferences"] = [new_controller_ref(endpoints, "v1", "Endpoints")]
        body["addressType"] = family
        body["endpoints"] = eps
        body["ports"] = [_slice_port(p) for p in ports]
        return body

    async def _delete(self, slices: list[Obj]) -> None:
        for s in slices:
            self.tracker.removed(s)
            try:
                await self.client.delete("endpointslices", meta(s)["name"], meta(s).get("namespace"))
            except errors.NotFound:
                pass
