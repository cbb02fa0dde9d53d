"""The lesson file format: ``lessons/NN-slug/lesson.md`` parsed into a ``Lesson``.

Upstream has no counterpart; the format learns from Killercoda's
``index.json``, O'Reilly/Katacoda challenges (hints chosen by the failing
sub-check) and Instruqt's ``assignment.md`` (front matter, setup/check/solve/
cleanup). A teacher writes Markdown, never Python:

- YAML front matter between ``---`` lines: ``id``, ``title``, ``minutes``,
  ``features``, ``requires`` (capabilities: ``docker``, ``pods``), ``builds_on``
  (earlier lessons), ``cluster`` (``provider``, ``nodes``, ``scheduler_profile``, and the control
  plane's shape: ``control_planes``, ``store``),
  ``scope`` (``namespace``, the default: the lesson works in one namespace and
  can share a cluster, as in a hosted class; ``cluster``: it touches nodes or
  cluster-scoped objects and needs a whole cluster, so a hosted class gives
  each learner a private one for it),
  ``setup``/``cleanup`` (actions), ``scoring``;
- a Markdown body where each ``## Title {#step-id}`` heading starts a step;
- inside a step, fenced blocks hold the machine-readable parts::

      ```predict        question, choices, answer (0-based), explain
      ```check          a list of checks, each one kind plus ``fail:`` (the message)
      ```hint           {after: 60s, after_failures: 1, text: ...} or a list of them
      ```solution       shell lines, or a YAML list of actions (apply/shell/fault/wait)

Every error is a ``LessonError(file, line, message)`` whose ``str()`` is one
line, ``lessons/03-deployments/lesson.md:42: check 2: unknown kind 'exist'``,
so an editor, the CLI and the TUI can all point at the exact line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Check kinds (see ``kubetui.lessons.checks`` for what each tests).
CHECK_KINDS = ("exists", "field", "count", "endpoints", "http", "dns", "event", "shell")
#: Action kinds in setup, cleanup and solution blocks.
ACTION_KINDS = ("apply", "shell", "fault", "wait", "delete")
PROVIDERS = ("any", "simulated", "local", "docker")
#: Store backends a lesson may ask for (``any``: either).
STORES = ("any", "tinydb", "etcd")
#: ``scope:`` values: one namespace of a shared cluster is enough, or a whole cluster is needed
SCOPES = ("namespace", "cluster")
#: Capabilities a lesson may require of the cluster.
CAPABILITIES = ("docker", "pods", "dns")
MACHINE_BLOCKS = ("predict", "check", "hint", "solution")

# Required keys per check kind, checked at parse time so a typo names its line.
_CHECK_REQUIRED: dict[str, tuple[str, ...]] = {
    "exists": ("resource", "name"),
    "field": ("resource", "name", "path"),
    "count": ("resource",),
    "endpoints": ("service",),
    "http": ("from", "url"),
    "dns": ("from", "name"),
    "event": ("reason",),
    "shell": ("run",),
}
_FRONT_KEYS = {"id", "title", "minutes", "features", "requires", "builds_on", "cluster", "setup",
               "cleanup", "scoring", "summary", "version", "maps_to", "api", "scope"}
_HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*(?:\{#(?P<id>[A-Za-z0-9_-]+)\})?\s*$")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w-]*)")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


class LessonError(Exception):
    """A lesson file that cannot be used, with the line to look at."""

    def __init__(self, file: str | Path, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = str(file)
        self.line = line
        self.message = message


@dataclass
class Action:
    """One setup/cleanup/solution action: ``apply`` manifests, ``shell``, ``fault``, ``wait``, ``delete``."""

    kind: str
    value: Any
    line: int = 0

    def describe(self) -> str:
        if self.kind == "shell":
            return str(self.value).strip()
        if self.kind == "fault":
            v = self.value
            return f"kubetui fault inject {v.get('name')}" + (f" --target {v['target']}" if v.get("target") else "")
        return f"{self.kind}: {self.value}"


@dataclass
class Predict:
    """Predict → observe → explain: asked before the step's action."""

    question: str
    choices: list[str]
    answer: int
    explain: str = ""
    line: int = 0


