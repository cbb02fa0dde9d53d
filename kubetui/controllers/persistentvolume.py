"""The PersistentVolume controller: binds claims to volumes, provisions, reclaims.

Upstream: ``pkg/controller/volume/persistentvolume/pv_controller.go``
(``syncClaim``/``syncUnboundClaim``/``syncBoundClaim``, ``syncVolume``,
``bind``, ``reclaimVolume``, ``provisionClaim``) with the dynamic provisioning
an external provisioner would do (``kubetui.storage.provisioners``).

One queue carries both kinds of keys: ``namespace/name`` is a claim,
a bare ``name`` a volume (PersistentVolumes are cluster-scoped).

- An unbound claim gets the smallest Available volume that fits
  (``pv_binder.find_best_match``); if none fits and its StorageClass has a
  provisioner, a new volume is provisioned and bound. A claim whose class binds
  ``WaitForFirstConsumer`` waits for a pod using it to be scheduled: the node
  the pod went to becomes the claim's ``volume.kubernetes.io/selected-node``
  (upstream the scheduler's VolumeBinding plugin writes it at PreBind; here
  this controller copies it from the scheduled pod) and a node-local volume
  is made there.
- Binding writes both halves, as upstream: the volume's ``claimRef`` (phase
  Bound) and the claim's ``volumeName`` with ``pv.kubernetes.io/bind-completed``
  (phase Bound, capacity and access modes in status).
- When the claim goes, its volume is *Released*; reclaim policy ``Retain``
  keeps it (and its data) for an admin, ``Delete`` removes the data and the
  PersistentVolume.
- A claim stuck Pending says why, in an Event with upstream's words.
"""

from __future__ import annotations

import asyncio
from typing import Any, Hashable

from kubetui.api import errors
from kubetui.api.nodeaffinity import pv_reaches_node
from kubetui.api.patch import copy_json
from kubetui.controllers import pv_binder as binder
from kubetui.controllers.base import Controller
from kubetui.controllers.util import is_deleting, meta
from kubetui.storage.classes import default_class_name
from kubetui.storage.provisioners import PROVISIONED_BY, Provisioners, ProvisioningError, claim_ref

Obj = dict[str, Any]

MSG_NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
MSG_WAIT_FOR_CONSUMER = "waiting for first consumer to be created before binding"
MSG_CLAIM_LOST = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"


def pods_using_claim(pods: list[Obj], claim_name: str) -> list[Obj]:
    """Pods (not finished) that mount the claim."""
    out = []
    for p in pods:
        if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for v in (p.get("spec") or {}).get("volumes") or []:
            if (v.get("persistentVolumeClaim") or {}).get("claimName") == claim_name:
                out.append(p)
                break
    return out


