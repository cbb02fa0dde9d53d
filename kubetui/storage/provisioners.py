"""Dynamic provisioners: a claim and its StorageClass in, a PersistentVolume out; and back.

Upstream: ``sigs.k8s.io/sig-storage-lib-external-provisioner`` (the
``Provision``/``Delete`` interface every external provisioner implements) and
rancher's local-path-provisioner, which kind uses for its ``standard`` class:
a hostPath directory per claim, pinned to one node by ``nodeAffinity``.
"""

from __future__ import annotations

from typing import Any

from kubetui.storage.classes import NODE_LOCAL_PROVISIONER, SHARED_PROVISIONER
from kubetui.storage.volumes import VolumeHost

Obj = dict[str, Any]

PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTNAME_LABEL = "kubernetes.io/hostname"
NODE_LOCAL_MODES = ("ReadWriteOnce", "ReadWriteOncePod")


class ProvisioningError(Exception):
    """Why a volume cannot be made for a claim (becomes a ProvisioningFailed event)."""


def pv_name_for(claim: Obj) -> str:
    """Provisioned volumes are named after the claim's uid, as upstream names them."""
    return f"pvc-{claim['metadata']['uid']}"


def claim_ref(claim: Obj) -> Obj:
    m = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": m.get("namespace"),
            "name": m["name"], "uid": m.get("uid")}


class Provisioners:
    """The provisioners kubetui runs in its control plane, over one ``VolumeHost``."""

    names = (NODE_LOCAL_PROVISIONER, SHARED_PROVISIONER)

    def __init__(self, host: VolumeHost | None = None) -> None:
        self.host = host or VolumeHost()

    def knows(self, provisioner: str | None) -> bool:
        return provisioner in self.names

    def provision(self, claim: Obj, sc: Obj, node: str | None) -> Obj:
        """The PersistentVolume for ``claim`` (pre-bound to it); its directory is created if reachable."""
        provisioner = sc.get("provisioner")
        spec = claim.get("spec") or {}
        modes = list(spec.get("accessModes") or [])
        name = pv_name_for(claim)
        pv_spec: Obj = {
            "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage")},
            "accessModes": modes,
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "claimRef": claim_ref(claim),
        }
        if spec.get("volumeMode") == "Block":
            raise ProvisioningError(f"{provisioner} only provides Filesystem volumes")
        if provisioner == NODE_LOCAL_PROVISIONER:
            bad = [m for m in modes if m not in NODE_LOCAL_MODES]
            if bad:
                raise ProvisioningError(f"{provisioner} only supports ReadWriteOnce and ReadWriteOncePod access "
                                        f"modes (a node's disk is on one node), not {', '.join(bad)}: use the "
                                        "shared StorageClass for ReadWriteMany")
            if not node:
                raise ProvisioningError(f"{provisioner} needs a node: use volumeBindingMode WaitForFirstConsumer "
                                        "so the claim is provisioned where its first pod runs")
            pv_spec["hostPath"] = {"path": self.host.node_local_path(node, name), "type": "DirectoryOrCreate"}
            pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}}
            self.host.create(self.host.node_local_dir(node, name))
        elif provisioner == SHARED_PROVISIONER:
            pv_spec["hostPath"] = {"path": self.host.shared_path(name), "type": "DirectoryOrCreate"}
            self.host.create(self.host.shared_dir(name))
        else:
            raise ProvisioningError(f"unknown provisioner {provisioner}")
        if sc.get("mountOptions"):
            pv_spec["mountOptions"] = list(sc["mountOptions"])
        return {"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": name, "annotations": {PROVISIONED_BY: provisioner}},
                "spec": pv_spec}

    def delete(self, pv: Obj) -> str:
        """Remove a provisioned volume's data; says what happened (for the log and Events)."""
        meta, spec = pv.get("metadata") or {}, pv.get("spec") or {}
        name = meta["name"]
        provisioner = (meta.get("annotations") or {}).get(PROVISIONED_BY)
        if provisioner == SHARED_PROVISIONER:
            directory = self.host.shared_dir(name)
        elif provisioner == NODE_LOCAL_PROVISIONER:
            node = pinned_node(pv)
            directory = self.host.node_local_dir(node, name) if node else None
        else:
            raise ProvisioningError(f"no deletable volume plugin matched (volume {name} was not provisioned "
                                    "by kubetui)")
        if self.host.remove(directory):
            return f"deleted {directory}"
        path = (spec.get("hostPath") or {}).get("path")
        return f"the kubelet on node {pinned_node(pv) or '?'} removes {path} (its directory has no volume any more)"


def pinned_node(pv: Obj) -> str | None:
    """The node a node-local PV is pinned to (``kubernetes.io/hostname In [node]``)."""
    terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    for t in terms:
        for e in t.get("matchExpressions") or []:
            if e.get("key") == HOSTNAME_LABEL and e.get("operator") == "In" and e.get("values"):
                return e["values"][0]
    return None
