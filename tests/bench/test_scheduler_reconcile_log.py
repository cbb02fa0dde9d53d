"""``kubetui bench scheduler`` measures the reconcile log on and off at a tiny size and reports every figure
(values are not asserted: speed targets are measured by the bench, not by tests)."""

from __future__ import annotations

import argparse
import json

from kubetui.bench.scheduler import register, run


def test_bench_scheduler_with_and_without_the_reconcile_log(capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["scheduler", "--nodes", "5", "--pods", "20", "--replicasets", "3", "--rs-pods", "2",
                              "--repeat", "1", "--json"])
    assert run(args) == 0
    out = json.loads(capsys.readouterr().out)
    cost = out["reconcileLog"]
    for name in ("e2e", "ctl"):
        assert cost[name]["off"]["records"] == 0 and cost[name]["on"]["records"] > 0
        assert cost[name]["cpuOff"] > 0 and cost[name]["cpuOn"] > 0 and "costPercent" in cost[name]
    assert cost["e2e"]["on"]["records"] == 20 and cost["e2e"]["on"]["bound"] == 20   # one cycle per pod
    assert not cost["ctl"]["on"]["timedOut"] and cost["perRecord"]["microseconds"] is not None
    assert out["endToEnd"]["reconcileLog"] == "both"
