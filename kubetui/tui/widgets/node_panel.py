"""A node on the cluster map: its Ready state, capacity bars and its pods as chips.

Each pod is one coloured chip in a single rendered text (not one widget per
pod), so 50 nodes with 1,000 pods stay cheap to draw. Chips are clickable
(``@click`` meta) and a chip or node that just changed flashes briefly so a
learner sees the change happen.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from kubetui.tui.capacity import (NodeAllocation, counts_against_node, format_bytes, format_cpu, node_allocation,
                                  pod_requests)
from kubetui.tui.chips import chip_state, chip_style
from kubetui.tui.printers import node_ready
from kubetui.tui.widgets.bars import bar, pressure_style

Obj = dict[str, Any]

FLASH_SECONDS = 1.2
BAR_WIDTH = 12
#: pod names are shortened to no less than this (and only when the panel is too narrow for them)
CHIP_LABEL_MIN = 14


#: a Deployment's pod: ``<deployment>-<pod-template-hash>-<random suffix>``
_GENERATED = re.compile(r"^(?P<base>.+-)(?P<hash>[a-z0-9]{5,10})-(?P<suffix>[a-z0-9]{5})$")


def chip_label(pod: Obj, width: int = 14) -> str:
    """A short pod name that still says whose pod it is and which replica.

    A Deployment's pod keeps its Deployment's name and drops the template hash
    (the same for every replica); other long names keep their end.

    >>> [chip_label({"metadata": {"name": n}}) for n in ("hello", "web-5f77454d7-mck92",
    ...  "hostnames-5f77454d7-mck92", "a-very-long-pod-name-1")]
    ['hello', 'web-…mck92', 'hostname…mck92', '…ng-pod-name-1']
    """
    name = pod.get("metadata", {}).get("name", "")
    if len(name) <= width:
        return name
    m = _GENERATED.match(name)
    if m:
        tail = "…" + m["suffix"]
        return m["base"][: width - len(tail)] + tail
    return "…" + name[-(width - 1):]


def chip_label_with_hash(pod: Obj, pod_hash: str, width: int = 14) -> str:
    """During a rollout the template hash is what tells a pod's ReplicaSet: keep it, shorten the suffix.

    >>> chip_label_with_hash({"metadata": {"name": "web-5f77454d7-mck92"}}, "5f77454d7")
    'web-5f774…k92'
    """
    name = pod.get("metadata", {}).get("name", "")
    m = _GENERATED.match(name)
    if not m:
        return chip_label(pod, width)
    tail = "…" + m["suffix"][-3:]
    return (m["base"] + pod_hash[:5])[: width - len(tail)] + tail


def chip_order(pod: Obj) -> tuple[int, str, str, int, str]:
    """Where a pod's chip sits: grouped under its controller, in index order.

    A DaemonSet's pod comes first on every node, so its chips line up as one
    row across the map (one per node); a StatefulSet's pods follow their
    ordinals (``web-2`` before ``web-10``), a Job's its completion indexes.

    >>> sorted(["b", "a"], key=lambda n: chip_order({"metadata": {"name": n}}))
    ['a', 'b']
    >>> def sts(n): return {"metadata": {"name": f"web-{n}", "labels": {"apps.kubernetes.io/pod-index": str(n)},
    ...     "ownerReferences": [{"kind": "StatefulSet", "name": "web", "controller": True}]}}
    >>> ds = {"metadata": {"name": "zz-agent-x", "ownerReferences": [{"kind": "DaemonSet", "name": "zz",
    ...     "controller": True}]}}
    >>> [p["metadata"]["name"] for p in sorted([sts(10), sts(2), ds], key=chip_order)]
    ['zz-agent-x', 'web-2', 'web-10']
    """
    md = pod.get("metadata", {})
    ref = next((r for r in md.get("ownerReferences") or [] if r.get("controller")), {})
    raw = ((md.get("annotations") or {}).get("batch.kubernetes.io/job-completion-index")
           or (md.get("labels") or {}).get("apps.kubernetes.io/pod-index") or -1)
    try:
        index = int(raw)
    except ValueError:
        index = -1
    kind = ref.get("kind", "")
    return (0 if kind == "DaemonSet" else 1, kind, ref.get("name", ""), index, md.get("name", ""))


class NodePanel(Static):
    """One node: title, CPU/memory/pods bars (requested vs allocatable, live usage) and pod chips.

    | Mouse | Action |
    | :- | :- |
    | click a chip | select that pod |
    """

    DEFAULT_CSS = """
    NodePanel { height: auto; min-height: 7; border: round $success; padding: 0 1; }
    NodePanel.-lesson-focus { border: heavy $accent; }
    NodePanel.-notready { border: round $error; }
    NodePanel.-lesson-focus.-notready { border: heavy $error; }
    NodePanel.-flash { border: double $warning; }
    """

    selected_pod: reactive[str | None] = reactive(None)
    """Key (``ns/name``) of the pod highlighted on the map, if it is on this node."""

    class PodClicked(Message):
        """A pod chip was clicked."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, node: Obj | None, *, node_name: str, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        # Chips carry ``@click`` meta but keep their own colours: Textual's link style (the
        # theme's link colour, underlined) drew light grey text on a bright green chip.
        self.auto_links = False
        self.node = node
        self.node_name = node_name
        self.pods: dict[str, Obj] = {}
        self.usage: dict[str, float] = {}
        self._flash_until: dict[str, float] = {}
        self._drawn_count = -1
        self._allocation: NodeAllocation | None = None
        #: per pod: (the pod object it was computed from, its chip state, its place); the bridge
        #: replaces a pod's object on every event, so identity says whether to recompute
        self._chip_info: dict[str, tuple[Obj, str, tuple[Any, ...], tuple[int, int] | None]] = {}
        #: keys of pods waiting on an image pull (the map's ``PullTracker`` shares its set)
        self.pulling: set[str] = set()
        #: what the last render() drew (see _plan): a change that draws the same skips the repaint
        self._drawn_plan: tuple[Any, ...] | None = None
        #: pods the current lesson step is about (drawn with a ▸ marker)
        self.lesson_pods: set[str] = set()
        #: mid-rollout, a pod's ReplicaSet: key -> (● new / ○ old, pod-template-hash) (``tui.rollout``)
        self.rs_marks: dict[str, tuple[str, str]] = {}

    def set_rs_marks(self, marks: dict[str, tuple[str, str]]) -> None:
        """Mark pods by ReplicaSet (old vs new) while their Deployment rolls out; redraw if that changed."""
        if marks != self.rs_marks:
            self.rs_marks = marks
            self.refresh()

    def set_lesson_focus(self, pods: set[str], node: bool) -> None:
        """Highlight what the lesson step is about: this node (``-lesson-focus``) and/or some of its pods."""
        mine = {k for k in pods if k in self.pods}
        self.set_class(node or bool(mine), "-lesson-focus")
        if mine != self.lesson_pods:
            self.lesson_pods = mine
            self.refresh()

    @property
    def allocation(self) -> NodeAllocation:
        """Requests vs allocatable, recomputed only after the node or its pods changed."""
        if self._allocation is None:
            node = self.node or {}
            alloc = node.get("status", {}).get("allocatable") or node.get("status", {}).get("capacity") or {}
            # node_allocation's sums, from each pod's requests as computed when its object arrived
            cpu = mem = n = 0
            for key in self.pods:
                requests = self._chip_info_for(key)[3]
                if requests is not None:
                    cpu, mem, n = cpu + requests[0], mem + requests[1], n + 1
            empty = node_allocation({"status": {"allocatable": alloc}}, ())
            self._allocation = NodeAllocation(cpu, empty.cpu_allocatable, mem, empty.memory_allocatable,
                                              n, empty.pods_allocatable)
        return self._allocation

    @property
    def ready_state(self) -> str:
        if self.node:
            return node_ready(self.node)
        # no Node object: the unscheduled pods' panel, or a node this user may not read (RBAC)
        return "Unscheduled" if self.node_name == "(unscheduled)" else "Unknown"

    @staticmethod
    def _node_signature(node: Obj | None) -> tuple[Any, ...]:
        """What the panel draws of a node: heartbeats alone change nothing on screen."""
        if node is None:
            return ()
        st = node.get("status", {})
        return (node_ready(node), repr(st.get("allocatable") or st.get("capacity")))

    def set_node(self, node: Obj | None, *, flash: bool = False) -> None:
        before = self.ready_state
        unchanged = self.is_mounted and self._node_signature(node) == self._node_signature(self.node)
        self.node = node
        self._allocation = None
        if unchanged:
            return
        if self.is_mounted:
            self._update_titles()
        self.set_class(self.ready_state.split(",")[0] not in ("Ready", "Unscheduled", "Unknown"), "-notready")
        if flash and self.ready_state != before:
            self.flash_panel()
        self.refresh(layout=True)

    def set_pods(self, pods: dict[str, Obj], changed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        # Only a different number of chips can change the panel's height (a full layout pass);
        # a pod changing state only repaints this panel.
        relayout = len(pods) != self._drawn_count
        self._drawn_count = len(pods)
        self.pods = pods
        self._allocation = None
        if self.app.animation_level == "none":
            changed = set()
        now = time.monotonic()  # animation is screen time, not cluster time
        for key in changed:
            if key in pods:
                self._flash_until[key] = now + FLASH_SECONDS
        if changed:
            self.set_timer(FLASH_SECONDS, self._end_flash)
        # Most watch events change nothing a chip shows (an annotation, a heartbeat-like status
        # write): the panel then keeps its drawing instead of re-rendering every chip.
        if relayout or self._drawn_plan is None or self._plan() != self._drawn_plan:
            self.refresh(layout=relayout)

    def flash_panel(self) -> None:
        if self.app.animation_level == "none":
            return
        self.add_class("-flash")
        self.set_timer(FLASH_SECONDS, lambda: self.remove_class("-flash"))

    def _end_flash(self) -> None:
        now = time.monotonic()
        self._flash_until = {k: t for k, t in self._flash_until.items() if t > now}
        self.refresh()

    def _bar_line(self, label: str, used: int, total: int, shown: str) -> Text:
        frac = NodeAllocation.fraction(used, total)
        line = Text(f"{label:<4} ")
        line.append_text(bar(frac, BAR_WIDTH, pressure_style(frac)))
        line.append(f" {shown}")
        return line

    def _update_titles(self) -> None:
        # Border titles are reactive: set them only when they change (never from render()).
        if self.border_title != self.node_name:
            self.border_title = self.node_name
        if self.border_subtitle != self.ready_state:
            self.border_subtitle = self.ready_state

    def on_mount(self) -> None:
        self._update_titles()

    def _chip_info_for(self, key: str) -> tuple[Obj, str, tuple[Any, ...], tuple[int, int] | None]:
        """A pod's chip state, place and requests, recomputed only when the bridge replaced its object."""
        pod = self.pods[key]
        info = self._chip_info.get(key)
        pulling = key in self.pulling
        if info is None or info[0] is not pod or (info[1] == "Pulling") != pulling:
            info = (pod, chip_state(pod, pulling), chip_order(pod),
                    pod_requests(pod) if counts_against_node(pod) else None)
            self._chip_info[key] = info
        return info

    def _plan(self) -> tuple[Any, ...]:
        """Everything render() draws, as plain data: equal plans draw equal panels."""
        if len(self._chip_info) > len(self.pods):  # pods gone from this node
            self._chip_info = {k: v for k, v in self._chip_info.items() if k in self.pods}
        header: tuple[Any, ...] = ()
        if self.node is not None:
            a = self.allocation
            header = (a.cpu_requested, a.cpu_allocatable, a.memory_requested, a.memory_allocatable,
                      a.pods, a.pods_allocatable, tuple(sorted(self.usage.items())))
        now = time.monotonic()
        # A chip is " name " plus a marker and a gap: names as long as the panel allows stay whole.
        label_width = max(CHIP_LABEL_MIN, self.size.width - 4)
        infos = sorted((self._chip_info_for(key) + (key,) for key in self.pods), key=lambda i: i[2])
        selected, flash, lesson, marks = self.selected_pod, self._flash_until, self.lesson_pods, self.rs_marks
        drawn = tuple((key, state, flash.get(key, 0) > now, key == selected, key in lesson,
                       (marks[key][0] + chip_label_with_hash(pod, marks[key][1], label_width - 1)) if key in marks
                       else chip_label(pod, label_width)) for pod, state, _, _, key in infos)
        return header, drawn

    def render(self) -> Text:
        plan = self._plan()
        self._drawn_plan = plan
        header, chips = plan
        out = Text()
        if header:
            cpu_req, cpu_alloc, mem_req, mem_alloc, pods, pods_alloc, _ = header
            out.append_text(self._bar_line("cpu", cpu_req, cpu_alloc, f"{format_cpu(cpu_req)}/{format_cpu(cpu_alloc)}"))
            out.append("\n")
            out.append_text(self._bar_line("mem", mem_req, mem_alloc,
                                           f"{format_bytes(mem_req)}/{format_bytes(mem_alloc)}"))
            out.append("\n")
            out.append_text(self._bar_line("pods", pods, pods_alloc, f"{pods}/{pods_alloc}"))
            if self.usage:
                cpu = self.usage.get("cpu", 0.0)
                out.append(f"\nuse  cpu {cpu:.0%} mem {self.usage.get('memory', 0.0):.0%}", style="italic")
            out.append("\n")
        for key, state, flashing, selected, lesson, label in chips:
            style = Style.parse(chip_style(state))
            if flashing:
                style += Style(bold=True, underline=True)
            if selected:
                style += Style(reverse=True, bold=True)
            style += Style(meta={"@click": f"click_pod({key!r})"})
            marker = "▸" if lesson else " "
            out.append(f"{marker}{label} ", style=style)
            out.append(" ")
        if not chips:
            out.append("no pods", style="dim")
        return out

    def watch_selected_pod(self) -> None:
        self.refresh()

    def action_click_pod(self, key: str) -> None:
        self.post_message(self.PodClicked(key))
