"""Scoring a drill (pure): from recorded events only, so the same records always give the same score.

Inputs are what a run leaves behind: the learner's drill events (progress log),
the prober's samples (one a second) and the API server's audit events. The
rubric follows the game-day practice of scoring against *bands* rather than
averages (Davidovič, "Incident Metrics in SRE")::

    mitigated           25   the prober saw the service healthy again and the drill's checks passed
    time to mitigate    the drill's bands, e.g. ≤3m 15, ≤6m 10, ≤12m 5, later 0
    availability        10 × the share of probe seconds that were healthy from the fault to mitigation
    diagnosis           35 for the right root cause on the first answer, 15 on the second
    hygiene             15, minus 5 for every object the learner changed that the fault had nothing to do with
    hints               −5 each

A learner who gives up keeps only availability and hygiene. Example: mitigated
after 200 s (band ≤ 6m: 10), 80 % available (8), right on the first answer
(35), no collateral (15), one hint (−5): 25 + 10 + 8 + 35 + 15 − 5 = 88.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

MITIGATION_POINTS = 25
AVAILABILITY_POINTS = 10
DIAGNOSIS_POINTS = (35, 15)
HYGIENE_POINTS = 15
COLLATERAL_PENALTY = 5
HINT_PENALTY = 5
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
# requests that change nothing in the cluster's objects
_NOT_CHANGES = {"pods/exec", "pods/attach", "pods/portforward", "pods/log", "pods/proxy", "services/proxy"}
_REVIEWS = ("selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "subjectaccessreviews",
            "tokenreviews", "localsubjectaccessreviews")


@dataclass
class RunRecord:
    """One drill run, replayed from its progress events."""

    drill: str
    run: str = ""
    seed: int = 0
    variant: str = ""
    target: str = ""
    namespace: str = ""
    learner_user: str = ""
    t0: float | None = None
    touches: list[str] = field(default_factory=list)
    bands: list[tuple[float, int]] = field(default_factory=list)
    mitigated_at: float | None = None
    answers: list[bool] = field(default_factory=list)
    hints: int = 0
    gave_up_at: float | None = None
    ended_at: float | None = None

    @property
    def over(self) -> bool:
        return self.gave_up_at is not None or (self.mitigated_at is not None and bool(self.answers)
                                               and (self.answers[-1] or len(self.answers) >= len(DIAGNOSIS_POINTS)))


def replay(events: Iterable[dict[str, Any]], drill: str, run: str | None = None) -> RunRecord | None:
    """The latest run of ``drill`` (or run ``run``) folded from its events; None if never started."""
    rec: RunRecord | None = None
    for ev in events:
        kind = ev.get("event")
        if kind == "drill_start" and ev.get("drill") == drill and run in (None, ev.get("run")):
            rec = RunRecord(drill, ev["run"], ev.get("seed", 0), ev.get("variant", ""), ev.get("target", ""),
                            ev.get("namespace", ""), ev.get("learner_user", ""), ev.get("t0"),
                            list(ev.get("touches") or []), [tuple(b) for b in ev.get("bands") or []])
            continue
        if rec is None or ev.get("run") != rec.run:
            continue
        if kind == "drill_mitigated" and rec.mitigated_at is None:
            rec.mitigated_at = ev.get("at", ev.get("t"))
        elif kind == "drill_answer" and len(rec.answers) < len(DIAGNOSIS_POINTS) and not any(rec.answers):
            rec.answers.append(bool(ev.get("correct")))
        elif kind == "drill_hint":
            rec.hints += 1
        elif kind == "drill_give_up" and rec.gave_up_at is None:
            rec.gave_up_at = ev.get("t")
        elif kind == "drill_score":
            rec.ended_at = ev.get("t")
    return rec


def audit_time(ev: dict[str, Any]) -> float:
    """An audit event's ``stageTimestamp`` (RFC 3339, microseconds) as Unix time."""
    stamp = ev.get("stageTimestamp") or ev.get("requestReceivedTimestamp") or ""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def object_key(ev: dict[str, Any]) -> str:
    """``deployments/web``, ``nodes/node-1``, ``pods/web-x/eviction``: what a request acted on."""
    ref = ev.get("objectRef") or {}
    key = f"{ref.get('resource', '')}/{ref.get('name', '')}".rstrip("/")
    return key + (f"/{ref['subresource']}" if ref.get("subresource") else "")


def learner_actions(audit: Iterable[dict[str, Any]], user: str, since: float, until: float) -> list[dict[str, Any]]:
    """The learner's own requests in the window: their user, not impersonating anyone (the drill
    runner impersonates ``kubetui:drill``), final stage only, no watches."""
    out = []
    for ev in audit:
        if ev.get("stage") not in ("ResponseComplete", "Panic") or ev.get("verb") == "watch":
            continue
        if (ev.get("user") or {}).get("username") != user or ev.get("impersonatedUser"):
            continue
        if not since <= audit_time(ev) <= until:
            continue
        out.append(ev)
    return out


