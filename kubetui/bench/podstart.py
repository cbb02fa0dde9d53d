"""Where a burst of pod starts spends its time: ``kubetui bench pods``' per-step breakdown.

Upstream answers "which part of pod startup is slow" with the kubelet's
``"Observed pod startup duration"`` log line (``pod_startup_latency_tracker.go``)
next to the control plane's own view. This module lines up three sources on
one wall clock (node containers share the host's clock):

- the bench: when the API answered each create, when its watch saw the pod
  bound (``spec.nodeName``) and Ready;
- every kubelet's line for each pod (``kubetui.kubelet.startuplatency``): when
  its pod worker saw it, had its volumes and sandbox, its image, created and
  started its container, sent its Ready status and had it acknowledged;
- CPU: each node container's ``cpuacct.usage`` (its agents, the pods'
  processes, the kernel work they cause) and the control plane's process
  (``os.times``: API server, scheduler, controllers and this bench's client),
  which say more than wall-clock times on a shared machine.

Each step is reported as its p50 / p99 over the pods, both as the gap from the
previous step and as the time from creation.
"""

from __future__ import annotations

import subprocess
from typing import Any

from kubetui.kubelet.startuplatency import parse_line

#: (label, step) in the order a pod passes them; "created"/"scheduled"/"watched" are the bench's own
STEPS = (("API answered the create", "apiCreated"), ("bound to a node (seen by the watch)", "scheduled"),
         ("kubelet's pod worker saw it", "seen"), ("volumes mounted (TokenRequest, files, tmpfs)", "volumes"),
         ("pod network made (netns, veth, cgroup)", "network"), ("both: the sandbox is ready", "sandbox"),
         ("image found", "image"), ("container created", "created"), ("container started", "started"),
         ("Ready status sent", "statusSent"), ("Ready status acknowledged", "ready"),
         ("Ready seen by the watch", "watched"))


#: steps that run beside each other: their gap is from this step (the sandbox's from the later of the two)
PARALLEL = {"volumes": "seen", "network": "seen"}


def node_log_marks(container: str, since: float) -> dict[str, dict[str, float]]:
    """{pod key: kubelet marks} from one node container's log since ``since`` (epoch seconds)."""
    r = subprocess.run(["docker", "logs", "--since", f"{since:.3f}", container],
                       capture_output=True, text=True, timeout=60)
    out: dict[str, dict[str, float]] = {}
    for line in (r.stdout + r.stderr).splitlines():
        parsed = parse_line(line)
        if parsed:
            out[parsed[0]] = parsed[1]
    return out


#: run inside a node: CPU seconds of the whole node, of its pods' cgroups, and of the agents' process
_CPU = ("import os\n"
        "def cg(p):\n"
        "    try: return int(open('/sys/fs/cgroup/cpuacct/' + p + 'cpuacct.usage').read()) / 1e9\n"
        "    except OSError: return None\n"
        "agents = 0.0\n"
        "for p in os.listdir('/proc'):\n"
        "    try:\n"
        "        if p.isdigit() and b'kubetui.agent' in open(f'/proc/{p}/cmdline', 'rb').read():\n"
        "            f = open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()\n"
        "            agents += (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')\n"
        "    except OSError: pass\n"
        "print(cg(''), cg('kubepods/'), agents, open('/proc/loadavg').read().split()[4])\n")


def node_cpu_seconds(container: str) -> dict[str, float] | None:
    """CPU seconds the node container has used so far (cgroup v1 ``cpuacct.usage``): ``node`` in all,
    ``pods`` in its pods' cgroups (their processes once they joined them), ``agents`` in the
    kubelet/kube-proxy/NetworkPolicy agents' process, and ``pids``: the node's last PID (its PID
    namespace's counter: the difference counts the processes and threads started, which load
    does not change). None on a node without cgroup v1 accounting."""
    r = subprocess.run(["docker", "exec", container, "python3", "-c", _CPU],
                       capture_output=True, text=True, timeout=60)
    try:
        node, pods, agents, pids = (None if w == "None" else float(w) for w in r.stdout.split())
    except ValueError:
        return None
    if node is None:
        return None
    return {"node": node, "pods": pods or 0.0, "agents": agents or 0.0, "pids": pids or 0.0}


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    rank = max(1, -(-len(s) * p // 100))
    return s[int(min(rank, len(s))) - 1]


def breakdown(timelines: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Per step: p50/p99 of the gap from the previous step present, and of the time since creation
    (``apiCreated``). Pure; ``timelines`` is {pod: {step: epoch seconds}}.

    >>> rows = breakdown({"a": {"apiCreated": 0.0, "scheduled": 0.1, "watched": 0.5},
    ...                   "b": {"apiCreated": 0.0, "scheduled": 0.2, "watched": 0.4}})
    >>> [(r["step"], r["gapP50"], r["sinceCreatedP99"]) for r in rows]
    [('scheduled', 0.1, 0.2), ('watched', 0.2, 0.5)]
    """
    rows = []
    for i, (label, step) in enumerate(STEPS):
        if step == "apiCreated":
            continue
        gaps, since = [], []
        for marks in timelines.values():
            if step not in marks:
                continue
            before = [s for _, s in STEPS[:i] if s not in PARALLEL or step == "sandbox"]
            if step in PARALLEL:
                before = [s for s in before if s == PARALLEL[step]]
            present = [marks[s] for s in before if s in marks]
            # after steps run side by side, the next one starts when the later of them ended
            prev = (max(present) if step == "sandbox" else present[-1]) if present else None
            if prev is not None:
                gaps.append(marks[step] - prev)
            if "apiCreated" in marks:
                since.append(marks[step] - marks["apiCreated"])
        if not gaps and not since:
            continue
        rows.append({"step": step, "label": label, "pods": len(since) or len(gaps),
                     "gapP50": _r(_pct(gaps, 50)), "gapP99": _r(_pct(gaps, 99)),
                     "sinceCreatedP50": _r(_pct(since, 50)), "sinceCreatedP99": _r(_pct(since, 99))})
    return rows


def _r(v: float | None) -> float | None:
    return round(v, 3) if v is not None else None


def print_breakdown(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = r.get("breakdown") or []
    if not rows:
        return
    t = Table(title="where the time went (wall clock; gap = from the previous step)")
    t.add_column("step")
    for col in ("pods", "gap p50", "gap p99", "since creation p50", "p99"):
        t.add_column(col, justify="right")

    def f(v):
        return f"{v:.3f}" if v is not None else "-"
    for row in rows:
        t.add_row(row["label"], str(row["pods"]), f(row["gapP50"]), f(row["gapP99"]),
                  f(row["sinceCreatedP50"]), f(row["sinceCreatedP99"]))
    Console().print(t)
    cpu = r.get("cpuSeconds") or {}
    if cpu:
        nodes = cpu.get("nodes") or {}
        tot = {k: sum(v.get(k, 0) for v in nodes.values()) for k in ("node", "agents", "pods", "pids")} if nodes else {}
        Console().print(
            "CPU during the burst (s): nodes " + ", ".join(f"{k} {v['node']:.2f}" for k, v in nodes.items())
            + (f"; the 3 summed {tot['node']:.2f} = agents' process {tot['agents']:.2f} + pods' cgroups "
               f"{tot['pods']:.2f} + the rest (container set-up before its cgroup, kernel) "
               f"{tot['node'] - tot['agents'] - tot['pods']:.2f}" if tot else "")
            + f"; control plane process {cpu.get('controlPlane', 0):.2f}"
            + (f"; processes and threads started in the nodes: {tot['pids']:.0f}" if tot else ""))
