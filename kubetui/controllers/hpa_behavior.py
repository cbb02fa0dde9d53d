"""How fast an HPA may move: stabilization windows and scaling policies (pure, table-tested).

Upstream: ``pkg/controller/podautoscaler/horizontal.go``
(``normalizeDesiredReplicas``/``stabilizeRecommendation`` and
``convertDesiredReplicasWithRules`` for HPAs without ``behavior``;
``normalizeDesiredReplicasWithBehaviors``, ``stabilizeRecommendationWithBehaviors``,
``convertDesiredReplicasWithBehaviorRate``,
``calculateScaleUpLimitWithScalingRules``/``calculateScaleDownLimitWithBehaviors``
and ``storeScaleEvent`` with them).

Two ideas:

- **Stabilization**: the controller remembers every recommendation of the
  window. Scaling down uses the *highest* recommendation of the last
  ``scaleDown.stabilizationWindowSeconds`` (300 s by default), so a short dip in
  load does not remove pods that the next spike needs; scaling up uses the
  *lowest* of ``scaleUp.stabilizationWindowSeconds`` (0 by default: at once).
- **Policies**: each says how much may change within ``periodSeconds``
  (``Pods``: that many pods, ``Percent``: that share of the count at the start
  of the period). ``selectPolicy: Max`` takes the policy allowing the biggest
  change, ``Min`` the smallest, ``Disabled`` forbids that direction. Without
  ``behavior``, scale-up is capped at max(2 x current, 4) per sync.

Each function returns the new count with the reason and message upstream sets
on the ``AbleToScale``/``ScalingLimited`` conditions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class Recommendation:
    replicas: int
    timestamp: float


@dataclass
class ScaleEvent:
    change: int
    timestamp: float
    outdated: bool = False


@dataclass
class History:
    """What the controller remembers per HPA (upstream keeps these maps in the controller, in memory)."""

    recommendations: list[Recommendation] = field(default_factory=list)
    scale_up_events: list[ScaleEvent] = field(default_factory=list)
    scale_down_events: list[ScaleEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Normalized:
    replicas: int
    able_reason: str
    able_message: str
    limited: bool
    limited_reason: str
    limited_message: str


READY = ("ReadyForNewScale", "recommended size matches current size")
DOWN_STABILIZED = ("ScaleDownStabilized",
                   "recent recommendations were higher than current one, applying the highest recent recommendation")
UP_STABILIZED = ("ScaleUpStabilized",
                 "recent recommendations were lower than current one, applying the lowest recent recommendation")
WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
SCALE_UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
SCALE_DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")


# -- without behavior ------------------------------------------------------------

def stabilize(history: History, desired: int, now: float, window: float) -> int:
    """``stabilizeRecommendation``: the highest recommendation within the down-scale window (this one included)."""
    highest, old_index = desired, None
    for i, rec in enumerate(history.recommendations):
        if rec.timestamp < now - window:
            old_index = i
        elif rec.replicas > highest:
            highest = rec.replicas
    _record(history, old_index, desired, now)
    return highest


def _record(history: History, old_index: int | None, desired: int, now: float) -> None:
    """The new recommendation takes an expired one's slot, or is appended (the list stays bounded)."""
    if old_index is not None:
        history.recommendations[old_index] = Recommendation(desired, now)
    else:
        history.recommendations.append(Recommendation(desired, now))


def scale_up_limit(current: int) -> int:
    """``calculateScaleUpLimit``: never more than double (or 4) in one step, against bogus usage spikes."""
    return max(2 * current, 4)


