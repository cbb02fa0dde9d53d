"""Stabilization windows and scaling policies (pure), with upstream's cases and worked examples."""

from __future__ import annotations

import pytest

from kubetui.controllers import hpa_behavior as hb

NOW = 1_000_000.0


@pytest.mark.parametrize("current, desired, lo, hi, out, reason", [
    # upstream's TestConvertDesiredReplicasWithRules
    (5, 7, 3, 8, 7, "DesiredWithinRange"),
    (3, 1, 2, 8, 2, "TooFewReplicas"),
    (1, 0, 0, 10, 0, "DesiredWithinRange"),
    (20, 1000, 1, 10, 10, "TooManyReplicas"),
    (3, 1000, 1, 2000, 6, "ScaleUpLimit"),
])
def test_convert_with_rules(current, desired, lo, hi, out, reason):
    assert hb.convert_with_rules(current, desired, lo, hi)[:2] == (out, reason)


def test_scale_down_waits_for_the_highest_recommendation_of_the_window():
    h = hb.History([hb.Recommendation(8, NOW - 100)])
    n = hb.normalize(h, 8, 4, 1, 10, now=NOW, downscale_window=300)
    assert (n.replicas, n.able_reason) == (8, "ScaleDownStabilized")
    # once the old recommendation is out of the window, the low one wins
    n = hb.normalize(h, 8, 4, 1, 10, now=NOW + 301, downscale_window=300)
    assert (n.replicas, n.able_reason, n.limited) == (4, "ReadyForNewScale", False)


def test_scale_up_is_immediate_but_capped_at_double_without_behavior():
    n = hb.normalize(hb.History(), 2, 10, 1, 20, now=NOW, downscale_window=300)
    assert (n.replicas, n.limited, n.limited_reason) == (4, True, "ScaleUpLimit")
    n = hb.normalize(hb.History(), 4, 12, 1, 10, now=NOW, downscale_window=300)
    assert (n.replicas, n.limited, n.limited_reason) == (8, True, "ScaleUpLimit")
    n = hb.normalize(hb.History(), 8, 12, 1, 10, now=NOW, downscale_window=300)
    assert (n.replicas, n.limited_reason, n.limited_message) == (
        10, "TooManyReplicas", "the desired replica count is more than the maximum replica count")


UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
      "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60},
                   {"type": "Percent", "value": 100, "periodSeconds": 60}]}
DOWN = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60},
                                            {"type": "Pods", "value": 3, "periodSeconds": 60}]}


@pytest.mark.parametrize("select, limit", [("Max", 20), ("Min", 14), ("Disabled", 10)])
def test_scale_up_policies_pick_the_biggest_or_smallest_change(select, limit):
    assert hb.scale_up_limit_with_rules(10, hb.History(), dict(UP, selectPolicy=select), NOW) == limit


@pytest.mark.parametrize("select, limit", [("Max", 5), ("Min", 7), ("Disabled", 10)])
def test_scale_down_policies_pick_the_biggest_or_smallest_change(select, limit):
    assert hb.scale_down_limit_with_rules(10, hb.History(), dict(DOWN, selectPolicy=select), NOW) == limit


def test_policies_count_from_the_start_of_the_period():
    h = hb.History(scale_up_events=[hb.ScaleEvent(5, NOW - 30)])
    # 5 pods were added 30 s ago: the period started at 5, so Pods allows 9 and Percent 10.
    assert hb.scale_up_limit_with_rules(10, h, UP, NOW) == 10
    out = hb.convert_with_behavior_rate(h, 10, 15, 1, 50, {"scaleUp": UP}, NOW)
    assert out == (10, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
    # after the period the event no longer counts
    assert hb.scale_up_limit_with_rules(10, h, UP, NOW + 31) == 20


def test_behavior_scale_down_window_and_rate():
    behavior = {"scaleUp": UP, "scaleDown": dict(DOWN, stabilizationWindowSeconds=60)}
    h = hb.History([hb.Recommendation(10, NOW - 30)])
    n = hb.normalize_with_behavior(h, 10, 2, 1, 20, behavior, now=NOW, downscale_window=300)
    assert (n.replicas, n.able_reason) == (10, "ScaleDownStabilized")
    n = hb.normalize_with_behavior(h, 10, 2, 1, 20, behavior, now=NOW + 61, downscale_window=300)
    assert (n.replicas, n.limited_reason) == (5, "ScaleDownLimit")  # 50% per minute at most


def test_unset_scale_down_window_is_the_controllers():
    behavior = {"scaleUp": UP, "scaleDown": DOWN}
    h = hb.History([hb.Recommendation(10, NOW - 100)])
    assert hb.normalize_with_behavior(h, 10, 2, 1, 20, behavior, now=NOW, downscale_window=300).replicas == 10
    h = hb.History([hb.Recommendation(10, NOW - 100)])
    assert hb.normalize_with_behavior(h, 10, 2, 1, 20, behavior, now=NOW, downscale_window=15).replicas == 5


def test_scale_up_stabilization_takes_the_lowest_recent():
    behavior = {"scaleUp": dict(UP, stabilizationWindowSeconds=60), "scaleDown": DOWN}
    h = hb.History([hb.Recommendation(3, NOW - 30)])
    n = hb.normalize_with_behavior(h, 2, 8, 1, 20, behavior, now=NOW, downscale_window=300)
    assert (n.replicas, n.able_reason) == (3, "ScaleUpStabilized")


def test_store_scale_event_reuses_outdated_slots():
    h = hb.History()
    behavior = {"scaleUp": UP, "scaleDown": DOWN}
    hb.store_scale_event(h, behavior, 2, 4, NOW)
    hb.store_scale_event(h, behavior, 4, 8, NOW + 100)  # the first is older than the longest period: replaced
    assert [(e.change, e.timestamp) for e in h.scale_up_events] == [(4, NOW + 100)]
    hb.store_scale_event(h, None, 8, 2, NOW)
    assert h.scale_down_events == []
