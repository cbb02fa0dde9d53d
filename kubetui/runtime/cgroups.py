"""A pod's and a container's cgroup (upstream: the kubelet's ``cm`` package and runc's ``libcontainer/cgroups``).

Each pod gets ``kubepods/<sandbox>`` and each container a child of it, in every
cgroup v1 controller kubetui uses (memory, cpu, cpuacct, pids) or in the v2
unified tree: the container's limits (``memory.limit_in_bytes`` for a real OOM
kill, ``cpu.cfs_quota_us = millicores * 100``), its OOM kill count and its usage
(``kubectl top``) live there.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import functools
from pathlib import Path

from kubetui.runtime.cri import Usage

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")


@functools.cache
def cgroup_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


@functools.cache
def _v1_controllers() -> tuple[str, ...]:
    """The v1 controllers this node mounts (asked once: every pod start needs them)."""
    return tuple(c for c in V1_CONTROLLERS if (CGROUP_ROOT / c).exists())


class Cgroup:
    """One cgroup, in every v1 controller or in the v2 unified tree."""

    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.v2 = cgroup_v2()

    def dirs(self) -> list[Path]:
        if self.v2:
            return [CGROUP_ROOT / self.rel]
        return [CGROUP_ROOT / c / self.rel for c in _v1_controllers()]

    def create(self, memory: int = 0, millicores: int = 0) -> None:
        for d in self.dirs():
            d.mkdir(parents=True, exist_ok=True)
        if self.v2:
            d = CGROUP_ROOT / self.rel
            if memory:
                (d / "memory.max").write_text(str(memory))
            if millicores:
                (d / "cpu.max").write_text(f"{millicores * 100} 100000")
            return
        if memory:
            (CGROUP_ROOT / "memory" / self.rel / "memory.limit_in_bytes").write_text(str(memory))
        if millicores:
            d = CGROUP_ROOT / "cpu" / self.rel
            (d / "cpu.cfs_period_us").write_text("100000")
            (d / "cpu.cfs_quota_us").write_text(str(millicores * 100))

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs()]

    def oom_kills(self) -> int:
        f = (CGROUP_ROOT / self.rel / "memory.events") if self.v2 else \
            (CGROUP_ROOT / "memory" / self.rel / "memory.oom_control")
        try:
            for line in f.read_text().splitlines():
                k, _, v = line.partition(" ")
                if k == "oom_kill":
                    return int(v)
        except (OSError, ValueError):
            pass
        return 0

    def usage(self) -> Usage:
        u = Usage()
        try:
            if self.v2:
                d = CGROUP_ROOT / self.rel
                stat = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines())
                u.cpu_usage_core_nanoseconds = int(stat.get("usage_usec", 0)) * 1000
                mem = int((d / "memory.current").read_text())
                inactive = dict(line.split() for line in (d / "memory.stat").read_text().splitlines())
                u.memory_working_set_bytes = max(0, mem - int(inactive.get("inactive_file", 0)))
            else:
                u.cpu_usage_core_nanoseconds = int((CGROUP_ROOT / "cpuacct" / self.rel / "cpuacct.usage").read_text())
                md = CGROUP_ROOT / "memory" / self.rel
                mem = int((md / "memory.usage_in_bytes").read_text())
                stat = dict(line.split() for line in (md / "memory.stat").read_text().splitlines())
                u.memory_working_set_bytes = max(0, mem - int(stat.get("total_inactive_file", 0)))
        except (OSError, ValueError):
            pass
        return u

    def remove(self) -> None:
        # children first (container cgroups), then this one
        for d in self.dirs():
            for sub in sorted((p for p in d.glob("**/") if p != d), key=lambda p: -len(p.parts)):
                try:
                    sub.rmdir()
                except OSError:
                    pass
            try:
                d.rmdir()
            except OSError:
                pass
