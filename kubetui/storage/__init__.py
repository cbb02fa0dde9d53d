"""Persistent storage for kubetui clusters: StorageClasses and the provisioners behind them.

Upstream, a StorageClass names a *provisioner* (a CSI driver's
external-provisioner sidecar, or kind's rancher local-path-provisioner) that
turns a PersistentVolumeClaim into a PersistentVolume and, when the claim
goes and the reclaim policy is ``Delete``, removes the data again. kubetui
ships two, run by the PersistentVolume controller in the control plane:

- ``standard`` (the default class): ``kubetui.dev/node-local``, a directory on
  the node that first runs a pod using the claim (``WaitForFirstConsumer``),
  pinned there through the PV's ``nodeAffinity``;
- ``shared``: ``kubetui.dev/shared``, a directory in one storage area every
  node mounts, so a pod rescheduled to another node finds its data.

``classes.py`` holds the StorageClass objects, ``volumes.py`` where the data
lives on each provider, ``provisioners.py`` the PersistentVolumes they make.
Nothing here imports ``docker``: the cluster tells the provisioners where
node and shared directories are reachable from the control plane.
"""
