"""How a simulated node "runs" a pod that is meant to finish (Job pods), as KWOK's pod-complete stage.

No container runs on a simulated node, so its command is read instead:

- a pod whose ``restartPolicy`` is ``Always`` runs forever (a Deployment's pods);
- otherwise each container "runs" for the seconds of a ``sleep N`` in its
  command/args (0 if none) and exits with the code of an ``exit K`` in it (0 if
  none): ``sh -c "sleep 5; exit 1"`` fails after five seconds;
- the pod then ends as a kubelet would end it: ``Succeeded`` (container reason
  ``Completed``, which kubectl shows as STATUS ``Completed``) or ``Failed``
  (reason ``Error``); with ``OnFailure`` a failing container restarts in place
  (``restartCount`` + 1, ``lastState.terminated``) and runs again.

Pure functions; ``kubetui.providers.simulated`` does the writing.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Obj = dict[str, Any]

_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")
_EXIT = re.compile(r"\bexit\s+(\d+)")


def run_plan(pod: Obj) -> tuple[float, int] | None:
    """(seconds the pod runs, its exit code), or None if it runs until deleted.

    >>> run_plan({"spec": {"restartPolicy": "Never", "containers": [
    ...     {"name": "c", "command": ["sh", "-c", "sleep 2; exit 3"]}]}})
    (2.0, 3)
    """
    spec = pod.get("spec") or {}
    if (spec.get("restartPolicy") or "Always") == "Always":
        return None
    duration, code = 0.0, 0
    for c in spec.get("containers") or []:
        text = " ".join(str(x) for x in (c.get("command") or []) + (c.get("args") or []))
        sleeps = [float(s) for s in _SLEEP.findall(text)]
        exits = [int(e) for e in _EXIT.findall(text)]
        duration = max(duration, sum(sleeps))
        if exits and exits[-1] and not code:
            code = exits[-1]
    return duration, code


def finished_status(status: Obj, code: int, now: str) -> Obj:
    """The pod's status once every container exited: Succeeded with 0, else Failed."""
    st = copy.deepcopy(status)
    reason = "Completed" if code == 0 else "Error"
    st["phase"] = "Succeeded" if code == 0 else "Failed"
    for c in st.get("conditions") or []:
        if c.get("type") in ("Ready", "ContainersReady"):
            c.update({"status": "False", "reason": "PodCompleted", "lastTransitionTime": now})
    for cs in st.get("containerStatuses") or []:
        started = ((cs.get("state") or {}).get("running") or {}).get("startedAt") or now
        cs.update({"ready": False, "started": False, "state": {"terminated": {
            "exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now,
            "containerID": cs.get("containerID")}}})
    return st


def restarted_status(status: Obj, code: int, now: str) -> Obj:
    """``OnFailure``: the kubelet restarts the failed container in the same pod."""
    st = copy.deepcopy(status)
    for cs in st.get("containerStatuses") or []:
        started = ((cs.get("state") or {}).get("running") or {}).get("startedAt") or now
        cs["lastState"] = {"terminated": {"exitCode": code, "reason": "Error", "startedAt": started,
                                          "finishedAt": now, "containerID": cs.get("containerID")}}
        cs["restartCount"] = int(cs.get("restartCount") or 0) + 1
        cs["state"] = {"running": {"startedAt": now}}
    return st


# -- ephemeral containers (kubectl debug POD --image=...) ------------------------------------------
# An ephemeral container cannot run on a simulated node either. kubectl debug waits, with no time
# limit, until it runs or has terminated: a node that never reported it would leave kubectl hanging.
# So each new one is reported at once as terminated, with a message saying why (kubectl describe).

NOT_RUN = ("not run: simulated nodes start no processes; kubectl debug needs a cluster with "
           "--provider docker (or local)")


def ephemeral_statuses(pod: dict[str, Any], now: str) -> list[dict[str, Any]] | None:
    """The pod's ``ephemeralContainerStatuses`` with the new ones reported, or None when none is new."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    known = list(status.get("ephemeralContainerStatuses") or ())
    names = {s.get("name") for s in known}
    new = [c for c in spec.get("ephemeralContainers") or () if c.get("name") not in names]
    if not new or status.get("phase") != "Running":
        return None
    return known + [{
        "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": NOT_RUN,
                                 "startedAt": now, "finishedAt": now}},
        "lastState": {}} for c in new]
