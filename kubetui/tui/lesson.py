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
        # Checks look in the kubeconfig context's namespace: a user RBAC keeps in one namespace (a hosted
        # class's learner) may read nothing in "default", where a reset's settling checks would look.
        return LabEnv(backend.client, Path(state_dir), Path(kubeconfig or Path(state_dir) / "kubeconfig"),
                      provider_name="unknown", cluster_name=getattr(backend, "cluster_name", "default"),
                      namespace=getattr(backend, "namespace", None) or "default")


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
        #: a warning about the cluster the lesson starts on (objects it creates already exist), else ""
        self.notice = ""
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


#: what ``kubectl create <what> NAME`` makes
_CREATE = {"deployment": "deployments", "deploy": "deployments", "namespace": "namespaces", "ns": "namespaces",
           "configmap": "configmaps", "cm": "configmaps", "secret": "secrets", "job": "jobs",
           "cronjob": "cronjobs", "serviceaccount": "serviceaccounts", "sa": "serviceaccounts",
           "service": "services", "svc": "services", "quota": "resourcequotas", "role": "roles",
           "rolebinding": "rolebindings", "priorityclass": "priorityclasses", "pdb": "poddisruptionbudgets",
           "poddisruptionbudget": "poddisruptionbudgets", "ingress": "ingresses"}


def created_by_command(line: str) -> list[tuple[str, str, str | None]]:
    """(resource, name, namespace or None) a ``kubectl run|create|expose`` command line creates.

    >>> created_by_command("kubectl run hello --image=kubetui/hello:1")
    [('pods', 'hello', None)]
    >>> created_by_command("kubectl create deployment web --image=x --replicas=3")
    [('deployments', 'web', None)]
    >>> created_by_command("kubectl run client -n shop --image=busybox -- sleep 3600")
    [('pods', 'client', 'shop')]
    >>> created_by_command("kubectl expose deployment web --port=80 --target-port=8080")
    [('services', 'web', None)]
    >>> created_by_command("kubectl create secret generic db --from-literal=a=b")
    [('secrets', 'db', None)]
    """
    import shlex

    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    if "--" in words:
        words = words[:words.index("--")]
    if len(words) < 3 or words[0] != "kubectl":
        return []
    ns = None
    args: list[str] = []
    flags: dict[str, str] = {}
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("-n", "--namespace") and i + 1 < len(words):
            ns, i = words[i + 1], i + 2
            continue
        if w.startswith("--namespace="):
            ns = w.split("=", 1)[1]
        elif w.startswith("--") and "=" in w:
            key, _, value = w[2:].partition("=")
            flags[key] = value
        elif not w.startswith("-"):
            args.append(w)
        i += 1
    verb, rest = args[0], args[1:]
    if verb == "run" and rest:
        return [("pods", rest[0], ns)]
    if verb == "create" and len(rest) >= 2 and rest[0] in _CREATE:
        name = rest[2] if rest[0] == "secret" and len(rest) >= 3 else rest[1]
        return [(_CREATE[rest[0]], name, ns)]
    if verb == "expose" and rest:
        ref = rest[0].split("/", 1)
        name = flags.get("name") or (ref[1] if len(ref) == 2 else (rest[1] if len(rest) > 1 else ""))
        return [("services", name, ns)] if name else []
    return []


def lesson_objects(lesson: Lesson, namespace: str = "default") -> list[tuple[str, str, str | None]]:
    """(resource, name, namespace) of the objects a lesson creates: its setup's manifests, and what
    its steps' solutions create (``apply`` manifests, ``kubectl run|create|expose`` commands).

    >>> from kubetui.lessons.format import Action
    >>> s = Step("s", "t", "", 1, solution=[Action("shell", "kubectl run hello --image=kubetui/hello:1")])
    >>> lesson_objects(Lesson("l", "L", Path("."), [s]))
    [('pods', 'hello', 'default')]
    """
    import yaml

    out: list[tuple[str, str, str | None]] = []

    def add(resource: str, name: str, ns: str | None) -> None:
        try:
            res = resource_for(resource)
        except (KeyError, ValueError, StatusError):
            return
        if not name:
            return
        item = (res.plural, name, (ns or namespace) if res.namespaced else None)
        if item not in out:
            out.append(item)

    for action in list(lesson.setup) + [a for step in lesson.steps for a in step.solution]:
        if action.kind == "shell":
            for line in str(action.value).splitlines():
                for item in created_by_command(line.strip()):
                    add(*item)
            continue
        if action.kind != "apply":
            continue
        value = action.value
        try:
            if isinstance(value, (dict, list)):
                docs = value if isinstance(value, list) else [value]
            elif isinstance(value, str) and "\n" in value:
                docs = list(yaml.safe_load_all(value))
            else:
                docs = list(yaml.safe_load_all((lesson.dir / str(value)).read_text()))
        except (OSError, yaml.YAMLError) as e:
            log.debug("lesson %s: cannot read manifest %r: %s", lesson.id, value, e)
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") and isinstance(doc.get("metadata"), dict):
                add(str(doc["kind"]), str(doc["metadata"].get("name") or ""), doc["metadata"].get("namespace"))
    return out


async def leftovers(lesson: Lesson, client: Any, namespace: str = "default") -> list[str]:
    """The lesson's objects (``lesson_objects``) that already exist, as ``kind/name``: left from an
    earlier lesson or attempt, they let checks pass before the learner acts."""
    from kubetui.api.errors import NotFound

    found = []
    for resource, name, ns in lesson_objects(lesson, namespace):
        try:
            await client.get(resource, name, ns)
        except NotFound:
            continue
        except StatusError as e:
            log.debug("lesson %s: cannot look for %s/%s: %s", lesson.id, resource, name, e)
            continue
        found.append(f"{resource_for(resource).singular}/{name}" + (f" (namespace {ns})" if ns and ns != namespace
                                                                     else ""))
    return found


def leftovers_notice(found: list[str]) -> str:
    """The panel's warning for ``leftovers``, or "" when there are none."""
    if not found:
        return ""
    return (f"Already in the cluster before this lesson: {', '.join(found)}. Left from an earlier run? "
            "Checks may pass before you act, and the setup may change them. Delete them first "
            f"(kubectl delete {found[0].split(' ')[0]}) or start over on a fresh cluster.")
