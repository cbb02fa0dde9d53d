"""Why a pod is where it is: the scheduler's decision, node by node.

kube-scheduler runs Filter plugins on every node (can the pod run there at
all?), then Score plugins on the survivors (0-100 each, times a weight), and
binds the pod to the highest total. Upstream keeps this only in verbose logs;
kubetui's scheduler records each attempt (``kubetui.scheduler.explain``) and
this screen draws the latest ``PodSchedulingDecisions`` record.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from kubetui.client.decisions import preemption_sentences, why_this_node

Obj = dict[str, Any]


def decision_table(attempt: Obj) -> Table:
    """Nodes as rows: filter verdict (with the rejecting plugin and reason), each score, total."""
    plugins = [p["name"] for p in attempt.get("scorePlugins") or []]
    table = Table(expand=True, show_lines=False)
    table.add_column("NODE", no_wrap=True)
    table.add_column("FILTER")
    for p in plugins:
        weight = next((s.get("weight", 1) for s in attempt.get("scorePlugins") or [] if s["name"] == p), 1)
        table.add_column(f"{p}" + (f" ×{weight}" if weight != 1 else ""), justify="right")
    table.add_column("TOTAL", justify="right")
    for node in attempt.get("nodes") or []:
        f = node.get("filter") or {}
        verdict = f.get("verdict", "")
        if verdict == "Rejected":
            why = "; ".join(f.get("reasons") or []) or f.get("code", "")
            cell = Text(f"✗ {f.get('plugin', '')}: {why}", style="red")
        elif verdict == "Passed":
            cell = Text("✓ passed", style="green")
        else:
            cell = Text("not evaluated", style="dim")
        scores = {s["plugin"]: s for s in node.get("scores") or []}
        score_cells = [str(scores[p]["weighted"]) if p in scores else "" for p in plugins]
        name = Text(("★ " if node.get("selected") else "  ") + node.get("name", ""),
                    style="bold green" if node.get("selected") else "")
        table.add_row(name, cell, *score_cells, str(node.get("total", "")))
    return table


def decision_summary(attempt: Obj) -> str:
    """One paragraph: outcome, the winner and why it won (or why nothing fit)."""
    lines = [f"Attempt {attempt.get('attempt')} at {attempt.get('time', '')}: [b]{attempt.get('outcome')}[/b]",
             attempt.get("message", "")]
    nodes = attempt.get("nodes") or []
    feasible = [n for n in nodes if (n.get("filter") or {}).get("verdict") == "Passed"]
    lines.append(f"{attempt.get('feasibleNodes', len(feasible))} of {attempt.get('numAllNodes', len(nodes))} nodes "
                 f"passed the filters ({attempt.get('evaluatedNodes', len(nodes))} evaluated).")
    lines.extend(why_this_node(attempt))
    lines.extend(preemption_sentences(attempt))
    return "\n".join(lines)


class SchedulerDecisionScreen(Screen[None]):
    """The latest scheduling attempt for a pod (``[``/``]`` for earlier ones).

    | Key | Action |
    | :- | :- |
    | escape / q | back |
    | [ / ] | previous / next attempt |
    | r | reload |
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("left_square_bracket", "attempt(-1)", "Earlier", key_display="["),
        Binding("right_square_bracket", "attempt(1)", "Later", key_display="]"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, pod: Obj) -> None:
        super().__init__()
        self.pod = pod
        self.decisions: Obj | None = None
        self.index = -1

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("loading…", id="decision-summary")
            yield Static("", id="decision-table")
        yield Footer()

    def on_mount(self) -> None:
        md = self.pod["metadata"]
        self.title = f"scheduler decision for {md['namespace']}/{md['name']}"
        self.action_reload()

    @work(exclusive=True, group="explain")
    async def load(self) -> None:
        md = self.pod["metadata"]
        try:
            self.decisions = await self.app.backend.explain(md["namespace"], md["name"])  # type: ignore[attr-defined]
        except Exception as exc:  # the explanation path may 404 or be missing
            self.decisions = None
            self.query_one("#decision-summary", Static).update(f"No scheduler record: {exc}")
            return
        self.index = -1
        self.show()

    def show(self) -> None:
        attempts = (self.decisions or {}).get("attempts") or []
        summary = self.query_one("#decision-summary", Static)
        if not attempts:
            node = self.pod.get("spec", {}).get("nodeName")
            summary.update("The scheduler has no record of this pod"
                           + (f" (it is on {node}; it may have been bound before the scheduler started)." if node else "."))
            self.query_one("#decision-table", Static).update("")
            return
        attempt = attempts[self.index]
        summary.update(decision_summary(attempt))
        self.query_one("#decision-table", Static).update(decision_table(attempt))

    def action_reload(self) -> None:
        self.load()

    def action_attempt(self, step: int) -> None:
        attempts = (self.decisions or {}).get("attempts") or []
        if attempts:
            self.index = max(-len(attempts), min(-1, self.index + step))
            self.show()