@dataclass
class Check:
    """One declarative check; ``fail`` is what the learner reads when it is the first to fail."""

    kind: str
    spec: dict[str, Any]
    fail: str
    line: int = 0
    id: str = ""
    timeout: float | None = None

    def describe(self) -> str:
        """A short label, e.g. ``count pods app=web`` (for ✓/✗ lists and JUnit)."""
        s = self.spec
        if self.kind in ("exists", "field"):
            what = f"{s.get('resource')}/{s.get('name')}"
            return f"{self.kind} {what}" + (f" {s['path']}" if self.kind == "field" else "")
        if self.kind == "count":
            return f"count {s.get('resource')}" + (f" {s['selector']}" if s.get("selector") else "")
        if self.kind == "endpoints":
            return f"endpoints {s.get('service')}"
        if self.kind == "http":
            return f"http {s.get('url')} from {s.get('from')}"
        if self.kind == "dns":
            return f"dns {s.get('name')} from {s.get('from')}"
        if self.kind == "event":
            return f"event {s.get('reason')}"
        return f"shell {str(s.get('run', '')).strip().splitlines()[0] if s.get('run') else ''}"


@dataclass
class Hint:
    text: str
    after_seconds: float | None = None
    after_failures: int | None = None
    line: int = 0


@dataclass
class Step:
    id: str
    title: str
    body: str                      # Markdown with the machine blocks taken out
    line: int
    predict: Predict | None = None
    checks: list[Check] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)
    solution: list[Action] = field(default_factory=list)
    solution_text: str = ""        # the solution block as written (shown on "show solution")


@dataclass
class ClusterNeeds:
    provider: str = "any"
    nodes: int = 3
    scheduler_profile: str | None = None
    #: control-plane nodes (``kubetui up --control-planes N``; more than one needs the etcd store)
    control_planes: int = 1
    #: the store backend the lesson works on (``kubetui up --store etcd``: etcdctl, snapshots)
    store: str = "any"

    @property
    def out_of_process(self) -> bool:
        """The lesson acts on the control plane from outside (etcd members, control-plane processes,
        a snapshot restore that stops and starts it), so it needs a control plane in its own process."""
        return self.control_planes > 1 or self.store == "etcd"


@dataclass
class Scoring:
    step: int = 10
    hint_penalty: int = 2
    solution_penalty: int = 10
    predict_bonus: int = 2


@dataclass
class Lesson:
    id: str
    title: str
    path: Path
    steps: list[Step]
    intro: str = ""
    minutes: int | None = None
    features: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    builds_on: list[str] = field(default_factory=list)
    cluster: ClusterNeeds = field(default_factory=ClusterNeeds)
    setup: list[Action] = field(default_factory=list)
    cleanup: list[Action] = field(default_factory=list)
    scoring: Scoring = field(default_factory=Scoring)
    summary: str = ""
    #: ``namespace`` (shareable) or ``cluster`` (needs a whole cluster; see the module docstring)
    scope: str = "namespace"

    @property
    def dir(self) -> Path:
        return self.path.parent

    def step_index(self, ref: str | int) -> int:
        """A step by 1-based number or id (``ValueError`` otherwise)."""
        if isinstance(ref, int) or str(ref).isdigit():
            i = int(ref) - 1
            if 0 <= i < len(self.steps):
                return i
            raise ValueError(f"lesson {self.id} has steps 1..{len(self.steps)}, not {ref}")
        for i, s in enumerate(self.steps):
            if s.id == ref:
                return i
        raise ValueError(f"lesson {self.id} has no step {ref!r} (steps: {', '.join(s.id for s in self.steps)})")


