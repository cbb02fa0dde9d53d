"""Scores come from recorded events only: the same records give the same score, every time.

The fixture is a real run of ``quota-exhausted`` (seed 4) on a local cluster:
the learner's drill events, the prober's samples and the API server's audit
log around it. The learner took a hint, relabelled an unrelated Deployment
(collateral), deleted the quota (the fix), answered wrong, then right.
"""

from __future__ import annotations

import json
from pathlib import Path

from kubetui.drills import score as scoring
from kubetui.drills.format import find
from kubetui.drills.report import render_report, timeline

FIXTURE = Path(__file__).parent / "fixtures" / "quota-exhausted"


def lines(name: str) -> list[dict]:
    return [json.loads(x) for x in (FIXTURE / name).read_text().splitlines() if x.strip()]


def recorded():
    events, samples, audit = lines("events.jsonl"), lines("samples.jsonl"), lines("audit.log")
    rec = scoring.replay(events, "quota-exhausted")
    return rec, events, samples, audit


def test_the_recorded_run_scores_the_same_every_time():
    rec, events, samples, audit = recorded()
    now = max(e["t"] for e in events) + 1000.0         # a report read long after: the run's end counts
    first = scoring.score(rec, samples, audit, now)
    again = scoring.score(scoring.replay(lines("events.jsonl"), "quota-exhausted"), lines("samples.jsonl"),
                          lines("audit.log"), now + 5000)
    assert first == again
    assert first.mitigated and first.seconds_to_mitigate is not None and first.seconds_to_mitigate < 30
    assert first.time_points == 15                      # within the first band (3 minutes)
    assert first.diagnosis_points == scoring.DIAGNOSIS_POINTS[1]   # wrong, then right
    assert first.hints == 1
    assert first.collateral == ["deployments/web"]      # the unrelated relabel; the quota delete is the fix
    assert first.hygiene_points == 10
    assert 0 < first.healthy < first.samples
    assert first.total == (25 + 15 + first.availability_points + 15 + 10 - 5)


def test_the_drill_runners_own_writes_are_not_the_learners():
    rec, events, samples, audit = recorded()
    mine = scoring.learner_actions(audit, rec.learner_user, rec.t0, rec.ended_at)
    assert mine and all(not ev.get("impersonatedUser") for ev in mine)
    assert {ev["user"]["username"] for ev in mine} == {"kubernetes-admin"}
    faults = [ev for ev in audit if (ev.get("impersonatedUser") or {}).get("username") == "kubetui:drill"
              and ev["verb"] in scoring.WRITE_VERBS]
    assert {scoring.object_key(ev) for ev in faults} == {"resourcequotas", "deployments/api"}


def test_the_report_puts_the_learners_actions_beside_the_faults():
    rec, events, samples, audit = recorded()
    rows = timeline(rec, events, audit, samples, rec.ended_at)
    who = [(w, what.split(" (")[0]) for _, w, what in rows]
    assert ("fault", "patch deployments/api -n drill-quota-exhausted") in who
    assert ("you", "delete resourcequotas/team-quota -n drill-quota-exhausted") in who
    assert ("you", "patch deployments/web -n drill-quota-exhausted") in who
    assert who.index(("fault", "patch deployments/api -n drill-quota-exhausted")) < \
        who.index(("you", "delete resourcequotas/team-quota -n drill-quota-exhausted"))
    text = render_report(find("quota-exhausted"), rec, scoring.score(rec, samples, audit, rec.ended_at), events,
                         audit, samples, rec.ended_at)
    assert "Root cause: The ResourceQuota refuses new pods" in text and "team-quota" in text


def test_giving_up_keeps_only_availability_and_hygiene():
    rec, events, samples, audit = recorded()
    gave_up = [e for e in events if e["event"] != "drill_score"] + [
        {"event": "drill_give_up", "run": rec.run, "t": rec.t0 + 2}]
    r = scoring.replay(gave_up, "quota-exhausted")
    s = scoring.score(r, samples, audit, rec.t0 + 3)
    assert s.gave_up and not s.mitigated and s.time_points == 0 and s.diagnosis_points == 0
    assert s.total == max(0, s.availability_points + s.hygiene_points - 5 * s.hints)
