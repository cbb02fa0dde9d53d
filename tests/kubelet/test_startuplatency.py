"""The kubelet's pod startup latency tracker (kubetui/kubelet/startuplatency.py)."""

from __future__ import annotations

import logging

from kubetui.kubelet.startuplatency import PodStartupLatencyTracker, format_line, parse_line


class Wall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_each_step_keeps_its_first_time_and_the_line_is_logged_once(caplog):
    wall = Wall()
    tracker = PodStartupLatencyTracker(wall)
    tracker.mark("u1", "seen")
    wall.t = 100.2
    tracker.mark("u1", "sandbox")
    wall.t = 100.3
    tracker.mark("u1", "sandbox")               # a second sync: the first time stays
    tracker.mark("u1", "started")
    wall.t = 100.5
    with caplog.at_level(logging.INFO, logger="kubetui.kubelet.startuplatency"):
        marks = tracker.ready("u1", "default/web")
        assert tracker.ready("u1", "default/web") is None        # once per pod
    assert marks == {"seen": 100.0, "sandbox": 100.2, "started": 100.3, "ready": 100.5}
    [record] = caplog.records
    assert parse_line(record.getMessage()) == ("default/web", marks)
    assert 'podStartE2EDuration="0.500s"' in record.getMessage()


def test_a_pod_not_seen_starting_is_not_reported():
    """A pod the kubelet found already running (it restarted) has no start to report."""
    tracker = PodStartupLatencyTracker(Wall())
    tracker.mark("u2", "started")
    assert tracker.ready("u2", "default/old") is None
    tracker.mark("u3", "seen")
    tracker.forget("u3")                        # deleted before it was Ready
    assert tracker.ready("u3", "default/gone") is None


def test_lines_of_other_components_are_not_parsed():
    assert parse_line("INFO kubetui.kubelet: registered node n1") is None
    assert parse_line(format_line("ns/p", {"seen": 1.0, "ready": 2.0})) == ("ns/p", {"seen": 1.0, "ready": 2.0})