def parse_duration(value: Any) -> float:
    """``90`` / ``"90s"`` / ``"2m"`` / ``"500ms"`` → seconds.

    >>> parse_duration("2m"), parse_duration(5), parse_duration("500ms")
    (120.0, 5.0, 0.5)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 2m)")
    n, unit = float(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def slugify(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s or "step"


# --- parsing ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(self, line: int, message: str) -> LessonError:
        return LessonError(self.path, line, message)

    def yaml_at(self, text: str, first_line: int, what: str) -> Any:
        """YAML whose first line is file line ``first_line``; errors point at the file's line."""
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = first_line + (mark.line if mark is not None else 0)
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            if "mapping values are not allowed" in problem:
                problem += " (text containing ': ' must be put in quotes)"
            raise self.error(line, f"{what}: invalid YAML: {problem}") from None

    def parse(self) -> Lesson:
        if not self.lines or self.lines[0].strip() != "---":
            raise self.error(1, "a lesson starts with YAML front matter between '---' lines")
        try:
            end = next(i for i in range(1, len(self.lines)) if self.lines[i].strip() == "---")
        except StopIteration:
            raise self.error(1, "front matter is not closed by a '---' line") from None
        front = self.yaml_at("\n".join(self.lines[1:end]), 2, "front matter") or {}
        if not isinstance(front, dict):
            raise self.error(2, "front matter must be a mapping (key: value)")
        lesson = self.front_matter(front, end + 1)
        self.body(lesson, end + 1)
        return lesson

    def key_line(self, key: str, default: int) -> int:
        """The line where a front matter key is written (for errors)."""
        for i, text in enumerate(self.lines[: default], start=1):
            if re.match(rf"^{re.escape(key)}\s*:", text):
                return i
        return default

    def front_matter(self, fm: dict[str, Any], end_line: int) -> Lesson:
        for key in fm:
            if key not in _FRONT_KEYS:
                raise self.error(self.key_line(str(key), end_line),
                                 f"unknown front matter key {key!r} (known: {', '.join(sorted(_FRONT_KEYS))})")
        for key in ("id", "title"):
            if not fm.get(key):
                raise self.error(2, f"front matter needs {key!r}")
        lesson = Lesson(id=str(fm["id"]), title=str(fm["title"]), path=self.path, steps=[],
                        summary=str(fm.get("summary") or ""))
        if fm.get("minutes") is not None:
            if not isinstance(fm["minutes"], int):
                raise self.error(self.key_line("minutes", end_line), "minutes must be a whole number")
            lesson.minutes = fm["minutes"]
        for key in ("features", "requires", "builds_on"):
            v = fm.get(key) or []
            if not isinstance(v, list):
                raise self.error(self.key_line(key, end_line), f"{key} must be a list, e.g. [{key[:-1]}-a]")
            setattr(lesson, key, [str(x) for x in v])
        for cap in lesson.requires:
            if cap not in CAPABILITIES:
                raise self.error(self.key_line("requires", end_line),
                                 f"requires: unknown capability {cap!r} (known: {', '.join(CAPABILITIES)})")
        lesson.cluster = self.cluster(fm.get("cluster") or {}, self.key_line("cluster", end_line))
        lesson.scope = str(fm.get("scope") or "namespace")
        if lesson.scope not in SCOPES:
            raise self.error(self.key_line("scope", end_line),
                             f"scope must be one of {', '.join(SCOPES)}, not {lesson.scope!r}")
        for key in ("setup", "cleanup"):
            line = self.key_line(key, end_line)
            raw = fm.get(key) or []
            if not isinstance(raw, list):
                raise self.error(line, f"{key} must be a list of actions (- apply: …, - shell: …, - fault: …)")
            setattr(lesson, key, [self.action(a, line, key) for a in raw])
        sc = fm.get("scoring") or {}
        if not isinstance(sc, dict) or any(k not in Scoring.__dataclass_fields__ for k in sc):
            raise self.error(self.key_line("scoring", end_line),
                             f"scoring takes {', '.join(Scoring.__dataclass_fields__)}")
        lesson.scoring = Scoring(**{k: int(v) for k, v in sc.items()})
        return lesson

    def cluster(self, raw: Any, line: int) -> ClusterNeeds:
        if not isinstance(raw, dict):
            raise self.error(line, "cluster must be a mapping, e.g. {provider: simulated, nodes: 3}")
        known = ("provider", "nodes", "scheduler_profile", "control_planes", "store")
        unknown = set(raw) - set(known)
        if unknown:
            raise self.error(line, f"cluster: unknown key {sorted(unknown)[0]!r} (known: {', '.join(known)})")
        needs = ClusterNeeds(provider=str(raw.get("provider", "any")), nodes=raw.get("nodes", 3),
                             scheduler_profile=raw.get("scheduler_profile"),
                             control_planes=raw.get("control_planes", 1), store=str(raw.get("store", "any")))
        if needs.provider not in PROVIDERS:
            raise self.error(line, f"cluster.provider must be one of {', '.join(PROVIDERS)}, not {needs.provider!r}")
        if not isinstance(needs.nodes, int) or needs.nodes < 1:
            raise self.error(line, "cluster.nodes must be a positive whole number")
        if needs.store not in STORES:
            raise self.error(line, f"cluster.store must be one of {', '.join(STORES)}, not {needs.store!r}")
        cps = needs.control_planes
        if not isinstance(cps, int) or isinstance(cps, bool) or cps < 1:
            raise self.error(line, "cluster.control_planes must be a positive whole number")
        if cps > 1 and needs.store != "etcd":
            # kubetui up refuses the same: several API servers share one store only through etcd
            raise self.error(line, "cluster.control_planes > 1 needs store: etcd (the members of one etcd "
                                   "cluster are what the control planes share)")
        if cps > 1 and needs.provider not in ("any", "local"):
            raise self.error(line, "cluster.control_planes > 1 runs on the local provider only "
                                   "(provider: local or any)")
        return needs

    def action(self, raw: Any, line: int, where: str) -> Action:
        if isinstance(raw, dict) and len(raw) == 1:
            (kind, value), = raw.items()
            if kind in ACTION_KINDS:
                if kind == "fault":
                    if isinstance(value, str):
                        value = {"name": value}
                    if not isinstance(value, dict) or not (value.get("name") or value.get("revert")):
                        raise self.error(line, f"{where}: fault needs a name, e.g. fault: {{name: node-pause}}, "
                                               "or what to revert: fault: {{revert: node-pause}} (or all)")
                if kind == "wait":
                    value = self.check(value, line, f"{where}: wait")
                return Action(kind, value, line)
        raise self.error(line, f"{where}: each action is one of {', '.join(ACTION_KINDS)} "
                               f"(e.g. - shell: kubectl get pods), got {raw!r}")

    def check(self, raw: Any, line: int, where: str) -> Check:
        if not isinstance(raw, dict):
            raise self.error(line, f"{where}: a check is a mapping like "
                                   "{{exists: {{resource: pods, name: web}}, fail: ...}}")
        raw = dict(raw)
        fail = raw.pop("fail", None)
        cid = str(raw.pop("id", "") or "")
        timeout = raw.pop("timeout", None)
        kinds = [k for k in raw if k in CHECK_KINDS]
        if len(kinds) != 1 or len(raw) != 1:
            other = [k for k in raw if k not in CHECK_KINDS]
            if other:
                raise self.error(line, f"{where}: unknown kind {other[0]!r} (kinds: {', '.join(CHECK_KINDS)})")
            raise self.error(line, f"{where}: exactly one kind per check (kinds: {', '.join(CHECK_KINDS)})")
        kind = kinds[0]
        spec = raw[kind]
        if kind == "shell" and isinstance(spec, str):
            spec = {"run": spec}
        if not isinstance(spec, dict):
            raise self.error(line, f"{where}: {kind} takes a mapping of options")
        missing = [k for k in _CHECK_REQUIRED[kind] if k not in spec]
        if missing:
            raise self.error(line, f"{where}: {kind} needs {', '.join(missing)}")
        if not fail:
            raise self.error(line, f"{where}: every check needs a 'fail:' message that says what is wrong "
                                   "and where to look")
        try:
            t = parse_duration(timeout) if timeout is not None else None
        except ValueError as e:
            raise self.error(line, f"{where}: timeout: {e}") from None
        return Check(kind, spec, str(fail).strip(), line, cid, t)

    # --- body -----------------------------------------------------------------------------------

    def body(self, lesson: Lesson, start: int) -> None:
        """Walk the body; ``start`` is the 0-based index of the first body line."""
        intro: list[str] = []
        current: Step | None = None
        text: list[str] = []
        i = start
        seen: set[str] = set()
        while i < len(self.lines):
            line = self.lines[i]
            fence = _FENCE.match(line)
            if fence:
                close = self.fence_end(i, fence.group("fence"))
                info = fence.group("info")
                block = "\n".join(self.lines[i + 1: close])
                if info in MACHINE_BLOCKS:
                    if current is None:
                        raise self.error(i + 1, f"a ```{info} block belongs inside a step (after a '## ' heading)")
                    self.machine_block(current, info, block, i + 2)
                else:
                    (text if current else intro).extend(self.lines[i: close + 1])
                i = close + 1
                continue
            heading = _HEADING.match(line)
            if heading:
                if current is not None:
                    current.body = "\n".join(text).strip()
                    lesson.steps.append(current)
                title = heading.group("title").strip()
                sid = heading.group("id") or slugify(title)
                if sid in seen:
                    raise self.error(i + 1, f"two steps have the id {sid!r}: give one an anchor, e.g. {{#{sid}-2}}")
                seen.add(sid)
                current = Step(id=sid, title=title, body="", line=i + 1)
                text = []
            else:
                (text if current else intro).append(line)
            i += 1
        if current is not None:
            current.body = "\n".join(text).strip()
            lesson.steps.append(current)
        lesson.intro = "\n".join(intro).strip()
        if not lesson.steps:
            raise self.error(start + 1, "a lesson needs at least one step: a '## Title' heading")

    def fence_end(self, i: int, fence: str) -> int:
        for j in range(i + 1, len(self.lines)):
            if self.lines[j].strip().startswith(fence[0] * len(fence)) and \
                    self.lines[j].strip().strip(fence[0]) == "":
                return j
        raise self.error(i + 1, f"code block opened here is never closed with {fence}")

    def machine_block(self, step: Step, info: str, block: str, first_line: int) -> None:
        where = f"step {step.id!r}: {info}"
        if info == "solution":
            step.solution_text = block.strip()
            data = None
            if block.lstrip().startswith("- "):
                try:
                    data = yaml.safe_load(block)
                except yaml.YAMLError:
                    data = None
            if isinstance(data, list) and data and all(isinstance(a, dict) and len(a) == 1
                                                       and next(iter(a)) in ACTION_KINDS for a in data):
                step.solution = [self.action(a, first_line, where) for a in data]
            else:
                step.solution = [Action("shell", block, first_line)]
            return
        data = self.yaml_at(block, first_line, where)
        if info == "predict":
            if step.predict is not None:
                raise self.error(first_line - 1, f"{where}: one prediction per step")
            step.predict = self.predict(data, first_line, where)
        elif info == "check":
            if data is None:
                raise self.error(first_line - 1, f"{where}: empty block")
            items = data if isinstance(data, list) else [data]
            offsets = _item_lines(block)
            for n, item in enumerate(items):
                line = first_line + (offsets[n] if n < len(offsets) else 0)
                step.checks.append(self.check(item, line, f"{where} {len(step.checks) + 1}"))
        elif info == "hint":
            items = data if isinstance(data, list) else [data]
            for item in items:
                step.hints.append(self.hint(item, first_line, where))

    def predict(self, data: Any, line: int, where: str) -> Predict:
        if not isinstance(data, dict) or not data.get("question"):
            raise self.error(line, f"{where}: needs question, choices, answer (0-based index) and explain")
        choices = data.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            raise self.error(line, f"{where}: choices must be a list of at least two answers")
        answer = data.get("answer")
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise self.error(line, f"{where}: answer must be the 0-based index of a choice (0..{len(choices) - 1})")
        return Predict(str(data["question"]), [str(c) for c in choices], answer,
                       str(data.get("explain") or ""), line)

    def hint(self, data: Any, line: int, where: str) -> Hint:
        if isinstance(data, str):
            return Hint(data.strip(), after_failures=1, line=line)
        if not isinstance(data, dict) or not data.get("text"):
            raise self.error(line, f"{where}: a hint is text, or {{text: ..., after: 60s, after_failures: 1}}")
        unknown = set(data) - {"text", "after", "after_failures"}
        if unknown:
            raise self.error(line, f"{where}: unknown key {sorted(unknown)[0]!r} (text, after, after_failures)")
        try:
            after = parse_duration(data["after"]) if data.get("after") is not None else None
        except ValueError as e:
            raise self.error(line, f"{where}: after: {e}") from None
        failures = data.get("after_failures")
        if after is None and failures is None:
            failures = 1
        return Hint(str(data["text"]).strip(), after, failures, line)


def _item_lines(block: str) -> list[int]:
    """0-based line offsets of top-level list items ("- ") in a YAML block."""
    return [n for n, line in enumerate(block.splitlines()) if line.startswith("- ")]


def parse_lesson(text: str, path: str | Path = "lesson.md") -> Lesson:
    """Parse a lesson's text (``LessonError`` on any problem)."""
    return _Parser(Path(path), text).parse()


def load_lesson(path: str | Path) -> Lesson:
    """Parse ``path`` (a ``lesson.md`` or its folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "lesson.md"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise LessonError(p, 0, f"cannot read: {e.strerror or e}") from None
    return parse_lesson(text, p)


def discover(root: str | Path) -> list[Path]:
    """The ``lesson.md`` files under ``root`` (``NN-slug/lesson.md``), in folder order."""
    r = Path(root)
    return sorted(p for p in r.glob("*/lesson.md") if p.is_file())
