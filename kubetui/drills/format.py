"""A drill's definition: ``lessons/drills/<id>/drill.yaml`` parsed into a ``Drill``, and its seeded incident.

One YAML file per drill (a teacher writes YAML, never Python)::

    id, title, summary, minutes (the target time), requires ([docker]), exclusive (touches
    cluster-wide objects: run alone), briefing (the page the learner gets)
    app:        the application's manifests, applied in the drill's namespace
    prober:     {targets: [web:80/, db:80/], resolve: api|dns, avoid: {app: db},
                expect_down: false for a fault the prober cannot see (a CronJob that stopped)}
    targets:    names the incident may hit (``{target}``), one chosen by the seed
    variants:   the fault chain, each [{id, story, params: {name: [choices]}, fault: [actions],
                touches: [resource/name patterns the fault is about]}]
    mitigated:  checks in the lessons' check format (``kubetui.lessons.checks``)
    question:   {text, choices, answer (0-based) | accept: [regex, ...], explain}
    bands:      [{within: 3m, points: 15}, ...]   time to mitigate
    hints:      [text, ...]
    reference:  the reference mitigation (actions); wrong: [[actions], ...] mitigations that must not pass
    cleanup:    actions that undo cluster-wide changes (the namespace is deleted anyway)

Actions: ``kubectl: ARGS`` (run in the drill's namespace), ``apply: manifest(s)``,
``fault: {name, target | node_of: POD}`` (``kubetui.faults``), ``shell: script``,
``wait: check``. Strings may name ``{ns}``, ``{target}`` and the variant's params.

Seeded: ``random.Random(f"{drill}:{seed}")`` picks the variant, then the target,
then each param (in sorted order), so the same seed gives the same incident on
every machine (``incident``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubetui.lessons.format import Check, LessonError, _Parser, parse_duration

ACTION_KINDS = ("kubectl", "apply", "fault", "shell", "wait")
_KEYS = {"id", "title", "summary", "minutes", "requires", "exclusive", "briefing", "app", "prober", "targets",
         "variants", "mitigated", "question", "bands", "hints", "reference", "wrong", "cleanup"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class DrillError(LessonError):
    """A drill file that cannot be used (``file:line: message``)."""


@dataclass
class Variant:
    id: str
    story: str
    fault: list[dict[str, Any]]
    touches: list[str] = field(default_factory=list)
    params: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class Question:
    text: str
    choices: list[str] = field(default_factory=list)
    answer: int | None = None
    accept: list[str] = field(default_factory=list)
    explain: str = ""

    def check(self, given: str) -> bool:
        """A choice number (1-based, as shown) or a short answer matched against ``accept``."""
        given = given.strip()
        if self.choices:
            return given.isdigit() and int(given) - 1 == self.answer
        return any(re.search(pattern, given, re.IGNORECASE) for pattern in self.accept)


@dataclass
class Band:
    within: float
    points: int


@dataclass
class Drill:
    id: str
    title: str
    path: Path
    summary: str = ""
    minutes: int = 5
    requires: list[str] = field(default_factory=list)
    exclusive: bool = False
    briefing: str = ""
    app: list[dict[str, Any]] = field(default_factory=list)
    prober: dict[str, Any] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    mitigated: list[Check] = field(default_factory=list)
    question: Question = field(default_factory=lambda: Question(""))
    bands: list[Band] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    reference: list[dict[str, Any]] = field(default_factory=list)
    wrong: list[list[dict[str, Any]]] = field(default_factory=list)
    cleanup: list[dict[str, Any]] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"drill-{self.id}"


@dataclass(frozen=True)
class Incident:
    """What one seed makes of a drill: the variant, its target and params (all the fault's choices)."""

    drill: str
    seed: int
    variant: str
    target: str
    params: dict[str, Any]

    def values(self, namespace: str) -> dict[str, Any]:
        return {"ns": namespace, "target": self.target, **self.params}


def incident(drill: Drill, seed: int) -> Incident:
    """The seeded choice (pure): the same drill and seed give the same incident everywhere.

    >>> d = Drill("x", "X", Path("x"), targets=["web", "api"], variants=[Variant("a", "", []), Variant("b", "", [])])
    >>> incident(d, 7) == incident(d, 7)
    True
    """
    rng = random.Random(f"{drill.id}:{seed}")
    variant = rng.choice(drill.variants)
    target = rng.choice(sorted(drill.targets)) if drill.targets else ""
    params = {k: rng.choice(list(variant.params[k])) for k in sorted(variant.params)}
    return Incident(drill.id, seed, variant.id, target, params)


def render(value: Any, values: dict[str, Any]) -> Any:
    """Fill ``{name}`` placeholders in every string of a YAML value (other braces are left alone)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), value)
    if isinstance(value, list):
        return [render(v, values) for v in value]
    if isinstance(value, dict):
        return {render(k, values): render(v, values) for k, v in value.items()}
    return value


def _actions(p: _Parser, raw: Any, line: int, where: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise p.error(line, f"{where} must be a list of actions ({', '.join(ACTION_KINDS)})")
    out = []
    for a in raw:
        if not (isinstance(a, dict) and len(a) == 1 and next(iter(a)) in ACTION_KINDS):
            raise p.error(line, f"{where}: each action is one of {', '.join(ACTION_KINDS)}, got {a!r}")
        if "wait" in a:
            a = {"wait": p.check(a["wait"], line, f"{where}: wait")}
        out.append(a)
    return out


def parse_drill(text: str, path: str | Path = "drill.yaml") -> Drill:
    """Parse a drill's YAML (``DrillError`` with file and line on any problem)."""
    try:
        return _parse(text, Path(path))
    except DrillError:
        raise
    except LessonError as e:
        raise DrillError(e.file, e.line, e.message) from None
    except (KeyError, TypeError, ValueError) as e:
        raise DrillError(path, 1, f"malformed drill: {e}") from None


def _parse(text: str, path: Path) -> Drill:
    p = _Parser(path, text)
    data = p.yaml_at(text, 1, "drill")
    if not isinstance(data, dict):
        raise DrillError(path, 1, "a drill is a YAML mapping (id, title, app, variants, mitigated, question, ...)")

    def line(key: str) -> int:
        return p.key_line(key, len(p.lines) + 1)

    for key in data:
        if key not in _KEYS:
            raise DrillError(path, line(str(key)), f"unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
    for key in ("id", "title", "app", "variants", "mitigated", "question", "reference"):
        if not data.get(key):
            raise DrillError(path, 1, f"a drill needs {key!r}")
    d = Drill(str(data["id"]), str(data["title"]), path, summary=str(data.get("summary") or ""),
              minutes=int(data.get("minutes") or 5), requires=[str(r) for r in data.get("requires") or []],
              exclusive=bool(data.get("exclusive")), briefing=str(data.get("briefing") or "").strip(),
              app=list(data["app"]), prober=dict(data.get("prober") or {}),
              targets=[str(t) for t in data.get("targets") or []], hints=[str(h).strip() for h in data.get("hints") or []])
    if not d.prober.get("targets"):
        raise DrillError(path, line("prober"), "prober needs targets, e.g. [web:80/]")
    for v in data["variants"]:
        if not isinstance(v, dict) or not v.get("id") or not v.get("fault"):
            raise DrillError(path, line("variants"), "each variant needs an id and a fault (a list of actions)")
        params = {str(k): list(vs) if isinstance(vs, list) else [vs] for k, vs in (v.get("params") or {}).items()}
        d.variants.append(Variant(str(v["id"]), str(v.get("story") or "").strip(),
                                  _actions(p, v["fault"], line("variants"), f"variant {v['id']}: fault"),
                                  [str(t) for t in v.get("touches") or []], params))
    mline = line("mitigated")
    d.mitigated = [p.check(c, mline, f"mitigated {i + 1}") for i, c in enumerate(data["mitigated"])]
    q = data["question"]
    if not isinstance(q, dict) or not q.get("text") or not (q.get("choices") or q.get("accept")):
        raise DrillError(path, line("question"), "question needs text and choices (+ answer) or accept")
    d.question = Question(str(q["text"]).strip(), [str(c) for c in q.get("choices") or []], q.get("answer"),
                          [str(a) for a in q.get("accept") or []], str(q.get("explain") or "").strip())
    if d.question.choices and not (isinstance(d.question.answer, int)
                                   and 0 <= d.question.answer < len(d.question.choices)):
        raise DrillError(path, line("question"), "question.answer must be the 0-based index of a choice")
    for b in data.get("bands") or []:
        d.bands.append(Band(parse_duration(b["within"]), int(b["points"])))
    d.reference = _actions(p, data["reference"], line("reference"), "reference")
    d.wrong = [_actions(p, w, line("wrong"), f"wrong {i + 1}") for i, w in enumerate(data.get("wrong") or [])]
    d.cleanup = _actions(p, data.get("cleanup"), line("cleanup"), "cleanup")
    return d


def load_drill(path: str | Path) -> Drill:
    p = Path(path)
    if p.is_dir():
        p = p / "drill.yaml"
    try:
        return parse_drill(p.read_text(encoding="utf-8"), p)
    except OSError as e:
        raise DrillError(p, 0, f"cannot read: {e.strerror or e}") from None


def drills_dir() -> Path:
    """``lessons/drills/`` beside the lessons (``$KUBETUI_DRILLS_DIR`` to use others)."""
    import os
    env = os.environ.get("KUBETUI_DRILLS_DIR")
    if env:
        return Path(env)
    from kubetui.lessons import default_lessons_dir
    return default_lessons_dir() / "drills"


def load_all(root: Path | None = None) -> list[Drill]:
    r = root or drills_dir()
    return [load_drill(p) for p in sorted(r.glob("*/drill.yaml"))]


def find(ref: str, root: Path | None = None) -> Drill:
    drills = load_all(root)
    for d in drills:
        if ref in (d.id, d.path.parent.name):
            return d
    raise DrillError(root or drills_dir(), 0, f"no drill {ref!r} (drills: {', '.join(d.id for d in drills)})")
