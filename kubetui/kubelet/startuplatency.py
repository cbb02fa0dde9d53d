"""Where each pod's start went (upstream: ``pkg/kubelet/util/pod_startup_latency_tracker.go``).

Upstream's kubelet remembers, per pod, when it first saw the pod on its watch,
when it started and finished pulling images, and when it first saw the pod
running; once the pod runs, it logs one line, ``"Observed pod startup
duration"``, with ``podStartSLOduration`` (creation to running, minus image
pulls) and ``podStartE2EDuration``. That line is how one answers "why was this
pod slow to start?" on a real node without a profiler.

kubetui's tracker does the same, with a few more steps, since its kubelet's
steps are the learning material: when the pod worker saw the pod, had its
volumes (``volumes``) and its network namespace (``network``: the two run at
once on a pod's first attempt), had both (``sandbox``), had its image, created and started its container, and
when the API server acknowledged the status that says the pod is Ready. Times
are wall-clock (``time.time()``: node containers share the host's clock), so
``kubetui bench pods`` can line them up with the control plane's view.

One line per pod, at INFO, when its Ready status was written::

    Observed pod startup duration pod="default/web" podStartE2EDuration="0.412s"
    seen=1765152000.100 sandbox=1765152000.180 image=... created=... started=...
    statusSent=... ready=...
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

#: the steps, in the order a pod passes them (a step seen twice keeps its first time)
STEPS = ("seen", "volumes", "network", "sandbox", "image", "created", "started", "statusSent", "ready")
MESSAGE = "Observed pod startup duration"


class PodStartupLatencyTracker:
    """Per-pod timestamps of the steps in ``STEPS``; forgets a pod once it logged it (or it went)."""

    def __init__(self, wall=time.time, limit: int = 5000) -> None:
        self._wall = wall
        self._pods: dict[str, dict[str, float]] = {}
        self._limit = limit              # a node never tracks more pods than this (upstream: maxPods)

    def mark(self, uid: str, step: str) -> None:
        """Record ``step`` for the pod (its first occurrence only)."""
        marks = self._pods.get(uid)
        if marks is None:
            if step != "seen" or len(self._pods) >= self._limit:
                return                   # a pod seen before the kubelet restarted: nothing to say
            marks = self._pods[uid] = {}
        marks.setdefault(step, self._wall())

    def ready(self, uid: str, key: str, created: float | None = None) -> dict[str, float] | None:
        """The pod's Ready status was written: log its line once, return its marks (None if untracked)."""
        marks = self._pods.pop(uid, None)
        if marks is None:
            return None
        marks.setdefault("ready", self._wall())
        log.info("%s", format_line(key, marks, created))
        return marks

    def forget(self, uid: str) -> None:
        self._pods.pop(uid, None)


def format_line(key: str, marks: dict[str, float], created: float | None = None) -> str:
    """The log line (upstream's key=value style), steps in order.

    >>> format_line("default/web", {"seen": 10.0, "started": 10.25, "ready": 10.5}, created=9.0)
    'Observed pod startup duration pod="default/web" podStartE2EDuration="1.500s" seen=10.000 started=10.250 ready=10.500'
    """
    start = created if created is not None else marks.get("seen", 0.0)
    e2e = marks.get("ready", start) - start
    steps = " ".join(f"{s}={marks[s]:.3f}" for s in STEPS if s in marks)
    return f'{MESSAGE} pod="{key}" podStartE2EDuration="{e2e:.3f}s" {steps}'


def parse_line(line: str) -> tuple[str, dict[str, float]] | None:
    """(pod key, marks) from a node log line, or None if it is not one of ours.

    >>> parse_line('2026-12-08 00:00:00,000 INFO kubetui.kubelet.startuplatency: Observed pod startup '
    ...            'duration pod="default/web" podStartE2EDuration="0.5s" seen=10.000 ready=10.500')
    ('default/web', {'seen': 10.0, 'ready': 10.5})
    """
    at = line.find(MESSAGE)
    if at < 0:
        return None
    key, marks = "", {}
    for word in line[at + len(MESSAGE):].split():
        name, _, value = word.partition("=")
        if name == "pod":
            key = value.strip('"')
        elif name in STEPS:
            try:
                marks[name] = float(value)
            except ValueError:
                return None
    return (key, marks) if key else None
