"""Pod chips on the cluster map: which colour each STATUS kubectl prints gets, and the legend.

No Kubernetes counterpart: the STATUS column itself comes from the printers
(upstream's ``printPod``); this module only folds it into colours a learner
can tell apart at a glance. Every waiting or terminated reason kubectl prints
gets its own chip (``ImagePullBackOff`` is not ``CrashLoopBackOff``: the
first is fixed by the image name, the second by the program), so the map
says *why* a pod is stuck before anyone runs ``kubectl describe``.

Each chip's text and background meet WCAG AA (contrast ratio at least 4.5:1,
``contrast_ratio``) whatever the theme, since the chip draws its own
background; ``tests/tui/test_chips.py`` computes every pair.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from kubetui.tui.printers import pod_status_reason

Obj = dict[str, Any]

BLACK, WHITE = "#000000", "#ffffff"

#: chip state -> (text, background, what it means); in the order a pod usually meets them.
CHIPS: dict[str, tuple[str, str, str]] = {
    "Pending": (BLACK, "#a8a8a8", "waiting for the scheduler to find a node"),
    "SchedulingGated": (BLACK, "#d7d7ff", "held back by spec.schedulingGates"),
    "ContainerCreating": (BLACK, "#00d7d7", "bound to a node; the kubelet is creating its containers"),
    "Pulling": (BLACK, "#d7afff", "the kubelet is pulling an image (a Pulling event, no Pulled yet)"),
    "Init": (BLACK, "#87afd7", "init containers are running (Init:N/M)"),
    "PodInitializing": (BLACK, "#5fd7ff", "init containers done; starting the app containers"),
    "Running": (BLACK, "#87af87", "running, but not Ready: no traffic from Services yet"),
    "Ready": (BLACK, "#00d700", "running and Ready: Services send it traffic"),
    "Completed": (BLACK, "#9e9e9e", "every container exited 0"),
    "Terminating": (BLACK, "#d78700", "being deleted (grace period)"),
    "Evicting": (BLACK, "#af875f", "evicted by a NoExecute taint (its node unreachable?): Terminating "
                 "until that node's kubelet confirms, or a force delete"),
    "ErrImagePull": (BLACK, "#ff87d7", "the image could not be pulled"),
    "ImagePullBackOff": (WHITE, "#af005f", "pulling the image failed; the kubelet waits before retrying"),
    "CreateContainerConfigError": (WHITE, "#875f00", "a ConfigMap, Secret or key the container needs is missing"),
    "CreateContainerError": (WHITE, "#5f5f00", "the runtime could not create the container"),
    "CrashLoopBackOff": (WHITE, "#d70000", "the container keeps exiting; the kubelet waits before restarting"),
    "Error": (WHITE, "#870000", "a container exited non-zero"),
    "OOMKilled": (WHITE, "#8700af", "killed for using more memory than its limit"),
    "Evicted": (WHITE, "#5f5f87", "evicted from its node (node pressure or API eviction)"),
    "Unknown": (WHITE, "#444444", "its node stopped answering (NodeLost)"),
}

#: kubectl's STATUS texts that share a chip with a closer relative
_SAME_AS = {
    "Succeeded": "Completed",
    "Failed": "Error",
    "ContainerStatusUnknown": "Unknown",
    "NodeLost": "Unknown",
    "RunContainerError": "CreateContainerError",
    "InvalidImageName": "ErrImagePull",
    "ErrImageNeverPull": "ErrImagePull",
    "ImageInspectError": "ErrImagePull",
    "RegistryUnavailable": "ErrImagePull",
    "PreCreateHookError": "CreateContainerError",
    "PostStartHookError": "CreateContainerError",
    "UnexpectedAdmissionError": "Error",
    "OutOfcpu": "Error",
    "OutOfmemory": "Error",
    "NodeAffinity": "Error",
    "DeadlineExceeded": "Error",
}

#: the DisruptionTarget condition's reason on a pod the taint eviction controller deleted
TAINT_EVICTION = "DeletionByTaintManager"

#: shown in the legend whatever the map holds; other states join it while a pod is in them
ALWAYS_IN_LEGEND = ("Pending", "ContainerCreating", "Running", "Ready", "Terminating", "CrashLoopBackOff")


def chip_state(pod: Obj, pulling: bool = False) -> str:
    """The chip (a key of ``CHIPS``) for a pod, from the STATUS column ``kubectl get pods`` prints.

    ``pulling``: its kubelet recorded ``Pulling`` and no ``Pulled``/``Failed`` since (``pulls_in_progress``):
    kubectl still says ContainerCreating, the map says why.

    >>> chip_state({"status": {"phase": "Pending", "containerStatuses": [
    ...     {"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}})
    'ImagePullBackOff'
    >>> chip_state({"status": {"phase": "Failed", "reason": "Evicted"}})
    'Evicted'
    >>> chip_state({"spec": {"initContainers": [{}]}, "status": {"phase": "Pending",
    ...     "initContainerStatuses": [{"state": {"running": {}}}]}})
    'Init'
    """
    status = pod.get("status") or {}
    reason = pod_status_reason(pod)
    if reason == "Pending" and any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
                                   for c in status.get("conditions") or []):
        reason = "SchedulingGated"  # printPod's own override (a gated pod is never bound)
    if reason == "ContainerCreating" and pulling:
        return "Pulling"
    if reason == "Running":
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        return "Ready" if ready else "Running"
    if reason.startswith("Init:"):
        return "Init"
    if reason.startswith(("ExitCode:", "Signal:")):
        return "Error"
    if reason == "Terminating" and any(c.get("type") == "DisruptionTarget" and c.get("reason") == TAINT_EVICTION
                                       for c in status.get("conditions") or []):
        # The taint eviction controller deleted it; on an unreachable node it stays Terminating
        # until that node's kubelet answers (kubectl still prints Terminating).
        return "Evicting"
    reason = _SAME_AS.get(reason, reason)
    if reason in CHIPS:
        return reason
    # A waiting reason this table does not know yet: a back-off is a back-off, anything else waits.
    return "CrashLoopBackOff" if reason.endswith("BackOff") else "Pending"


#: the kubelet's image events: Pulling starts a pull, the others end it
PULL_STARTED = "Pulling"
PULL_ENDED = frozenset(("Pulled", "Failed", "BackOff", "ErrImageNeverPull"))


class PullTracker:
    """Which pods wait on an image pull, from the kubelet's events (a pod's latest ``Pulling`` is newer
    than its latest ``Pulled``/``Failed``/``BackOff``; Event times have whole seconds, so a pull that
    ends within the second it began is not shown).

    >>> t = PullTracker()
    >>> ev = lambda reason, ts: {"involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
    ...                          "reason": reason, "lastTimestamp": ts}
    >>> t.seen(ev("Pulling", "2026-01-01T00:00:01Z")), "default/web" in t.pulling
    ('default/web', True)
    >>> t.seen(ev("Pulled", "2026-01-01T00:00:05Z")), "default/web" in t.pulling
    ('default/web', False)
    """

    def __init__(self) -> None:
        self._last: dict[str, list[str]] = {}      # pod key -> [latest Pulling, latest end]
        self.pulling: set[str] = set()

    def seen(self, ev: Obj) -> str | None:
        """Take one Event; the pod key whose pulling state changed, else None."""
        reason = ev.get("reason")
        if reason != PULL_STARTED and reason not in PULL_ENDED:
            return None
        obj = ev.get("involvedObject") or {}
        if obj.get("kind") != "Pod":
            return None
        key = f"{obj.get('namespace') or 'default'}/{obj.get('name')}"
        ts = ev.get("lastTimestamp") or ev.get("eventTime") or ""
        last = self._last.setdefault(key, ["", ""])
        i = 0 if reason == PULL_STARTED else 1
        if ts > last[i]:
            last[i] = ts
        now = last[0] > last[1]
        if now == (key in self.pulling):
            return None
        (self.pulling.add if now else self.pulling.discard)(key)
        return key


def chip_style(state: str) -> str:
    fg, bg, _ = CHIPS.get(state, CHIPS["Pending"])
    return f"{fg} on {bg}"


def chip_legend(present: set[str] | frozenset[str] = frozenset()) -> Text:
    """One entry per chip the map may show now: the usual states plus any state a pod is in."""
    text = Text()
    for state in CHIPS:
        if state in ALWAYS_IN_LEGEND or state in present:
            label = "Init:…" if state == "Init" else state
            text.append(f" {label} ", style=chip_style(state))
            text.append(" ")
    return text


# -- contrast (WCAG 2.x) -------------------------------------------------------------

def _channel(c: float) -> float:
    c /= 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG's relative luminance of an sRGB colour (0 black .. 1 white)."""
    r, g, b = (_channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio, 1..21; AA asks for 4.5 for text.

    >>> round(contrast_ratio((0, 0, 0), (255, 255, 255)), 1)
    21.0
    """
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
