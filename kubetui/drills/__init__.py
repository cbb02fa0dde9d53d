"""Failure drills: incident response practised as a game day, scored from what really happened.

Upstream has no counterpart; the practice is Google SRE's "Wheel of
Misfortune" (a game master replays an incident, the on-call engineer
responds, the clock runs, a debrief follows) and AWS's game days (exercise
the runbook on a real system). A drill deploys a small realistic application
(``lessons/drills/<id>/drill.yaml``), keeps a prober measuring its
availability from inside the cluster (``kubetui/prober``), plays a careless
teammate's commands (seeded: the same seed gives the same incident), and asks
the learner to **mitigate** (the prober sees the service healthy again and the
drill's checks pass) and **diagnose** (the root-cause question). The score
(``score.py``, pure) weighs time to mitigate in bands, availability lost,
diagnosis, hints and collateral damage, the latter and the report's timeline
taken from the API server's audit log, where the drill's own writes carry the
identity ``kubetui:drill``.

Modules: ``format`` (the YAML, the seeded ``incident``), ``run`` (a learner's
run: start, status, answer, hint, give up, report, clean), ``score`` (pure
scoring), ``report`` (the debrief), ``selftest`` (``kubetui drill test``).
The simulated provider cannot run drills (its pods run nothing to probe).
"""

from kubetui.drills.format import Drill, DrillError, Incident, drills_dir, find, incident, load_all, load_drill
from kubetui.drills.run import DrillEnv, DrillRunError, DrillRunner

__all__ = ["Drill", "DrillEnv", "DrillError", "DrillRunError", "DrillRunner", "Incident", "drills_dir", "find",
           "incident", "load_all", "load_drill"]
