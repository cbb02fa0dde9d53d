"""A drill's debrief: the score and a timeline of the learner's kubectl actions beside the fault's.

What an incident review puts on one page: when the fault landed (the drill
runner's writes, user ``kubetui:drill`` in the audit log), what the responder
did and when (the learner's own requests, from the API server's audit log),
when service came back (the prober), and the diagnosis. Pure: built from
recorded events, so a report can be rebuilt later from the same files.
"""

from __future__ import annotations

import time
from typing import Any

from kubetui.drills import score as scoring
from kubetui.drills.format import Drill

DRILL_USER = "kubetui:drill"
MAX_ROWS = 80


def _clock(t: float, t0: float) -> str:
    d = t - t0
    sign = "-" if d < 0 else "+"
    d = abs(d)
    return f"{time.strftime('%H:%M:%S', time.localtime(t))} {sign}{int(d // 60)}:{int(d % 60):02d}"


def _what(ev: dict[str, Any]) -> str:
    ref = ev.get("objectRef") or {}
    code = (ev.get("responseStatus") or {}).get("code", "")
    key = scoring.object_key(ev) or ev.get("requestURI", "").split("?")[0]
    if ev.get("verb") == "create" and not ref.get("name") and scoring._body_name(ev):
        key += "/" + scoring._body_name(ev)        # kubectl creates through the collection: the name is in the body
    ns = f" -n {ref['namespace']}" if ref.get("namespace") else ""
    return f"{ev.get('verb', '')} {key}{ns}" + (f" ({code})" if code else "")


def timeline(rec: scoring.RunRecord, drill_events: list[dict[str, Any]], audit: list[dict[str, Any]],
             samples: list[dict[str, Any]], now: float) -> list[tuple[float, str, str]]:
    """(time, who, what) rows in order: the drill's fault writes, the learner's requests, the prober's
    state changes and the learner's drill events (hints, answers)."""
    t0 = rec.t0 or now
    end = rec.ended_at or rec.gave_up_at or now
    start = next((ev.get("fault_start", t0) for ev in drill_events if ev.get("event") == "drill_start"
                  and ev.get("run") == rec.run), t0)
    rows: list[tuple[float, str, str]] = []
    for ev in audit:
        if ev.get("stage") != "ResponseComplete":
            continue
        t = scoring.audit_time(ev)
        if not start - 0.5 <= t <= end:
            continue
        if (ev.get("impersonatedUser") or {}).get("username") == DRILL_USER and ev.get("verb") in scoring.WRITE_VERBS:
            rows.append((t, "fault", _what(ev)))
    for ev in scoring.learner_actions(audit, rec.learner_user, t0, end):
        if (ev.get("objectRef") or {}).get("resource") in scoring._REVIEWS:
            continue
        rows.append((scoring.audit_time(ev), "you", _what(ev)))
    last = None
    for s in samples:
        if s.get("t", 0) < start:
            continue
        if s.get("ok") != last:
            bad = {k: v for k, v in (s.get("results") or {}).items() if not str(v).startswith("2")}
            rows.append((s["t"], "prober", "healthy" if s.get("ok") else
                         "DOWN: " + ", ".join(f"{k} {v}" for k, v in bad.items())))
            last = s.get("ok")
    for ev in drill_events:
        if ev.get("run") != rec.run:
            continue
        kind = ev.get("event")
        if kind == "drill_hint":
            rows.append((ev["t"], "you", f"hint {ev.get('number')} taken"))
        elif kind == "drill_answer":
            rows.append((ev["t"], "you", f"answered {ev.get('answer')!r}: {'right' if ev.get('correct') else 'wrong'}"))
        elif kind == "drill_mitigated":
            rows.append((ev.get("at", ev["t"]), "drill", "mitigated: service healthy and the drill's checks pass"))
        elif kind == "drill_give_up":
            rows.append((ev["t"], "you", "gave up"))
    rows.sort(key=lambda r: r[0])
    # a burst of the same read (kubectl get pods -w, a loop) reads as one row
    merged: list[tuple[float, str, str]] = []
    count = 1
    for row in rows:
        if merged and merged[-1][1:] == row[1:] and row[1] == "you" and not row[2].startswith(("create", "patch",
                                                                                              "update", "delete")):
            count += 1
            continue
        if count > 1:
            merged[-1] = (merged[-1][0], merged[-1][1], f"{merged[-1][2]} ×{count}")
        count = 1
        merged.append(row)
    if count > 1:
        merged[-1] = (merged[-1][0], merged[-1][1], f"{merged[-1][2]} ×{count}")
    return merged


def render_report(drill: Drill, rec: scoring.RunRecord, sc: scoring.Score, drill_events: list[dict[str, Any]],
                  audit: list[dict[str, Any]], samples: list[dict[str, Any]], now: float,
                  values: dict[str, Any] | None = None) -> str:
    from kubetui.drills.format import render
    values = values or {"ns": rec.namespace, "target": rec.target}
    variant = next((v for v in drill.variants if v.id == rec.variant), None)
    lines = [f"Drill {drill.id}: {drill.title}  (seed {rec.seed}, variant {rec.variant}"
             + (f", target {rec.target}" if rec.target else "") + ")", ""]
    if rec.over or rec.gave_up_at:
        if variant and variant.story:
            lines += ["What happened:", "  " + render(variant.story, values).replace("\n", "\n  "), ""]
        q = drill.question
        right = q.choices[q.answer] if q.choices and q.answer is not None else " / ".join(q.accept)
        lines += [f"Root cause: {right}", *(["  " + q.explain] if q.explain else []), ""]
        if rec.gave_up_at and drill.reference:
            lines += ["A mitigation that works:"]
            for a in drill.reference:
                (k, v), = a.items()
                v = render(v, values)
                lines.append(f"  {'kubectl -n ' + rec.namespace + ' ' + str(v) if k == 'kubectl' else f'{k}: {v}'}")
            lines.append("")
    else:
        lines += ["(in progress: the root cause is shown once you have mitigated and answered, or given up)", ""]
    lines += ["Score", *("  " + x for x in sc.lines()), ""]
    rows = timeline(rec, drill_events, audit, samples, now)
    lines.append(f"Timeline (you = {rec.learner_user}; fault = {DRILL_USER}'s writes)")
    t0 = rec.t0 or now
    shown = rows if len(rows) <= MAX_ROWS else rows[:MAX_ROWS // 2] + [(0, "", "...")] + rows[-MAX_ROWS // 2:]
    for t, who, what in shown:
        lines.append(f"  {_clock(t, t0) if t else ' ' * 14}  {who:<6}  {what}")
    return "\n".join(lines)
