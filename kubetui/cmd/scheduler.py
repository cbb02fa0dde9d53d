"""``kubetui explain pod NAME``: the scheduler's reasoning for one pod, as tables.

No upstream command does this: ``kubectl describe pod`` shows only the
one-line FailedScheduling event. This reads the scheduler's recorded attempts
from the API server (``GET /apis/scheduling.kubetui.dev/v1alpha1/namespaces/NS/decisions/NAME``,
see ``kubetui.scheduler.explain``) and prints, for the latest attempt (or all
with ``--all``), one row per node: its Filter verdict and reason, each Score
plugin's raw → normalised × weight, the total, and the winner. ``--node N``
adds the full score breakdown of one node.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from kubetui.client.views import decisions_path
from kubetui.cmdutil import CLIError, resolve_state_dir


def _cell(score: dict[str, Any]) -> str:
    return f"{score['raw']} → {score['normalized']} ×{score['weight']} = {score['weighted']}"


def render_attempt(attempt: dict[str, Any], node: str | None = None) -> list[Any]:
    """Rich renderables for one attempt: a header line, the node table, and optionally one node's detail."""
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = []
    pod = attempt["pod"]
    colour = {"Scheduled": "green", "Unschedulable": "red", "BindingFailed": "red"}.get(attempt["outcome"],
                                                                                     "yellow")
    head = Text()
    head.append(f"Attempt {attempt['attempt']} for pod {pod['namespace']}/{pod['name']} at {attempt['time']} "
                f"(profile {attempt['profile']}): ")
    head.append(attempt["outcome"], style=f"bold {colour}")
    out.append(head)
    out.append(Text(attempt["message"]))
    sampled = ""
    if attempt["evaluatedNodes"] < attempt["numAllNodes"]:
        sampled = (f" — sampling: stopped after finding {attempt['numNodesToFind']} feasible nodes "
                   f"(percentageOfNodesToScore)")
    out.append(Text(f"{attempt['numAllNodes']} nodes, {attempt['evaluatedNodes']} filtered, "
                    f"{attempt['feasibleNodes']} feasible{sampled}", style="dim"))
    skipped = [p["plugin"] for p in attempt["preFilter"] if p["code"] == "Skip"]
    if skipped:
        out.append(Text(f"PreFilter skipped (nothing to check for this pod): {', '.join(skipped)}", style="dim"))
    if attempt.get("preScoreSkipped"):
        out.append(Text(f"Score skipped: {', '.join(attempt['preScoreSkipped'])}", style="dim"))
    if attempt.get("scoringSkipped"):
        out.append(Text(f"Scoring skipped: {attempt['scoringSkipped']}", style="dim"))

    plugins = [p["name"] for p in attempt["scorePlugins"]]
    table = Table(title="Nodes (Filter verdict, then Score: raw → normalised ×weight = weighted)")
    table.add_column("node")
    table.add_column("filter")
    table.add_column("reason")
    for p in plugins:
        table.add_column(p, justify="right")
    table.add_column("total", justify="right")
    table.add_column("")
    for n in attempt["nodes"]:
        f = n["filter"]
        verdict = f["verdict"]
        style = {"Passed": "green", "Rejected": "red"}.get(verdict, "dim")
        reason = ""
        if verdict == "Rejected":
            reason = f"{f['plugin']}: {', '.join(f['reasons'])}"
            if f.get("detail"):
                reason += f" ({f['detail']})"
        scores = {s["plugin"]: s for s in n.get("scores") or ()}
        cells = [_cell(scores[p]) if p in scores else "" for p in plugins]
        mark = "★ selected" if n.get("selected") and attempt["outcome"] == "Scheduled" else ""
        table.add_row(n["name"], Text(verdict, style=style), reason, *cells,
                      str(n["total"]) if "total" in n else "", mark)
    out.append(table)
    out.extend(render_post_filter(attempt.get("postFilter")))

    if node is not None:
        entry = next((n for n in attempt["nodes"] if n["name"] == node), None)
        if entry is None:
            out.append(Text(f"node {node} was not part of this attempt", style="yellow"))
        else:
            detail = Table(title=f"Node {node}")
            for col in ("plugin", "raw", "normalized", "weight", "weighted"):
                detail.add_column(col, justify="left" if col == "plugin" else "right")
            for s in entry.get("scores") or ():
                detail.add_row(s["plugin"], str(s["raw"]), str(s["normalized"]), str(s["weight"]),
                               str(s["weighted"]))
            if "total" in entry:
                detail.add_row("total", "", "", "", str(entry["total"]))
            f = entry["filter"]
            out.append(Text(f"Node {node} — Filter: {f['verdict']}"
                            + (f" by {f['plugin']}: {', '.join(f['reasons'])}" if f["verdict"] == "Rejected"
                               else "")))
            if entry.get("scores"):
                out.append(detail)
            elif f["verdict"] == "Passed":
                out.append(Text(f"no scores: {attempt.get('scoringSkipped') or 'not scored'}", style="dim"))
    return out


