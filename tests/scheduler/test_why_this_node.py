"""Issue 12 item 20: "why this node" names the plugins whose weighted scores set the winner apart from
the runner-up, says when a plugin gave every node the same, and says when a tie was broken at random."""

from __future__ import annotations

import pytest

from kubetui.client.decisions import score_margins, why_this_node


def node(name, total=None, scores=None, selected=False, verdict="Passed"):
    n = {"name": name, "filter": {"verdict": verdict}, "selected": selected}
    if total is not None:
        n["total"] = total
        n["scores"] = [{"plugin": p, "weighted": w} for p, w in (scores or {}).items()]
    return n


def attempt(*nodes, outcome="Scheduled", skipped=""):
    return {"outcome": outcome, "scoringSkipped": skipped, "nodes": list(nodes)}


FIT, BAL, TAINT, IPA = "NodeResourcesFit", "NodeResourcesBalancedAllocation", "TaintToleration", "InterPodAffinity"


@pytest.mark.parametrize("case,att,want", [
    ("the same taint score everywhere is not the reason",
     attempt(node("node-1", 477, {FIT: 85, BAL: 92, TAINT: 300}, selected=True),
             node("node-2", 458, {FIT: 70, BAL: 88, TAINT: 300})),
     ["node-1 won with a total score of 477 against node-2's 458.",
      "The difference: NodeResourcesFit (+15: 85 vs 70) and NodeResourcesBalancedAllocation (+4: 92 vs 88).",
      "The same on both, so no part in the choice: TaintToleration 300."]),
    ("the runner-up is the best other node, and a plugin can favour it",
     attempt(node("node-3", 300, {FIT: 60, IPA: 200, BAL: 40}),
             node("node-1", 320, {FIT: 40, IPA: 200, BAL: 80}, selected=True),
             node("node-2", 310, {FIT: 90, IPA: 180, BAL: 40})),
     ["node-1 won with a total score of 320 against node-2's 310.",
      "The difference: NodeResourcesBalancedAllocation (+40: 80 vs 40) and InterPodAffinity (+20: 200 vs 180).",
      "node-2 did better on NodeResourcesFit (−50: 40 vs 90), not enough to win."]),
    ("a tie broken at random",
     attempt(node("node-1", 400, {FIT: 100, TAINT: 300}), node("node-2", 400, {FIT: 100, TAINT: 300}, selected=True),
             node("node-3", 390, {FIT: 90, TAINT: 300})),
     ["A tie: node-2, node-1 all scored 400; the scheduler picked node-2 at random among the 2 tied nodes, "
      "as upstream's selectHost does."]),
    ("a tie whose plugins differ",
     attempt(node("node-1", 200, {FIT: 120, BAL: 80}, selected=True), node("node-2", 200, {FIT: 100, BAL: 100})),
     ["A tie: node-1, node-2 all scored 200; the scheduler picked node-1 at random among the 2 tied nodes, "
      "as upstream's selectHost does.",
      "Against node-2, the plugins differed but added up to the same: NodeResourcesFit (+20: 120 vs 100) and "
      "NodeResourcesBalancedAllocation (−20: 80 vs 100)."]),
    ("a big tie is summarised",
     attempt(*[node(f"node-{i}", 100, {FIT: 100}, selected=i == 0) for i in range(6)]),
     ["A tie: node-0, node-1, node-2 and 3 more all scored 100; the scheduler picked node-0 at random among "
      "the 6 tied nodes, as upstream's selectHost does."]),
    ("one feasible node: no scoring",
     attempt(node("node-1", selected=True), node("node-2", verdict="Rejected"), skipped="only one feasible node"),
     ["node-1 won without scoring: only one feasible node."]),
    ("not scheduled: nothing to explain",
     attempt(node("node-1", verdict="Rejected"), outcome="Unschedulable"), []),
])
def test_why_this_node(case, att, want):
    assert why_this_node(att) == want, case


def test_score_margins_counts_a_missing_plugin_as_zero():
    assert score_margins({"scores": [{"plugin": "A", "weighted": 5}]},
                         {"scores": [{"plugin": "B", "weighted": 7}]}) == [("A", 5, 0), ("B", 0, 7)]