def collateral(actions: Iterable[dict[str, Any]], namespace: str, touches: list[str]) -> list[str]:
    """Objects the learner changed that the fault had nothing to do with (sorted, each once).

    A change is a successful write; ``touches`` are the fault's objects as ``resource/name``
    patterns (fnmatch), those in other namespaces are written ``ns/resource/name``.

    >>> ev = lambda verb, res, name, ns="d": {"verb": verb, "objectRef": {"resource": res, "name": name,
    ...     "namespace": ns}, "responseStatus": {"code": 200}}
    >>> collateral([ev("patch", "deployments", "api"), ev("delete", "persistentvolumeclaims", "data-db-0"),
    ...             ev("get", "pods", "x")], "d", ["deployments/api"])
    ['persistentvolumeclaims/data-db-0']
    """
    hit: set[str] = set()
    for ev in actions:
        if ev.get("verb") not in WRITE_VERBS or (ev.get("responseStatus") or {}).get("code", 200) >= 400:
            continue
        ref = ev.get("objectRef") or {}
        if ref.get("resource") in _REVIEWS:
            continue
        if f"{ref.get('resource')}/{ref.get('subresource')}" in _NOT_CHANGES:
            continue
        name = ref.get("name") or _body_name(ev)
        base = f"{ref.get('resource', '')}/{name}".rstrip("/")
        ns = ref.get("namespace", "")
        shown = base if ns in ("", namespace) else f"{ns}/{base}"
        if any(fnmatch.fnmatchcase(shown, pattern) for pattern in touches):
            continue
        hit.add(shown)
    return sorted(hit)


def _body_name(ev: dict[str, Any]) -> str:
    """A create's object name: from the request body (kubectl POSTs to the collection, no name in the URL)."""
    body = ev.get("requestObject")
    if isinstance(body, dict):
        return str((body.get("metadata") or {}).get("name") or "")
    return ""


def _body_name(ev: dict[str, Any]) -> str:
    """A create's object name: from the request body (kubectl POSTs to the collection, no name in the URL)."""
    body = ev.get("requestObject")
    if isinstance(body, dict):
        return str((body.get("metadata") or {}).get("name") or "")
    return ""


def availability(samples: Iterable[dict[str, Any]], since: float, until: float) -> tuple[int, int]:
    """(healthy, total) probe samples in ``[since, until]``."""
    ok = total = 0
    for s in samples:
        if since <= s.get("t", 0) <= until:
            total += 1
            ok += bool(s.get("ok"))
    return ok, total


def time_points(seconds: float | None, bands: list[tuple[float, int]]) -> int:
    """The first band the time fits in (bands sorted by their limit).

    >>> time_points(200, [(180, 15), (360, 10), (720, 5)]), time_points(None, [(180, 15)])
    (10, 0)
    """
    if seconds is None:
        return 0
    for within, points in sorted(bands):
        if seconds <= within:
            return points
    return 0


@dataclass
class Score:
    total: int
    mitigated: bool
    seconds_to_mitigate: float | None
    time_points: int
    healthy: int
    samples: int
    availability_points: int
    diagnosis_points: int
    hints: int
    collateral: list[str]
    hygiene_points: int
    gave_up: bool

    @property
    def availability(self) -> float | None:
        return self.healthy / self.samples if self.samples else None

    def lines(self) -> list[str]:
        av = f"{self.availability:.0%}" if self.availability is not None else "no samples"
        tm = f"{self.seconds_to_mitigate:.0f}s" if self.seconds_to_mitigate is not None else "not mitigated"
        return [f"mitigated         {MITIGATION_POINTS if self.mitigated else 0:>3}  ({tm})",
                f"time band         {self.time_points:>3}",
                f"availability      {self.availability_points:>3}  ({av} of {self.samples} probe seconds healthy)",
                f"diagnosis         {self.diagnosis_points:>3}",
                f"hygiene           {self.hygiene_points:>3}  "
                f"({', '.join(self.collateral) if self.collateral else 'no collateral damage'})",
                f"hints             {-HINT_PENALTY * self.hints:>3}  ({self.hints} taken)",
                f"total             {self.total:>3} / 100" + ("  (gave up)" if self.gave_up else "")]


def score(rec: RunRecord, samples: list[dict[str, Any]], audit: list[dict[str, Any]], now: float) -> Score:
    """The score of one run from its records (pure: ``now`` is when the run ended or is looked at)."""
    t0 = rec.t0 or 0.0
    end = rec.ended_at or rec.gave_up_at or now
    mitigated = rec.mitigated_at is not None and (rec.gave_up_at is None or rec.mitigated_at <= rec.gave_up_at)
    seconds = max(0.0, rec.mitigated_at - t0) if mitigated and rec.mitigated_at is not None else None
    tp = time_points(seconds, rec.bands) if not rec.gave_up_at else 0
    healthy, total = availability(samples, t0, rec.mitigated_at if mitigated else end)
    ap = round(AVAILABILITY_POINTS * healthy / total) if total else 0
    dp = 0
    if rec.gave_up_at is None:
        for i, correct in enumerate(rec.answers[:len(DIAGNOSIS_POINTS)]):
            if correct:
                dp = DIAGNOSIS_POINTS[i]
                break
    harm = collateral(learner_actions(audit, rec.learner_user, t0, end), rec.namespace, rec.touches)
    hp = max(0, HYGIENE_POINTS - COLLATERAL_PENALTY * len(harm))
    mp = MITIGATION_POINTS if mitigated and rec.gave_up_at is None else 0
    total_points = max(0, mp + tp + ap + dp + hp - HINT_PENALTY * rec.hints)
    return Score(total_points, mitigated and rec.gave_up_at is None, seconds, tp, healthy, total, ap, dp, rec.hints,
                 harm, hp, rec.gave_up_at is not None)
