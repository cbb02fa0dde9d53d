"""``kubectl describe`` for the policy kinds, as the TUI's describe pane shows it.

Upstream: ``kubectl/pkg/describe/describe.go`` (``ResourceQuotaDescriber``
with its scope explanations, ``LimitRangeDescriber``'s table,
``PodDisruptionBudgetDescriber``, ``PriorityClassDescriber``,
``ReplicationControllerDescriber``). The same lines kubectl prints, so a
learner can compare the two side by side.
"""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]

# kubectl's helpTextForResourceQuotaScope
SCOPE_HELP = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited lifespan on a node "
                   "before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods usually include long "
                      "running pods whose container command is not expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods have a best effort "
                  "quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These pods have a "
                     "burstable or guaranteed quality of service.",
}


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]


def describe_quota(rq: Obj, w: Any) -> None:
    md, spec, st = rq.get("metadata", {}), rq.get("spec", {}), rq.get("status", {})
    w.kv("Name", md.get("name"), width=15)
    w.kv("Namespace", md.get("namespace"), width=15)
    scopes = list(spec.get("scopes") or [])
    if scopes:
        w.kv("Scopes", ", ".join(scopes), width=15)
        for s in scopes:
            if s in SCOPE_HELP:
                w.line(f" * {SCOPE_HELP[s]}")
    for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        w.kv("Scope Selector", f"{e.get('scopeName')} {e.get('operator')} {e.get('values') or []}", width=15)
    hard, used = st.get("hard") or {}, st.get("used") or {}
    rows = [["Resource", "Used", "Hard"], ["--------", "----", "----"]]
    rows += [[name, str(used.get(name, "0")), str(hard[name])] for name in sorted(hard)]
    for line in _table(rows):
        w.line(line)


def describe_limitrange(lr: Obj, w: Any) -> None:
    md = lr.get("metadata", {})
    w.kv("Name", md.get("name"), width=12)
    w.kv("Namespace", md.get("namespace"), width=12)
    rows = [["Type", "Resource", "Min", "Max", "Default Request", "Default Limit", "Max Limit/Request Ratio"],
            ["----", "--------", "---", "---", "---------------", "-------------", "-----------------------"]]
    for item in (lr.get("spec") or {}).get("limits") or []:
        parts = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")
        names = sorted({k for p in parts for k in (item.get(p) or {})})
        for name in names:
            rows.append([str(item.get("type", "")), name,
                         *[str((item.get(p) or {}).get(name, "-")) for p in parts]])
    for line in _table(rows):
        w.line(line)


def describe_pdb(pdb: Obj, w: Any) -> None:
    md, spec, st = pdb.get("metadata", {}), pdb.get("spec", {}), pdb.get("status", {})
    w.kv("Name", md.get("name"), width=16)
    w.kv("Namespace", md.get("namespace"), width=16)
    if spec.get("minAvailable") is not None:
        w.kv("Min available", spec["minAvailable"], width=16)
    if spec.get("maxUnavailable") is not None:
        w.kv("Max unavailable", spec["maxUnavailable"], width=16)
    sel = spec.get("selector") or {}
    w.kv("Selector", ",".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()) or "<unset>",
         width=16)
    w.line("Status:")
    w.kv("Allowed disruptions", st.get("disruptionsAllowed", 0), 4, 26)
    w.kv("Current", st.get("currentHealthy", 0), 4, 26)
    w.kv("Desired", st.get("desiredHealthy", 0), 4, 26)
    w.kv("Total", st.get("expectedPods", 0), 4, 26)
    for c in st.get("conditions") or []:
        w.kv(c.get("type", ""), f"{c.get('status')} ({c.get('reason')})", 4, 26)


def describe_priorityclass(pc: Obj, w: Any) -> None:
    md = pc.get("metadata", {})
    w.kv("Name", md.get("name"), width=19)
    w.kv("Value", pc.get("value"), width=19)
    w.kv("GlobalDefault", str(bool(pc.get("globalDefault"))).lower(), width=19)
    w.kv("PreemptionPolicy", pc.get("preemptionPolicy") or "PreemptLowerPriority", width=19)
    w.kv("Description", pc.get("description", ""), width=19)
    ann = md.get("annotations") or {}
    w.kv("Annotations", ",".join(f"{k}={v}" for k, v in ann.items()) or "<none>", width=19)


def describe_rc(rc: Obj, w: Any, replicaset: Callable[[Obj, Any], None]) -> None:
    """An RC describes as a ReplicaSet does; its selector is a plain label map."""
    spec = dict(rc.get("spec") or {})
    spec["selector"] = {"matchLabels": spec.get("selector") or {}}
    replicaset({**rc, "spec": spec}, w)


DESCRIBERS: dict[str, Callable[[Obj, Any], None]] = {
    "ResourceQuota": describe_quota, "LimitRange": describe_limitrange, "PodDisruptionBudget": describe_pdb,
    "PriorityClass": describe_priorityclass,
}
