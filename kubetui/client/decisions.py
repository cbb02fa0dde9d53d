"""Reading a pod's scheduling decisions (``PodSchedulingDecisions``, see ``kubetui.client.views``).

Pure functions over the API object the scheduler's decisions path serves, so
any client (the TUI's ``w``, ``kubetui explain``) can say why a node won
without importing the scheduler.
"""

from __future__ import annotations

from typing import Any

from kubetui.client.views import BINDING_FAILED, SCHEDULED


# --- "why this node?" (the TUI's `w`) ------------------------------------------------------------

def score_margins(winner: dict[str, Any], runner_up: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Each Score plugin's weighted score on the winner and on the runner-up: ``(plugin, winner, runner_up)``.

    In the attempt's plugin order; a plugin missing on one side counts 0.

    >>> score_margins({"scores": [{"plugin": "A", "weighted": 85}, {"plugin": "T", "weighted": 300}]},
    ...               {"scores": [{"plugin": "A", "weighted": 70}, {"plugin": "T", "weighted": 300}]})
    [('A', 85, 70), ('T', 300, 300)]
    """
    theirs = {s["plugin"]: s.get("weighted", 0) for s in runner_up.get("scores") or ()}
    ours = {s["plugin"]: s.get("weighted", 0) for s in winner.get("scores") or ()}
    order = list(ours) + [p for p in theirs if p not in ours]
    return [(p, ours.get(p, 0), theirs.get(p, 0)) for p in order]


def _margin_list(items: list[tuple[str, int, int]]) -> str:
    parts = [f"{p} ({'+' if w > r else '−'}{abs(w - r)}: {w} vs {r})" for p, w, r in items]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def why_this_node(attempt: dict[str, Any]) -> list[str]:
    """Sentences saying why the selected node won: the plugins whose *weighted* scores set it apart.

    The runner-up is the best-scored other feasible node. A plugin that gave
    both the same (TaintToleration's 300 on untainted nodes, say) decided
    nothing and is named only as such. When the best total is shared, the
    scheduler picked one of the tied nodes at random (upstream's
    ``selectHost``), and that is what the sentences say.

    Example: node-1 177 (NodeResourcesFit 85, BalancedAllocation 92,
    TaintToleration 300) against node-2 158 (70, 88, 300) →
    "… The difference: NodeResourcesFit (+15: 85 vs 70) and
    NodeResourcesBalancedAllocation (+4: 92 vs 88). The same on both, so no
    part in the choice: TaintToleration 300."
    """
    nodes = attempt.get("nodes") or []
    winner = next((n for n in nodes if n.get("selected")), None)
    if winner is None or attempt.get("outcome") not in (None, SCHEDULED, BINDING_FAILED):
        return []
    name = winner.get("name", "")
    if attempt.get("scoringSkipped"):
        return [f"{name} won without scoring: {attempt['scoringSkipped']}."]
    scored = [n for n in nodes if "total" in n and (n.get("filter") or {}).get("verdict") == "Passed"]
    others = sorted((n for n in scored if n is not winner), key=lambda n: -n["total"])
    if not others:
        return [f"{name} was the only node that passed the filters."]
    runner = others[0]
    total = winner.get("total", 0)
    margins = score_margins(winner, runner)
    if runner["total"] == total:
        tied = [name] + [n["name"] for n in others if n["total"] == total]
        shown = ", ".join(tied[:3]) + (f" and {len(tied) - 3} more" if len(tied) > 3 else "")
        lines = [f"A tie: {shown} all scored {total}; the scheduler picked {name} at random among the "
                 f"{len(tied)} tied nodes, as upstream's selectHost does."]
        if any(w != r for _, w, r in margins):
            lines.append(f"Against {runner['name']}, the plugins differed but added up to the same: "
                         f"{_margin_list([m for m in margins if m[1] != m[2]])}.")
        return lines
    lines = [f"{name} won with a total score of {total} against {runner['name']}'s {runner['total']}."]
    ahead = sorted((m for m in margins if m[1] > m[2]), key=lambda m: m[2] - m[1])
    behind = sorted((m for m in margins if m[1] < m[2]), key=lambda m: m[1] - m[2])
    same = [m for m in margins if m[1] == m[2]]
    lines.append(f"The difference: {_margin_list(ahead)}.")
    if behind:
        lines.append(f"{runner['name']} did better on {_margin_list(behind)}, not enough to win.")
    if same:
        lines.append("The same on both, so no part in the choice: "
                     + ", ".join(f"{p} {w}" for p, w, _ in same) + ".")
    return lines


# --- preemption (the PostFilter step) ------------------------------------------------------------

def preemption_sentences(attempt: dict[str, Any]) -> list[str]:
    """What DefaultPreemption did in this attempt, in words (empty if it did not run).

    >>> preemption_sentences({"postFilter": {"plugin": "DefaultPreemption", "nominatedNode": "node-2",
    ...     "victims": [{"name": "default/batch-x", "priority": 0}], "message": "", "candidates": []}})
    ['Preemption: evicting default/batch-x (priority 0) from node-2; the pod waits for it there (nominatedNodeName).']
    """
    pf = attempt.get("postFilter")
    if not pf:
        return []
    if pf.get("nominatedNode"):
        victims = ", ".join(f"{v['name']} (priority {v['priority']})" for v in pf.get("victims") or ()) or "nothing"
        lines = [f"Preemption: evicting {victims} from {pf['nominatedNode']}; the pod waits for it there "
                 f"(nominatedNodeName)."]
        others = [c for c in pf.get("candidates") or () if c.get("node") != pf["nominatedNode"]]
        if others:
            lines.append("Other candidates lost on upstream's criteria (PDB violations, victim priorities, "
                         "victim count, start times): " + ", ".join(c["node"] for c in others) + ".")
        return lines
    return [pf["message"]] if pf.get("message") else []
