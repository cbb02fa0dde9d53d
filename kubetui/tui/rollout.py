"""A Deployment's rollout, made visible: whose pod is old or new, and the ReplicaSet scale steps.

Upstream: a rolling update (``pkg/controller/deployment/rolling.go``) moves
replicas from the old ReplicaSets to the new one in steps, never above
``replicas + maxSurge`` pods nor below ``replicas - maxUnavailable``
available ones. ``kubectl rollout status`` prints the steps' outcome; the
Deployment controller's Events ("Scaled up replica set web-7d9f from 1 to 2")
and kubetui's reconcile log (``kubetui.client.reconciles``) say each step.
Pure functions: the map marks pod chips by ReplicaSet while a rollout is
under way, and the Deployment's detail draws the steps against the bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from rich.text import Text

Obj = dict[str, Any]

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
#: a chip's mark: the newest ReplicaSet's pods, an older one's
NEW_MARK, OLD_MARK = "●", "○"

# upstream's wording ("from N" since v1.27; older clusters said only "to N")
_SCALED = re.compile(r"^Scaled (?P<dir>up|down) replica set (?P<rs>\S+)(?: from (?P<from>\d+))? to (?P<to>\d+)")


def _controller(obj: Obj) -> Obj:
    return next((r for r in (obj.get("metadata") or {}).get("ownerReferences") or () if r.get("controller")), {})


def _revision(rs: Obj | None) -> int:
    try:
        return int(((rs or {}).get("metadata") or {}).get("annotations", {}).get(REVISION) or 0)
    except ValueError:
        return 0


def replica_set_marks(pods: dict[str, Obj], replicasets: dict[str, Obj]) -> dict[str, tuple[str, str]]:
    """Pods of Deployments that have pods of more than one ReplicaSet (a rollout under way):
    pod key -> (``NEW_MARK`` or ``OLD_MARK``, its pod-template-hash). The newest ReplicaSet is the
    one with the highest revision (a rollback makes an old template the newest again).

    >>> def pod(name, h): return {"metadata": {"name": name, "namespace": "d", "labels": {POD_TEMPLATE_HASH: h},
    ...     "ownerReferences": [{"kind": "ReplicaSet", "name": f"web-{h}", "controller": True}]}}
    >>> def rs(h, rev): return {"metadata": {"name": f"web-{h}", "namespace": "d", "annotations": {REVISION: rev},
    ...     "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}]}}
    >>> marks = replica_set_marks({"d/a": pod("web-5c4-a", "5c4"), "d/b": pod("web-7d9-b", "7d9")},
    ...                           {"d/web-5c4": rs("5c4", "1"), "d/web-7d9": rs("7d9", "2")})
    >>> marks["d/a"], marks["d/b"]
    (('○', '5c4'), ('●', '7d9'))
    >>> replica_set_marks({"d/a": pod("web-5c4-a", "5c4")}, {})     # one ReplicaSet: nothing to tell apart
    {}
    """
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    for key, p in pods.items():
        md = p.get("metadata") or {}
        h = (md.get("labels") or {}).get(POD_TEMPLATE_HASH)
        ref = _controller(p)
        if not h or ref.get("kind") != "ReplicaSet":
            continue
        ns = md.get("namespace") or ""
        rs = replicasets.get(f"{ns}/{ref.get('name')}")
        owner = _controller(rs).get("name") if rs else None
        deployment = owner or str(ref.get("name", "")).removesuffix(f"-{h}")
        groups.setdefault((ns, deployment), {}).setdefault(h, []).append(key)
    out: dict[str, tuple[str, str]] = {}
    for (ns, deployment), by_hash in groups.items():
        if len(by_hash) < 2:
            continue

        def newness(h: str) -> tuple[int, str]:
            rs = replicasets.get(f"{ns}/{deployment}-{h}")
            newest_pod = max((pods[k].get("metadata", {}).get("creationTimestamp") or "" for k in by_hash[h]))
            return _revision(rs), newest_pod
        newest = max(by_hash, key=newness)
        for h, keys in by_hash.items():
            for k in keys:
                out[k] = (NEW_MARK if h == newest else OLD_MARK, h)
    return out


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers, as the Deployment controller resolves them (surge rounds
    up, unavailable down; both 0 would never progress, so unavailable becomes 1); Recreate: (0, 0).

    >>> fenceposts({"spec": {"replicas": 10}})
    (3, 2)
    >>> fenceposts({"spec": {"replicas": 3, "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}}})
    (0, 1)
    """
    from kubetui.api.disruption import scaled_value

    spec = d.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    replicas = int(spec.get("replicas", 1))
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


# --- the timeline ---------------------------------------------------------------------------------

@dataclass
class Step:
    """One scale step of one ReplicaSet, and every ReplicaSet's replicas right after it."""

    seq: int | None              # the reconcile record's sequence number (None: from an Event)
    time: str
    replica_set: str
    before: int
    after: int
    sizes: dict[str, int] = field(default_factory=dict)
    #: the Deployment's available pods as the controller saw them when it decided (None: unknown)
    available: int | None = None

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def steps_from_records(records: Iterable[Any]) -> list[tuple[Any, ...]]:
    """(seq, time, ReplicaSet, from, to, available) from reconcile records' ``decide(..., action="scale")``,
    each only if the record's write of that ReplicaSet succeeded."""
    import datetime as _dt
    out = []
    for r in records:
        at = _dt.datetime.fromtimestamp(r.start, _dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        # a step happened only if its write went through (a Conflict makes the controller try again)
        written = {w.name for w in r.writes if w.resource == "replicasets" and w.error is None
                   and not w.subresource and w.verb in ("create", "update")}
        for d in r.decided:
            if d.get("action") == "scale" and d.get("replicaSet") in written:
                out.append((r.seq, at, d["replicaSet"], int(d.get("from") or 0), int(d.get("to") or 0),
                            d.get("available")))
    return out


def steps_from_events(events: Iterable[Obj]) -> list[tuple[int | None, str, str, int, int]]:
    """The same from the Deployment's ``ScalingReplicaSet`` Events (when the log no longer holds them).

    An Event repeated (``count`` > 1) stands for one step only: the others are lost to aggregation.
    """
    out: list[tuple[int | None, str, str, int, int]] = []
    last: dict[str, int] = {}
    for ev in sorted(events, key=lambda e: e.get("firstTimestamp") or e.get("eventTime") or ""):
        m = _SCALED.match(ev.get("message") or "")
        if ev.get("reason") == "ScalingReplicaSet" and m:
            at = (ev.get("firstTimestamp") or "")[11:19]
            before = int(m["from"]) if m["from"] is not None else last.get(m["rs"], 0)
            last[m["rs"]] = int(m["to"])
            out.append((None, at, m["rs"], before, int(m["to"])))
    return out


def timeline(raw: list[tuple[Any, ...]]) -> list[Step]:
    """Steps with every ReplicaSet's size after each: a ReplicaSet's size before its first step is that
    step's "from", so the totals are right from the first step on."""
    sizes: dict[str, int] = {}
    for _, _, rs, before, *_ in raw:
        sizes.setdefault(rs, before)
    out = []
    for seq, at, rs, before, after, *more in raw:
        sizes[rs] = after
        out.append(Step(seq, at, rs, before, after, dict(sizes), more[0] if more else None))
    return out


def draw_timeline(d: Obj, steps: list[Step], max_surge: int, max_unavailable: int, *,
                  source: str = "reconcile log") -> Text:
    """The steps as rows: each ReplicaSet's replicas as blocks, the total against ``replicas + maxSurge``.

    >>> d = {"metadata": {"name": "web"}, "spec": {"replicas": 2}}
    >>> steps = timeline([(1, "10:00:00", "web-new", 0, 1), (2, "10:00:01", "web-old", 2, 1)])
    >>> print("\\n".join(draw_timeline(d, steps, 1, 0).plain.splitlines()[3:5]))
          #1 10:00:00 web-new 0→1  ██│█  3/3
          #2 10:00:01 web-old 2→1  ██│·  2/3
    """
    replicas = int((d.get("spec") or {}).get("replicas", 1))
    top = replicas + max_surge
    out = Text()
    out.append(f"Rollout of {d['metadata']['name']}: {replicas} replicas, maxSurge {max_surge} → at most {top} "
               f"pods, maxUnavailable {max_unavailable} → at least {replicas - max_unavailable} available\n",
               style="bold")
    out.append(f"(from the {source}; █ one replica, old ReplicaSets first; │ after {replicas} replicas, "
               f"then the room maxSurge allows: · free, █ used)\n", style="dim")
    if not steps:
        out.append("no scale steps recorded yet\n", style="dim")
        return out
    names = sorted({rs for s in steps for rs in s.sizes}, key=lambda n: min(i for i, s in enumerate(steps)
                                                                              if n in s.sizes))
    newest = steps[-1].replica_set if steps[-1].after > 0 else names[-1]
    palette = ["yellow", "cyan", "magenta", "blue", "bright_black"]
    colour = {n: ("green" if n == newest else palette[i % len(palette)]) for i, n in enumerate(names)}
    out.append("\n")
    width = max(len(f"{s.replica_set} {s.before}→{s.after}") for s in steps)
    for s in steps:
        mark = f"#{s.seq}" if s.seq is not None else "event"
        out.append(f"  {mark:>6} {s.time} {s.replica_set + ' ' + str(s.before) + '→' + str(s.after):<{width}}  ")
        cells = [(n, "█") for n in [n for n in names if n != newest] + [newest] for _ in range(s.sizes.get(n, 0))]
        for i in range(max(top, len(cells))):
            if i == replicas:
                out.append("│", style="bold")
            if i < len(cells):
                out.append(cells[i][1], style=colour[cells[i][0]])
            else:
                out.append("·", style="dim")
        if replicas >= max(top, len(cells)):
            out.append("│", style="bold")
        over = s.total > top
        out.append(f"  {s.total}/{top}" + (" ✗ above replicas + maxSurge" if over else ""),
                   style="bold red" if over else "")
        if s.available is not None:
            low = s.available < replicas - max_unavailable
            out.append(f"  {s.available} available (≥ {replicas - max_unavailable})" + (" ✗" if low else ""),
                       style="bold red" if low else "dim")
        out.append("\n")
    out.append("\n")
    for n in names:
        out.append("█ ", style=colour[n])
        out.append(f"{n}{' (new)' if n == newest else ''}  ")
    out.append("\n")
    return out