class PersistentVolumeController(Controller):
    name = "persistentvolume-binder"
    kind = "PersistentVolumeClaim"
    component = "persistentvolume-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        #: where provisioned volumes' data lives; the cluster replaces it with its provider's
        self.provisioners = Provisioners()
        self.pvs = self.factory.informer("persistentvolumes")
        self.pvcs = self.factory.informer("persistentvolumeclaims")
        self.classes = self.factory.informer("storageclasses")
        self.pods = self.factory.informer("pods")
        self.nodes = self.factory.informer("nodes")
        # Our own writes, newer than the informers may be yet (upstream ``storeObjectUpdate``:
        # the controller's caches take its writes at once, so the next sync does not
        # act on a stale copy and lose a compare-and-swap).
        self._written: dict[str, Obj] = {}
        self.pvs.add_handler(self._volume_changed, lambda old, new: self._volume_changed(new), self._volume_changed)
        self.pvcs.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self._claim_deleted)
        self.classes.add_handler(self._class_changed, lambda old, new: self._class_changed(new))
        self.pods.add_handler(self._pod_changed, lambda old, new: self._pod_changed(new))

    # --- our view: informer caches plus our latest writes ---

    def _newest(self, key: str, cached: Obj | None) -> Obj | None:
        mine = self._written.get(key)
        if mine is None:
            return copy_json(cached) if cached is not None else None
        if cached is None:
            # Deleted since (watch told the informer), or our write is not visible yet:
            # trust the informer once it has caught up with our write.
            return None
        if int(meta(cached).get("resourceVersion") or 0) >= int(meta(mine).get("resourceVersion") or 0):
            self._written.pop(key, None)
            return copy_json(cached)
        return copy_json(mine)

    def _claim(self, key: str) -> Obj | None:
        return self._newest("pvc:" + key, self.pvcs.get(key))

    def _volume(self, name: str) -> Obj | None:
        return self._newest("pv:" + name, self.pvs.get(name))

    def _volumes(self) -> list[Obj]:
        return [v for v in (self._volume(meta(pv)["name"]) for pv in self.pvs.list()) if v is not None]

    def _remember(self, obj: Obj) -> Obj:
        m = meta(obj)
        key = ("pvc:" + f"{m.get('namespace')}/{m['name']}") if obj.get("kind") == "PersistentVolumeClaim" \
            else "pv:" + m["name"]
        self._written[key] = copy_json(obj)
        return obj

    async def _write(self, resource: str, obj: Obj, subresource: str | None = None) -> Obj:
        ns = meta(obj).get("namespace") if resource == "persistentvolumeclaims" else None
        return self._remember(await self.client.update(resource, obj, ns, subresource=subresource))

    # --- handlers: compute keys, enqueue ---

    def _enqueue_unbound_claims(self) -> None:
        for pvc in self.pvcs.list():
            if not (pvc.get("spec") or {}).get("volumeName"):
                self.enqueue(pvc)

    def _volume_changed(self, pv: Obj) -> None:
        self.enqueue(pv)
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(f"{ref.get('namespace')}/{ref.get('name')}")
        self._enqueue_unbound_claims()  # a freed or new volume may fit a waiting claim

    def _claim_deleted(self, pvc: Obj) -> None:
        volume = (pvc.get("spec") or {}).get("volumeName")
        if volume:
            self.queue.add(volume)

    def _class_changed(self, sc: Obj) -> None:
        self._enqueue_unbound_claims()

    def _pod_changed(self, pod: Obj) -> None:
        if not (pod.get("spec") or {}).get("nodeName"):
            return
        ns = meta(pod).get("namespace")
        for v in (pod.get("spec") or {}).get("volumes") or []:
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                self.queue.add(f"{ns}/{claim}")

    # --- reconcile ---

    def record_object(self, key: Hashable) -> tuple[str | None, str | None, str]:
        kind, namespace, name = super().record_object(key)
        return ("PersistentVolumeClaim" if namespace else "PersistentVolume"), namespace, name

    async def reconcile(self, key: Hashable) -> float | None:
        assert isinstance(key, str)
        if "/" in key:
            return await self.sync_claim(key)
        return await self.sync_volume(key)

    # --- claims ---

    async def sync_claim(self, key: str) -> float | None:
        claim = self._claim(key)
        if claim is None or is_deleting(claim):
            return None
        if (claim.get("spec") or {}).get("volumeName"):
            await self._sync_bound_claim(claim)
        else:
            await self._sync_unbound_claim(claim)
        return None

    async def _sync_bound_claim(self, claim: Obj) -> None:
        name = claim["spec"]["volumeName"]
        pv = self._volume(name)
        if pv is None:
            if (claim.get("status") or {}).get("phase") == "Bound":
                await self._set_claim_phase(claim, "Lost")
                self.event(claim, "Warning", "ClaimLost", MSG_CLAIM_LOST)
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref and ref.get("uid") and ref.get("uid") != meta(claim).get("uid"):
            if ref.get("name") == meta(claim)["name"] and ref.get("namespace") == meta(claim).get("namespace"):
                return  # an older claim of the same name; the volume's sync releases it
            self.event(claim, "Warning", "ClaimMisbound",
                       "Two claims are bound to the same volume, this one is bound incorrectly")
            return
        # The claim names the volume (pre-bound by a user, or half-bound): finish both halves.
        await self._bind(claim, pv)

    async def _sync_unbound_claim(self, claim: Obj) -> None:
        claim = await self._assign_default_class(claim)
        class_name = binder.claim_class(claim)
        sc = self.classes.get(class_name) if class_name else None
        wait_for_consumer = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        node = None
        if wait_for_consumer:
            claim, node = await self._selected_node(claim)
        reaches = None
        if node is not None:
            node_obj = self.nodes.get(node) or {}
            labels = dict(meta(node_obj).get("labels") or {})
            labels.setdefault("kubernetes.io/hostname", node)
            reaches = lambda pv: pv_reaches_node(pv, labels, node)  # noqa: E731
        volumes = self._volumes()
        pv = binder.find_best_match(claim, volumes, reaches)
        if pv is not None and (not wait_for_consumer or node is not None or binder.is_prebound_to(pv, claim)):
            await self._bind(claim, copy_json(pv))
            return
        if wait_for_consumer and node is None:
            self.event(claim, "Normal", "WaitForFirstConsumer", MSG_WAIT_FOR_CONSUMER)
            return
        if not class_name:
            self.event(claim, "Normal", "FailedBinding", MSG_NO_CLASS)
            return
        if sc is None:
            self.event(claim, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" not found')
            return
        await self._provision(claim, sc, node)

    async def _assign_default_class(self, claim: Obj) -> Obj:
        """A claim created with no class before a default existed gets the default now (retroactive
        default StorageClass assignment, Kubernetes >= 1.28). An explicit ``""`` means "no class"."""
        if "storageClassName" in (claim.get("spec") or {}):
            return claim
        default = default_class_name(self.classes.list())
        if default is None:
            return claim
        claim["spec"]["storageClassName"] = default
        return await self._write("persistentvolumeclaims", claim)

    async def _selected_node(self, claim: Obj) -> tuple[Obj, str | None]:
        """The node chosen for the claim's first consumer (and the claim, annotated with it)."""
        annotations = meta(claim).get("annotations") or {}
        node = annotations.get(binder.ANN_SELECTED_NODE)
        if node:
            return claim, node
        scheduled = [p for p in pods_using_claim(self.pods.list(meta(claim).get("namespace")), meta(claim)["name"])
                     if (p.get("spec") or {}).get("nodeName")]
        if not scheduled:
            return claim, None
        node = scheduled[0]["spec"]["nodeName"]
        claim["metadata"].setdefault("annotations", {})[binder.ANN_SELECTED_NODE] = node
        claim = await self._write("persistentvolumeclaims", claim)
        return claim, node

    async def _provision(self, claim: Obj, sc: Obj, node: str | None) -> None:
        provisioner = sc.get("provisioner")
        ns = meta(claim).get("namespace")
        ann = meta(claim).get("annotations") or {}
        if ann.get(binder.ANN_STORAGE_PROVISIONER) != provisioner:
            claim["metadata"].setdefault("annotations", {}).update({
                binder.ANN_STORAGE_PROVISIONER: provisioner, binder.ANN_BETA_STORAGE_PROVISIONER: provisioner})
            claim = await self._write("persistentvolumeclaims", claim)
        if not self.provisioners.knows(provisioner):
            self.event(claim, "Normal", "ExternalProvisioning",
                       f"Waiting for a volume to be created either by the external provisioner '{provisioner}' "
                       "or manually by the system administrator. If volume creation is delayed, please verify "
                       "that the provisioner is running and correctly registered.")
            return
        self.event(claim, "Normal", "Provisioning", f'External provisioner is provisioning volume for claim '
                                                     f'"{ns}/{meta(claim)["name"]}"')
        try:
            pv = self.provisioners.provision(claim, sc, node)
        except ProvisioningError as e:
            self.event(claim, "Warning", "ProvisioningFailed", f"failed to provision volume with StorageClass "
                                                                 f'"{sc["metadata"]["name"]}": {e}')
            return
        try:
            pv = await self.client.create("persistentvolumes", pv)
        except errors.AlreadyExists:
            pv = await self.client.get("persistentvolumes", pv["metadata"]["name"])
        self.event(claim, "Normal", "ProvisioningSucceeded",
                   f"Successfully provisioned volume {pv['metadata']['name']}")
        await self._bind(claim, pv)

    async def _bind(self, claim: Obj, pv: Obj) -> None:
        """Both halves of a binding, volume first (upstream ``bind``)."""
        ns = meta(claim).get("namespace")
        pv_name = pv["metadata"]["name"]
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        want_ref = claim_ref(claim)
        if {k: ref.get(k) for k in want_ref} != want_ref:
            if not ref:
                pv["metadata"].setdefault("annotations", {})[binder.ANN_BOUND_BY_CONTROLLER] = "yes"
            pv["spec"]["claimRef"] = {**want_ref, "resourceVersion": meta(claim).get("resourceVersion")}
            pv = await self._write("persistentvolumes", pv)
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = await self._set_volume_phase(pv, "Bound")
        annotations = meta(claim).get("annotations") or {}
        if (claim["spec"].get("volumeName") != pv_name
                or annotations.get(binder.ANN_BIND_COMPLETED) != "yes"):
            new_ann = claim["metadata"].setdefault("annotations", {})
            if claim["spec"].get("volumeName") != pv_name:
                new_ann[binder.ANN_BOUND_BY_CONTROLLER] = "yes"
            new_ann[binder.ANN_BIND_COMPLETED] = "yes"
            claim["spec"]["volumeName"] = pv_name
            claim = await self._write("persistentvolumeclaims", claim)
        status = claim.get("status") or {}
        want = {"phase": "Bound", "accessModes": list(pv["spec"].get("accessModes") or []),
                "capacity": dict(pv["spec"].get("capacity") or {})}
        if any(status.get(k) != v for k, v in want.items()):
            claim["status"] = {**status, **want}
            await self._write("persistentvolumeclaims", claim, "status")
            self.log.info("bound claim %s/%s to volume %s", ns, meta(claim)["name"], pv_name)

    async def _set_claim_phase(self, claim: Obj, phase: str) -> Obj:
        claim["status"] = {**(claim.get("status") or {}), "phase": phase}
        return await self._write("persistentvolumeclaims", claim, "status")

    # --- volumes ---

    async def _set_volume_phase(self, pv: Obj, phase: str, message: str | None = None) -> Obj:
        status = {**(pv.get("status") or {}), "phase": phase,
                  "lastPhaseTransitionTime": self._now()}
        if message:
            status["message"] = message
        else:
            status.pop("message", None)
        pv["status"] = status
        return await self._write("persistentvolumes", pv, "status")

    def _now(self) -> str:
        from kubetui.clock import rfc3339
        return rfc3339(self.clock.time())

    async def sync_volume(self, name: str) -> float | None:
        pv = self._volume(name)
        if pv is None or is_deleting(pv):
            return None
        phase = (pv.get("status") or {}).get("phase")
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:
            if phase != "Available":
                await self._set_volume_phase(pv, "Available")
            return None
        claim = self._claim(f"{ref.get('namespace')}/{ref.get('name')}")
        if claim is None and not ref.get("uid"):
            # Pre-bound to a claim that does not exist yet: it waits, Available.
            if phase != "Available":
                await self._set_volume_phase(pv, "Available")
            return None
        if claim is not None and (not ref.get("uid") or ref.get("uid") == meta(claim).get("uid")):
            if not ref.get("uid"):
                # Pre-bound by an admin to a claim that exists: the claim's sync binds it.
                if phase != "Available":
                    await self._set_volume_phase(pv, "Available")
                self.enqueue(claim)
                return None
            if phase != "Bound" and (claim.get("spec") or {}).get("volumeName") == name:
                await self._set_volume_phase(pv, "Bound")
            elif (claim.get("spec") or {}).get("volumeName") != name:
                self.enqueue(claim)  # half-bound: the claim's sync finishes it
            return None
        if claim is None and ref.get("uid") and self._claim_may_be_new(ref):
            return 1.0  # not in our cache yet? look again before releasing a volume
        # The claim is gone (or replaced by another of the same name): released.
        if phase not in ("Released", "Failed"):
            pv = await self._set_volume_phase(pv, "Released")
        if phase == "Failed":
            return None
        await self._reclaim(pv)
        return None

    def _claim_may_be_new(self, ref: Obj) -> bool:
        """Upstream double-checks with a live GET before releasing; informers here are
        fed by the same store, so a missing claim is gone unless the cache has not synced."""
        return not self.pvcs.has_synced

    async def _reclaim(self, pv: Obj) -> None:
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        name = pv["metadata"]["name"]
        if policy == "Retain":
            self.log.info("volume %s released; reclaim policy Retain keeps it and its data", name)
            return
        if policy != "Delete":
            await self._set_volume_phase(pv, "Failed", f"reclaim policy {policy} is not supported")
            self.event(pv, "Warning", "VolumeUnknownReclaimPolicy", "Volume has unrecognized PersistentVolumeReclaimPolicy")
            return
        if not (meta(pv).get("annotations") or {}).get(PROVISIONED_BY):
            message = "error getting deleter volume plugin for volume \"%s\": no deletable volume plugin matched" % name
            await self._set_volume_phase(pv, "Failed", message)
            self.event(pv, "Warning", "VolumeFailedDelete", message)
            return
        try:
            done = await asyncio.to_thread(self.provisioners.delete, pv)
        except (ProvisioningError, OSError) as e:
            await self._set_volume_phase(pv, "Failed", str(e))
            self.event(pv, "Warning", "VolumeFailedDelete", str(e))
            return
        self.log.info("volume %s reclaimed (Delete): %s", name, done)
        try:
            await self.client.delete("persistentvolumes", name)
        except errors.NotFound:
            pass