def render_post_filter(pf: dict[str, Any] | None) -> list[Any]:
    """The PostFilter step (DefaultPreemption): the node nominated and the pods preempted, or why none."""
    from rich.text import Text

    if not pf:
        return []
    out: list[Any] = []
    if pf.get("nominatedNode"):
        victims = ", ".join(f"{v['name']} (priority {v['priority']})" for v in pf["victims"]) or "none"
        out.append(Text(f"PostFilter {pf['plugin']}: preempting on {pf['nominatedNode']}: {victims}; the pod is "
                        f"nominated there (status.nominatedNodeName) until they are gone", style="bold magenta"))
        others = [c for c in pf.get("candidates") or () if c["node"] != pf["nominatedNode"]]
        for c in others:
            out.append(Text(f"  also possible on {c['node']}: {len(c['victims'])} victim(s), "
                            f"{c['pdbViolations']} PodDisruptionBudget violation(s)", style="dim"))
    elif pf.get("message"):
        out.append(Text(f"PostFilter {pf['plugin']}: {pf['message']}", style="magenta"))
    return out


async def fetch_decisions(kubeconfig: Path, namespace: str, name: str) -> dict[str, Any]:
    from kubetui.client.http import HTTPClient

    client = HTTPClient.from_kubeconfig(kubeconfig)
    try:
        return await client.request("GET", decisions_path(namespace, name))
    finally:
        await client.close()


def cmd_explain_pod(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kubetui.api.errors import NotFound, StatusError
    kubeconfig = Path(getattr(args, "kubeconfig", None) or resolve_state_dir(args) / "kubeconfig")
    if not kubeconfig.exists():
        raise CLIError(f"no cluster at {kubeconfig.parent}: start one with `kubetui up`")
    try:
        body = asyncio.run(fetch_decisions(kubeconfig, args.namespace, args.pod))
    except NotFound as e:
        raise CLIError(e.message) from None
    except StatusError as e:
        raise CLIError(f"reading the scheduler's decisions failed: {e.message}") from None
    attempts = body.get("attempts") or []
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    console = Console()
    for attempt in (attempts if args.all else attempts[-1:]):
        for part in render_attempt(attempt, args.node):
            console.print(part)
        console.print()
    return 0


def register(subparsers: Any) -> None:
    explain = subparsers.add_parser(
        "explain", help="why the scheduler put a pod where it did",
        description="Show kube-scheduler's reasoning: each node's Filter verdict and each Score plugin's "
                    "raw, normalised and weighted score, for a real scheduling attempt.")
    sub = explain.add_subparsers(dest="explain_kind", metavar="KIND")
    pod = sub.add_parser("pod", help="a pod's scheduling attempts",
                         description="Print the scheduler's latest attempt for a pod: one row per node.")
    pod.add_argument("pod", metavar="NAME")
    pod.add_argument("-n", "--namespace", default="default", help="the pod's namespace (default: %(default)s)")
    pod.add_argument("--all", action="store_true", help="every recorded attempt, not only the latest")
    pod.add_argument("--node", metavar="NODE", help="also show one node's full score breakdown")
    pod.add_argument("--json", action="store_true", help="print the PodSchedulingDecisions object as JSON")
    # The root parser has --kubeconfig/--name/--state-dir too; SUPPRESS keeps a value given before `explain`.
    pod.add_argument("--kubeconfig", metavar="FILE", default=argparse.SUPPRESS,
                     help="the cluster's kubeconfig (default: the cluster's state dir)")
    pod.add_argument("--name", default=argparse.SUPPRESS, help="cluster name (default: default)")
    pod.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS, help="the cluster's state dir")
    pod.set_defaults(func=cmd_explain_pod)
    explain.set_defaults(func=lambda a: (explain.print_help(), 0)[1])
