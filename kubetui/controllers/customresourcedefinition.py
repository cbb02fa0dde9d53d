"""The CustomResourceDefinition controllers: naming, establishing and instance cleanup.

Upstream these run inside apiextensions-apiserver (the part of kube-apiserver
that serves CRDs): ``pkg/controller/status/naming_controller.go`` (may the
CRD's names be used? ``NamesAccepted``, ``status.acceptedNames``),
``pkg/controller/establish/establishing_controller.go`` (``Established``:
from now on the API server serves the custom resources) and
``pkg/controller/finalizer/crd_finalizer.go`` (a deleted CRD first deletes
every object of its kind, then removes its ``customresourcecleanup``
finalizer so the CRD itself goes). kubetui runs them in the controller
manager: informer -> work queue -> reconcile(key), decide then act.
"""

from __future__ import annotations

from typing import Any

from kubetui.api import errors
from kubetui.api.customresource.crd import STORED_VERSIONS_FINALIZER, condition
from kubetui.clock import rfc3339
from kubetui.controllers.base import Controller
from kubetui.controllers.util import is_deleting, meta

Obj = dict[str, Any]


def _cond(ctype: str, status: str, reason: str, message: str, old: Obj | None, now: str) -> Obj:
    """A condition, keeping its lastTransitionTime while the status stays the same."""
    since = old.get("lastTransitionTime") if old and old.get("status") == status else now
    return {"type": ctype, "status": status, "lastTransitionTime": since, "reason": reason, "message": message}


def names_conflict(crd: Obj, others: list[Obj]) -> tuple[str, str] | None:
    """(reason, message) when another CRD of the same group already accepted one of this one's names."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    for other in others:
        if meta(other).get("name") == meta(crd).get("name") or (other.get("spec") or {}).get("group") != spec.get("group"):
            continue
        accepted = (other.get("status") or {}).get("acceptedNames") or {}
        if names.get("plural") and names.get("plural") == accepted.get("plural"):
            return "PluralConflict", f'"{names["plural"]}" is already in use'
        if names.get("singular") and names.get("singular") == accepted.get("singular"):
            return "SingularConflict", f'"{names["singular"]}" is already in use'
        for sn in names.get("shortNames") or []:
            if sn in (accepted.get("shortNames") or []):
                return "ShortNamesConflict", f'"{sn}" is already in use'
        if names.get("kind") and names.get("kind") == accepted.get("kind"):
            return "KindConflict", f'"{names["kind"]}" is already in use'
        if names.get("listKind") and names.get("listKind") == accepted.get("listKind"):
            return "ListKindConflict", f'"{names["listKind"]}" is already in use'
    return None


def desired_status(crd: Obj, others: list[Obj], now: str) -> Obj:
    """The CRD's status after the naming and establishing controllers (pure).

    ``NamesAccepted`` True ("no conflicts found") copies spec.names to
    acceptedNames; ``Established`` becomes True once names are accepted, and
    stays True afterwards (upstream never un-establishes a CRD).
    """
    status = dict(crd.get("status") or {})
    conds = {c.get("type"): c for c in status.get("conditions") or []}
    conflict = names_conflict(crd, others)
    names = dict((crd.get("spec") or {}).get("names") or {})
    if conflict is None:
        status["acceptedNames"] = names
        conds["NamesAccepted"] = _cond("NamesAccepted", "True", "NoConflicts", "no conflicts found",
                                       conds.get("NamesAccepted"), now)
        if (conds.get("Established") or {}).get("status") != "True":
            conds["Established"] = _cond("Established", "True", "InitialNamesAccepted",
                                         "the initial names have been accepted", conds.get("Established"), now)
    else:
        status.setdefault("acceptedNames", {"plural": "", "kind": ""})
        conds["NamesAccepted"] = _cond("NamesAccepted", "False", conflict[0], conflict[1],
                                       conds.get("NamesAccepted"), now)
        if (conds.get("Established") or {}).get("status") != "True":
            conds["Established"] = _cond("Established", "False", "NotAccepted", "not all names are accepted",
                                         conds.get("Established"), now)
    order = ["NamesAccepted", "Established", "Terminating"]
    status["conditions"] = [conds[t] for t in order if t in conds] + [
        c for t, c in conds.items() if t not in order]
    return status


class CustomResourceDefinitionController(Controller):
    name = "customresourcedefinition"
    kind = "CustomResourceDefinition"
    component = "apiextensions-apiserver"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.crds = self.factory.informer("customresourcedefinitions")
        self.crds.add_handler(self.enqueue, lambda old, new: self.enqueue(new), lambda o: None)

    async def reconcile(self, key: Any) -> float | None:
        crd = self.crds.get(key)
        if crd is None:
            return None
        if is_deleting(crd):
            return await self._cleanup(crd)
        others = [c for c in self.crds.list() if c is not crd]
        want = desired_status(crd, others, rfc3339(self.clock.time()))
        if want != crd.get("status"):
            await self.client.update("customresourcedefinitions", dict(crd, status=want), subresource="status")
        return None

    async def _cleanup(self, crd: Obj) -> float | None:
        """``crd_finalizer.go``: delete every custom resource, then drop the finalizer."""
        if STORED_VERSIONS_FINALIZER not in (meta(crd).get("finalizers") or []):
            return None
        gr = meta(crd)["name"]  # plural.group, the resource's group-resource
        try:
            items = (await self.client.list(gr)).get("items") or []
        except errors.NotFound:
            items = []  # never established: nothing was ever served
        remaining = 0
        for item in items:
            remaining += 1
            if is_deleting(item):
                continue
            try:
                await self.client.delete(gr, meta(item)["name"], meta(item).get("namespace"))
            except errors.NotFound:
                pass
        if remaining:
            status = dict(crd.get("status") or {})
            term = condition(crd, "Terminating")
            if term is None or term.get("reason") != "InstanceDeletionInProgress":
                now = rfc3339(self.clock.time())
                status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "Terminating"]
                status["conditions"].append(_cond("Terminating", "True", "InstanceDeletionInProgress",
                                                  "CustomResource deletion is in progress", term, now))
                await self.client.update("customresourcedefinitions", dict(crd, status=status), subresource="status")
            return 0.5  # look again once the deletions (and their finalizers) are through
        latest = await self.client.get("customresourcedefinitions", meta(crd)["name"])
        fins = [f for f in meta(latest).get("finalizers") or [] if f != STORED_VERSIONS_FINALIZER]
        await self.client.update("customresourcedefinitions",
                                 dict(latest, metadata=dict(meta(latest), finalizers=fins)))
        return None
