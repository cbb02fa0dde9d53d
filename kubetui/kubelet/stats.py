"""Resource usage per pod and node: the kubelet's Summary API (upstream: ``pkg/kubelet/server/stats``).

metrics-server (and so ``kubectl top``) reads ``/stats/summary`` from every
kubelet. CPU is cumulative core-nanoseconds from the runtime (cgroup
``cpuacct.usage``, or ``/proc`` for plain processes); the rate
(``usageNanoCores``) is the slope between two samples, which is why
``kubectl top`` has nothing to say for a pod's first seconds.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from kubetui.kubelet.timefmt import rfc3339
from kubetui.runtime.cri import RUNNING, RuntimeError_, Usage

if TYPE_CHECKING:
    from kubetui.kubelet.kubelet import Kubelet

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def self_usage() -> Usage:
    """The kubelet process itself (part of the node's usage)."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return Usage((int(fields[11]) + int(fields[12])) * 10 ** 9 // _CLK_TCK,
                     int(fields[21]) * _PAGE, time.time())
    except (OSError, IndexError, ValueError):
        return Usage(timestamp=time.time())


class RateTracker:
    """usageNanoCores from cumulative CPU samples (keeps the last sample per key)."""

    def __init__(self, min_window: float = 0.5) -> None:
        self.min_window = min_window
        self._samples: dict[str, tuple[float, int, int]] = {}   # key -> (t, cumulative, rate)

    def rate(self, key: str, t: float, cumulative: int) -> int:
        prev = self._samples.get(key)
        if prev is None:
            self._samples[key] = (t, cumulative, 0)
            return 0
        pt, pc, prate = prev
        if t - pt < self.min_window:
            return prate
        r = max(0, int((cumulative - pc) / (t - pt)))
        self._samples[key] = (t, cumulative, r)
        return r


def _cpu_mem(u: Usage, rate: int) -> tuple[dict, dict]:
    ts = rfc3339(u.timestamp or time.time())
    return ({"time": ts, "usageNanoCores": rate, "usageCoreNanoSeconds": u.cpu_usage_core_nanoseconds},
            {"time": ts, "workingSetBytes": u.memory_working_set_bytes,
             "usageBytes": u.memory_working_set_bytes, "rssBytes": u.memory_working_set_bytes})


class StatsProvider:
    def __init__(self, kubelet: "Kubelet") -> None:
        self.k = kubelet
        self.rates = RateTracker()
        self.started = time.time()

    def summary(self) -> dict:
        rt = self.k.runtime
        now = time.time()
        pods = []
        node_cpu = node_mem = 0
        for w in list(self.k.workers.values()):
            if w.sandbox is None:
                continue
            meta = w.pod["metadata"]
            containers = []
            total = Usage(timestamp=now)
            for rec in w.records.values():
                if not rec.cid:
                    continue
                try:
                    st = rt.container_status(rec.cid)
                    if st.state != RUNNING:
                        continue
                    u = rt.container_stats(rec.cid)
                except RuntimeError_:
                    continue
                total.cpu_usage_core_nanoseconds += u.cpu_usage_core_nanoseconds
                total.memory_working_set_bytes += u.memory_working_set_bytes
                cpu, mem = _cpu_mem(u, self.rates.rate(f"c/{rec.cid}", now, u.cpu_usage_core_nanoseconds))
                containers.append({"name": rec.name, "startTime": rfc3339(st.started_at), "cpu": cpu,
                                   "memory": mem})
            try:
                pod_usage = rt.pod_stats(w.sandbox.id)
            except RuntimeError_:
                pod_usage = total
            if pod_usage.cpu_usage_core_nanoseconds == 0 and pod_usage.memory_working_set_bytes == 0:
                pod_usage = total
            cpu, mem = _cpu_mem(pod_usage, self.rates.rate(f"p/{w.uid}", now,
                                                           pod_usage.cpu_usage_core_nanoseconds))
            node_cpu += pod_usage.cpu_usage_core_nanoseconds
            node_mem += pod_usage.memory_working_set_bytes
            pods.append({"podRef": {"name": meta["name"], "namespace": meta.get("namespace", "default"),
                                    "uid": w.uid},
                         "startTime": w.start_time, "containers": containers, "cpu": cpu, "memory": mem})
        me = self_usage()
        node_usage = Usage(node_cpu + me.cpu_usage_core_nanoseconds, node_mem + me.memory_working_set_bytes, now)
        cpu, mem = _cpu_mem(node_usage, self.rates.rate("node", now, node_usage.cpu_usage_core_nanoseconds))
        return {"node": {"nodeName": self.k.config.node_name, "startTime": rfc3339(self.started),
                         "cpu": cpu, "memory": mem},
                "pods": pods}
