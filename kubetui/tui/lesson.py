"""The TUI's side of a lesson: one learner's ``LessonRun`` plus what the panel shows about it.

No Kubernetes counterpart: this is the lessons engine (``kubetui.lessons``)
seen from the screen. ``LessonSession`` holds the run and the few things the
engine does not keep (the live check outcome, the last "hint not yet" note, a
hot-reload error); everything a learner does still goes through the engine, so
``kubetui lessons`` shows the same progress as the TUI.

It also answers "what is this step about?" for the cluster map:
``focus_targets`` turns the engine's ``step_focus(step)`` (resource, name or
selector) into the pods and nodes to highlight, following a Deployment's or a
Service's selector to its pods the way the controllers do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from kubetui.api.errors import StatusError
from kubetui.api.resources import resource_for
from kubetui.api.selectors import label_selector_from_dict, parse_label_selector, selector_from_set
from kubetui.lessons import (ActionError, CheckOutcome, LabEnv, Lesson, LessonError, LessonLibrary, LessonRun,
                             Step, step_focus)

log = logging.getLogger(__name__)
Obj = dict[str, Any]

#: Resources whose objects select pods by labels (``spec.selector``), so focusing one highlights its pods.
SELECTING = ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "services")


@dataclass
class FocusTargets:
    """What the cluster map highlights for a step: pod keys (``ns/name``) and node names."""

    pods: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.pods or self.nodes)


def plural(resource: str) -> str:
    """``deploy`` / ``Deployment`` / ``deployments`` -> ``deployments`` (unknown names stay as written)."""
    try:
        return resource_for(resource).plural
    except (KeyError, ValueError, StatusError):
        return resource


def _pod_selector(obj: Obj | None) -> Any:
    """The label selector an object uses for its pods (a Service's is a plain map), or None."""
    if not obj:
        return None
    sel = obj.get("spec", {}).get("selector")
    if not sel:
        return None
    if obj.get("kind") == "Service" or not ({"matchLabels", "matchExpressions"} & set(sel)):
        return selector_from_set(sel)
    return label_selector_from_dict(sel)


def focus_targets(focus: list[tuple[str, str]], objects: Callable[[str], Mapping[str, Obj]],
                  namespace: str = "default") -> FocusTargets:
    """Pods and nodes a step is about, from ``step_focus`` and the TUI's caches.

    ``("pods", "app=web")`` selects pods by label, ``("pods", "hello")`` names
    one, ``("nodes", "node-3")`` a node, ``("deployments", "web")`` (or a
    Service) the pods its selector matches.

    >>> pods = {"default/web-1": {"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}}}}
    >>> t = focus_targets([("pods", "app=web"), ("nodes", "node-3")], lambda r: pods if r == "pods" else {})
    >>> sorted(t.pods), sorted(t.nodes)
    (['default/web-1'], ['node-3'])
    """
    out = FocusTargets()
    pods = objects("pods")
    for resource, ref in focus:
        res = plural(resource)
        if res == "nodes":
            if "=" in ref or not ref:
                sel = parse_label_selector(ref)
                out.nodes |= {k for k, n in objects("nodes").items()
                              if sel.matches(n.get("metadata", {}).get("labels") or {})}
            else:
                out.nodes.add(ref)
            continue
        if res == "pods":
            if not ref or "=" in ref or "," in ref:
                sel = parse_label_selector(ref) if ref else None
                out.pods |= {k for k, p in pods.items() if p.get("metadata", {}).get("namespace") == namespace
                             and (sel is None or sel.matches(p.get("metadata", {}).get("labels") or {}))}
            else:
                out.pods.add(f"{namespace}/{ref}")
            continue
        if res in SELECTING:
            if "=" in ref:  # a selector over the controllers themselves: their pods carry the same labels
                sel = parse_label_selector(ref)
            else:
                sel = _pod_selector(objects(res).get(f"{namespace}/{ref}"))
            if sel is not None:
                out.pods |= {k for k, p in pods.items() if p.get("metadata", {}).get("namespace") == namespace
                             and sel.matches(p.get("metadata", {}).get("labels") or {})}
    return out


def watched_resources(step: Step | None) -> set[str]:
    """The resources whose changes can change a step's checks (what the live re-evaluation listens to).

    >>> from kubetui.lessons.format import Check
    >>> s = Step("s", "t", "", 1, checks=[Check("endpoints", {"service": "web"}, "x"), Check("event", {"reason": "R"}, "x")])
    >>> sorted(watched_resources(s))
    ['endpointslices', 'events', 'pods', 'services']
    """
    out = {"pods"}
    for c in step.checks if step else []:
        if c.kind in ("exists", "field", "count"):
            out.add(plural(str(c.spec.get("resource", ""))))
        elif c.kind == "endpoints":
            out |= {"services", "endpointslices"}
        elif c.kind == "event":
            out.add("events")
    return {r for r in out if r}


def lab_env(backend: Any) -> LabEnv:
    """The lessons engine's view of the cluster the TUI shows: its client and state directory."""
    state_dir = getattr(backend, "state_dir", None)
    kubeconfig = getattr(backend, "kubeconfig_path", None)
    if state_dir is None and kubeconfig is not None:
        state_dir = Path(kubeconfig).parent
    if state_dir is None:
        raise ActionError("this cluster has no state directory to keep lesson progress in")
    try:
        return LabEnv.from_state_dir(Path(state_dir), client=backend.client)
    except ActionError:
        # A cluster started by other means: still usable, its provider unknown (no provider checks).
        return LabEnv(backend.client, Path(state_dir), Path(kubeconfig or Path(state_dir) / "kubeconfig"),
                      provider_name="unknown", cluster_name=getattr(backend, "cluster_name", "default"))


class LessonSession:
    """The lesson the TUI is running, and what its panel shows beyond the engine's own record."""

    def __init__(self, library: LessonLibrary, run: LessonRun) -> None:
        self.library = library
        self.run = run
        #: the newest live evaluation of the current step (None: not evaluated yet)
        self.outcome: CheckOutcome | None = None
        #: "the next hint unlocks in 40s …" after a hint request that was too early
        self.hint_note = ""
        #: the current lesson file's parse error after a hot reload (``path:line: message``), else ""
        self.reload_error = ""
        #: a failure to show (setup failed, a solution failed), else ""
        self.error = ""
        #: what is going on right now ("running setup…"), else ""
        self.busy = ""
        #: the choice the learner picked per step id (the engine records only right/wrong)
        self.choices: dict[str, int] = {}
        #: bumps on every change; panels redraw when it moved
        self.version = 0

    @property
    def lesson(self) -> Lesson:
        return self.run.lesson

    @property
    def step(self) -> Step:
        return self.run.step

    def changed(self) -> None:
        self.version += 1

    # -- what the panel asks ---------------------------------------------------------------

    def prediction(self) -> tuple[int | None, bool | None]:
        """(choice picked in this session or None, right/wrong as the engine recorded it or None)."""
        rec = self.run.record.step(self.step.id)
        return self.choices.get(self.step.id), rec.prediction_correct

    def hints_shown(self) -> list[str]:
        """The hints of this step the learner has already unlocked (replayed from the event log)."""
        n = self.run.record.step(self.step.id).hints
        return [h.text for h in self.step.hints[:n]]

    def focus(self) -> list[tuple[str, str]]:
        return step_focus(self.step)

    # -- what the learner does (each goes through the engine) ---------------------------------

    def answer(self, choice: int) -> tuple[bool, str]:
        correct, explain = self.run.answer(choice)
        self.choices[self.step.id] = choice
        self.changed()
        return correct, explain

    def hint(self) -> str | None:
        h = self.run.hint()
        self.hint_note = "" if h.text else h.waiting
        self.changed()
        return h.text

    async def evaluate(self, *, record: bool) -> CheckOutcome | None:
        """Evaluate the current step; the outcome is kept only if the learner is still on that step."""
        index, lesson = self.run.index, self.run.lesson
        out = await self.run.evaluate(record=record, index=index)
        if self.run.index != index or self.run.lesson is not lesson:
            return None
        self.outcome = out
        self.changed()
        return out

    async def goto(self, index: int) -> None:
        await self.run.goto(index)
        self.outcome = None
        self.hint_note = ""
        self.error = ""
        self.changed()

    def replace_lesson(self, lesson: Lesson) -> None:
        """A hot reload parsed the lesson anew: keep the learner's place (the same step id if it still exists)."""
        old_id = self.step.id
        self.run.lesson = lesson
        ids = [s.id for s in lesson.steps]
        self.run.index = ids.index(old_id) if old_id in ids else min(self.run.index, len(ids) - 1)
        self.reload_error = ""
        self.outcome = None
        self.changed()


def load_library(root: Path) -> LessonLibrary:
    return LessonLibrary.load(root)


def find_lesson(library: LessonLibrary, ref: str) -> Lesson:
    """A lesson by id, folder or number; ``LookupError`` with a one-line reason otherwise."""
    try:
        return library.get(ref)
    except LessonError as e:
        raise LookupError(str(e)) from None
    except KeyError as e:
        raise LookupError(str(e).strip("'\"")) from None
