"""``kubetui bench tui`` runs end to end at a tiny size and reports every figure (values are not asserted:
speed targets are measured by the bench, not by tests)."""

from __future__ import annotations

import argparse

import pytest

from kubetui.bench.tui import percentile, run_bench, target_p99


@pytest.mark.parametrize("values,p,expected", [
    ([], 50, 0.0), ([3.0], 99, 3.0), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 75, 3), ([1, 2, 3, 4], 100, 4),
    (list(range(1, 101)), 99, 99),
])
def test_percentile_nearest_rank(values, p, expected):
    assert percentile(values, p) == expected


@pytest.mark.slow
def test_bench_tui_small():
    args = argparse.Namespace(nodes=2, pods=[20], rate=50.0, seconds=0.5, idle_seconds=0.2, timeout=60.0, json=True)
    r = run_bench(args)
    assert r["writes"] > 0
    assert r["event_to_shown_ms"]["samples"] > 0 and r["write_to_shown_ms"]["samples"] > 0
    assert 0 <= r["event_to_shown_ms"]["p50"] <= r["event_to_shown_ms"]["p99"]
    assert 0 <= r["idle_cpu_share"] < 1.5


def test_each_size_has_its_target():
    assert (target_p99(1000), target_p99(5000), target_p99(20), target_p99(9000)) == (50.0, 100.0, 50.0, 100.0)
