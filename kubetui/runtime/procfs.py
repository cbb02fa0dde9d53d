"""What ``/proc`` says about a process, and signalling a container's process group.

Part of the container runtime (containerd's shim and runc read the same files):
a process's state, start time (so a recorded PID is known to be the same process,
not a recycled one) and its group's CPU and memory, as the kubelet's stats need.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import os

_PAGE = os.sysconf("SC_PAGE_SIZE")


def kill_group(pid: int, sig: int) -> None:
    """Signal the process group led by ``pid`` (a container's or a pause process's: it calls
    ``setsid`` first thing). Right after the fork it may not lead its group yet (``killpg`` then
    finds no such group): the process itself is signalled, so a pod removed at once still dies.
    Safe from PID reuse: ``pid`` is this process's unreaped child (or its subreaped orphan)."""
    try:
        os.killpg(pid, sig)
        return
    except PermissionError:
        return
    except ProcessLookupError:
        pass
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return None
    # the command name may contain spaces: split after its closing parenthesis
    return raw[raw.rfind(")") + 2:].split()


def start_ticks(pid: int) -> int:
    f = stat_fields(pid)
    return int(f[19]) if f else 0


def running(pid: int) -> bool:
    """``pid`` exists and has not exited (a zombie has: it holds no file, lock or socket any more)."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def same_process(pid: int, recorded_ticks: int) -> bool:
    """True if ``pid`` is still the process we started (not a recycled PID): its start time
    (``recorded_ticks``, from ``start_ticks`` when it was started) is the same."""
    return bool(pid) and start_ticks(pid) == recorded_ticks and recorded_ticks != 0


def group_usage(pgid: int) -> tuple[int, int]:
    """(CPU ticks, RSS bytes) of every process in the process group, from /proc."""
    ticks = rss = 0
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0, 0
    for pid in pids:
        f = stat_fields(pid)
        if not f or int(f[2]) != pgid:
            continue
        # fields after the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ... rss(21)
        ticks += int(f[11]) + int(f[12])
        rss += int(f[21]) * _PAGE
    return ticks, rss