def convert_with_rules(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithRules``: clamp to [min, min(max, scale-up limit)]."""
    limit = scale_up_limit(current)
    if max_replicas > limit:
        maximum, reason = limit, SCALE_UP_LIMIT
    else:
        maximum, reason = max_replicas, TOO_MANY
    if desired < min_replicas:
        return min_replicas, *TOO_FEW
    if desired > maximum:
        return maximum, *reason
    return desired, *WITHIN_RANGE


def normalize(history: History, current: int, desired: int, min_replicas: int, max_replicas: int, *,
              now: float, downscale_window: float) -> Normalized:
    """``normalizeDesiredReplicas``: the path of an HPA without ``spec.behavior``."""
    stabilized = stabilize(history, desired, now, downscale_window)
    able = DOWN_STABILIZED if stabilized != desired else READY
    replicas, reason, message = convert_with_rules(current, stabilized, min_replicas, max_replicas)
    return Normalized(replicas, *able, replicas != stabilized, reason, message)


# -- with behavior ---------------------------------------------------------------

def _window(rules: Obj | None, default: float) -> float:
    value = (rules or {}).get("stabilizationWindowSeconds")
    return float(value) if value is not None else default


def stabilize_with_behavior(history: History, current: int, desired: int, now: float, *,
                            up_window: float, down_window: float) -> tuple[int, str, str]:
    """``stabilizeRecommendationWithBehaviors``: clamp between the lowest recent (up) and highest recent (down)."""
    up, down = desired, desired
    up_cutoff, down_cutoff = now - up_window, now - down_window
    old_index = None
    for i, rec in enumerate(history.recommendations):
        if rec.timestamp > up_cutoff:
            up = min(rec.replicas, up)
        if rec.timestamp > down_cutoff:
            down = max(rec.replicas, down)
        if rec.timestamp < up_cutoff and rec.timestamp < down_cutoff:
            old_index = i
    recommendation = current
    if recommendation < up:
        recommendation = up
    if recommendation > down:
        recommendation = down
    _record(history, old_index, desired, now)
    reason = UP_STABILIZED if desired >= current else DOWN_STABILIZED
    return recommendation, *reason


def _change_in_period(period: float, events: list[ScaleEvent], now: float) -> int:
    """``getReplicasChangePerPeriod``."""
    return sum(e.change for e in events if e.timestamp > now - period)


def scale_up_limit_with_rules(current: int, history: History, rules: Obj, now: float) -> int:
    """``calculateScaleUpLimitWithScalingRules``: the most (Max) or least (Min) any policy allows."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick, result = (min, math.inf) if select == "Min" else (max, -math.inf)
    for p in rules.get("policies") or []:
        period = p.get("periodSeconds", 0)
        start = (current - _change_in_period(period, history.scale_up_events, now)
                 + _change_in_period(period, history.scale_down_events, now))
        if p.get("type") == "Pods":
            proposed = start + p.get("value", 0)
        else:  # Percent: rounded up, or a small count could never grow
            proposed = math.ceil(start * (1 + p.get("value", 0) / 100))
        result = pick(result, proposed)
    return int(result) if math.isfinite(result) else current


def scale_down_limit_with_rules(current: int, history: History, rules: Obj, now: float) -> int:
    """``calculateScaleDownLimitWithBehaviors``: the lowest (Max) or highest (Min) count any policy allows."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick, result = (max, -math.inf) if select == "Min" else (min, math.inf)
    for p in rules.get("policies") or []:
        period = p.get("periodSeconds", 0)
        start = (current - _change_in_period(period, history.scale_up_events, now)
                 + _change_in_period(period, history.scale_down_events, now))
        if p.get("type") == "Pods":
            proposed = start - p.get("value", 0)
        else:  # Percent: Go's int32() truncates toward zero
            proposed = int(start * (1 - p.get("value", 0) / 100))
        result = pick(result, proposed)
    return int(result) if math.isfinite(result) else current


def convert_with_behavior_rate(history: History, current: int, desired: int, min_replicas: int,
                               max_replicas: int, behavior: Obj, now: float) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithBehaviorRate``: apply the policies, then min/max."""
    if desired > current:
        limit = max(scale_up_limit_with_rules(current, history, behavior.get("scaleUp") or {}, now), current)
        if max_replicas > limit:
            maximum, reason = limit, SCALE_UP_LIMIT
        else:
            maximum, reason = max_replicas, TOO_MANY
        if desired > maximum:
            return maximum, *reason
    elif desired < current:
        limit = min(scale_down_limit_with_rules(current, history, behavior.get("scaleDown") or {}, now), current)
        if min_replicas < limit:
            minimum, reason = limit, SCALE_DOWN_LIMIT
        else:
            minimum, reason = min_replicas, TOO_FEW
        if desired < minimum:
            return minimum, *reason
    return desired, *WITHIN_RANGE


def normalize_with_behavior(history: History, current: int, desired: int, min_replicas: int, max_replicas: int,
                            behavior: Obj, *, now: float, downscale_window: float) -> Normalized:
    """``normalizeDesiredReplicasWithBehaviors``; an unset scale-down window is the controller's flag."""
    up_window = _window(behavior.get("scaleUp"), 0.0)
    down_window = _window(behavior.get("scaleDown"), downscale_window)
    stabilized, reason, message = stabilize_with_behavior(history, current, desired, now, up_window=up_window,
                                                          down_window=down_window)
    able = (reason, message) if stabilized != desired else READY
    replicas, lreason, lmessage = convert_with_behavior_rate(history, current, stabilized, min_replicas,
                                                             max_replicas, behavior, now)
    return Normalized(replicas, *able, replicas != stabilized, lreason, lmessage)


def _longest_period(rules: Obj | None) -> float:
    return max((p.get("periodSeconds", 0) for p in (rules or {}).get("policies") or []), default=0)


def store_scale_event(history: History, behavior: Obj | None, previous: int, new: int, now: float) -> None:
    """``storeScaleEvent``: remember a rescale for the policies' periods (only HPAs with behavior use them)."""
    if behavior is None:
        return
    up = new > previous
    events = history.scale_up_events if up else history.scale_down_events
    longest = _longest_period(behavior.get("scaleUp" if up else "scaleDown"))
    for e in events:  # markScaleEventsOutdated
        if e.timestamp < now - longest:
            e.outdated = True
    event = ScaleEvent(abs(new - previous), now)
    old = [i for i, e in enumerate(events) if e.outdated]
    if old:
        events[old[-1]] = event
    else:
        events.append(event)
