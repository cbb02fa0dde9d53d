"""Pure helpers of ``kubetui bench up|pods`` (kubetui/bench/nodes.py); the benchmarks themselves need Docker."""

from __future__ import annotations

import argparse

import pytest

from kubetui.bench.nodes import bench_pod, parse_mem, percentile, register


@pytest.mark.parametrize("values, p, expected", [
    ([], 50, None),
    ([3.0], 99, 3.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([4.0, 1.0, 3.0, 2.0], 99, 4.0),
    (list(range(1, 101)), 99, 99),
    (list(range(1, 101)), 50, 50),
    (list(range(1, 101)), 100, 100),
])
def test_percentile_nearest_rank(values, p, expected):
    assert percentile(values, p) == expected


@pytest.mark.parametrize("text, expected", [
    ("11.3MiB", 11.3 * 2 ** 20), ("512KiB", 512 * 1024), ("1.5GiB", 1.5 * 2 ** 30), ("0B", 0.0), (" 20MB ", 20e6),
])
def test_parse_mem(text, expected):
    assert parse_mem(text) == pytest.approx(expected)


def test_parse_mem_rejects_other_text():
    with pytest.raises(ValueError, match="docker stats"):
        parse_mem("--")


def test_bench_pod_and_cli_defaults():
    p = bench_pod(7, "busybox:1.36", ["sleep", "3600"])
    assert p["metadata"]["name"] == "start-0007" and p["metadata"]["labels"] == {"bench": "pods"}
    assert p["spec"]["containers"][0]["command"] == ["sleep", "3600"]
    assert "command" not in bench_pod(1, "kubetui/hello:1", [])["spec"]["containers"][0]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    up = parser.parse_args(["up"])
    assert up.nodes == 3 and up.runs == 3 and not up.json
    pods = parser.parse_args(["pods", "--json"])
    assert pods.pods == 100 and pods.json and pods.image == "busybox:1.36"
