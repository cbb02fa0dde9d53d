"""What the kubelet says about its node (upstream: ``pkg/kubelet/nodestatus/setters.go``).

Capacity comes from the node's own cgroup limits (a Docker node started with
``--cpus 2 --memory 2g`` reports exactly that), falling back to the machine;
the local provider passes the capacity it advertises. Pure functions, so the
Node object a learner sees in ``kubectl describe node`` is easy to trace.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from kubetui.kubelet.timefmt import rfc3339

KUBELET_VERSION = "v1.37.0"   # kubetui.KUBERNETES_VERSION (the node package cannot import it)

_UNLIMITED = 1 << 60


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cgroup_limits(root: str = "/sys/fs/cgroup") -> tuple[float | None, int | None]:
    """(CPUs, memory bytes) this process's cgroup may use, or None where unlimited (v1 and v2)."""
    cpus: float | None = None
    mem: int | None = None
    quota, period = _read(f"{root}/cpu/cpu.cfs_quota_us"), _read(f"{root}/cpu/cpu.cfs_period_us")
    if quota and period and int(quota) > 0:
        cpus = int(quota) / int(period)
    cpu_max = _read(f"{root}/cpu.max")
    if cpu_max and not cpu_max.startswith("max"):
        q, p = cpu_max.split()
        cpus = int(q) / int(p)
    for path in (f"{root}/memory/memory.limit_in_bytes", f"{root}/memory.max"):
        v = _read(path)
        if v and v != "max" and int(v) < _UNLIMITED:
            mem = int(v)
            break
    return cpus, mem


def machine_memory() -> int:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 2 * 2 ** 30


def capacity(cpus: float | None, memory_bytes: int | None, max_pods: int) -> dict[str, str]:
    cg_cpus, cg_mem = cgroup_limits()
    cpus = cpus or cg_cpus or float(os.cpu_count() or 1)
    mem = memory_bytes or min(cg_mem or _UNLIMITED, machine_memory())
    cpu_q = str(int(cpus)) if float(cpus).is_integer() else f"{int(cpus * 1000)}m"
    return {"cpu": cpu_q, "memory": f"{mem // 1024}Ki", "pods": str(max_pods),
            "ephemeral-storage": "10Gi"}


def node_labels(name: str, extra: dict[str, str]) -> dict[str, str]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
              "beta.kubernetes.io/arch": arch}
    labels.update(extra)
    return labels


_CONDITIONS = [
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
]


def conditions(now: float, previous: list[dict] | None, network_not_ready: str | None = None) -> list[dict]:
    """The node's conditions; Ready is False while the pod network is not set up (why in the message)."""
    prev = {c["type"]: c for c in previous or []}
    out = []
    for ctype, st, reason, msg in _CONDITIONS:
        if ctype == "Ready" and network_not_ready:
            # what the real kubelet says until its CNI plugin has a config (here: a podCIDR)
            st, reason = "False", "KubeletNotReady"
            msg = ("container runtime network not ready: NetworkReady=false "
                   f"reason:NetworkPluginNotReady message:{network_not_ready}")
        p = prev.get(ctype)
        lt = p["lastTransitionTime"] if p and p.get("status") == st and p.get("lastTransitionTime") \
            else rfc3339(now)
        out.append({"type": ctype, "status": st, "reason": reason, "message": msg,
                    "lastHeartbeatTime": rfc3339(now), "lastTransitionTime": lt})
    return out


def node_info(runtime_name: str, runtime_version: str, machine_id: str) -> dict[str, str]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    os_image = "kubetui node"
    for line in (_read("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            os_image = line.split("=", 1)[1].strip('"')
    return {"architecture": arch, "bootID": (_read("/proc/sys/kernel/random/boot_id") or ""),
            "containerRuntimeVersion": f"{runtime_name}://{runtime_version}",
            "kernelVersion": platform.release(), "kubeProxyVersion": KUBELET_VERSION,
            "kubeletVersion": KUBELET_VERSION, "machineID": machine_id,
            "operatingSystem": "linux", "osImage": os_image, "systemUUID": machine_id}


def node_images(records: list) -> list[dict[str, Any]]:
    """``status.images``: every image the node holds, largest first, at most nodeStatusMaxImages (50).

    Names are the digest form, the fully qualified tag and the short tag (what a
    pod spec usually says, which the scheduler's ImageLocality matches as given).
    """
    from kubetui.kubelet.imagepolicy import ImageRecord, familiar, node_status_images
    named = [ImageRecord(r.id, tuple(dict.fromkeys([*r.repo_tags, *(familiar(t) for t in r.repo_tags)])),
                         r.repo_digests, r.size, r.pinned) for r in records]
    return node_status_images(named)


_KUBELET_MANAGED = ("cpu", "memory", "pods", "ephemeral-storage")


def allocatable_patch(status: dict[str, Any]) -> dict[str, Any] | None:
    """What the kubelet changes in ``allocatable`` after someone advertised an extended resource.

    Upstream's way to offer ``example.com/dongle`` on a node (as a device
    plugin does, or by hand) is to patch ``status.capacity`` through the API::

        kubectl patch node node-1 --subresource=status --type=json \
          -p '[{"op": "add", "path": "/status/capacity/example.com~1dongle", "value": "4"}]'

    and the kubelet's next status update copies it into ``allocatable`` (its
    ``MachineInfo`` setter: allocatable = capacity minus reservations, and an
    extended resource gone from capacity leaves allocatable too). The
    returned merge patch does that for every resource the kubelet does not
    compute itself; None when nothing changes.

    >>> allocatable_patch({"capacity": {"cpu": "2", "example.com/dongle": "4"}, "allocatable": {"cpu": "2"}})
    {'example.com/dongle': '4'}
    >>> allocatable_patch({"capacity": {"cpu": "2"}, "allocatable": {"cpu": "2", "example.com/dongle": "4"}})
    {'example.com/dongle': None}
    """
    capacity = status.get("capacity") or {}
    allocatable = status.get("allocatable") or {}
    patch: dict[str, Any] = {}
    for name, value in capacity.items():
        if name not in _KUBELET_MANAGED and allocatable.get(name) != value:
            patch[name] = value
    for name in allocatable:
        if name not in capacity and "/" in name and "kubernetes.io/" not in name:
            patch[name] = None
    return patch or None
