"""The Deployment controller's arithmetic: hashes, template equality, surge/unavailable, conditions.

Upstream: ``pkg/controller/deployment/util/deployment_util.go`` and
``pkg/controller/history`` (ComputeHash). All pure functions on plain dicts,
so they can be read, table-tested, and shown in the TUI.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from kubetui.api.defaults import default_pod_template
from kubetui.controllers.util import meta

Obj = dict[str, Any]

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations a Deployment does not pass on to its ReplicaSets (skipCopyAnnotation).
SKIP_COPY = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
             "deprecated.deployment.rollback.to"}

# Condition reasons (deployment_util.go)
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

# rand.SafeEncodeString's alphabet: no vowels (no accidental words), no look-alikes.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- templates ---

def _prune(value: Any) -> Any:
    """Drop empty values (``{}``, ``[]``, ``None``, ``""``): Go's omitempty makes them 'unset'."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ({}, [], None, "")}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def normalized_template(template: Obj | None) -> Obj:
    """A pod template as the API server would store it, minus pod-template-hash and empties.

    kubectl's ``rollout undo`` sends the old ReplicaSet's template back; after
    defaulting and JSON round trips it may differ only in noise such as
    ``resources: {}`` or ``creationTimestamp: null``, which must not count.
    """
    t = copy.deepcopy(template or {})
    default_pod_template(t)
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    t.get("metadata", {}).pop("creationTimestamp", None)
    return _prune(t)


def equal_ignore_hash(a: Obj | None, b: Obj | None) -> bool:
    """``EqualIgnoreHash``, made semantic: templates equal after normalizing."""
    return normalized_template(a) == normalized_template(b)


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """``rand.SafeEncodeString``: map each character onto the safe alphabet."""
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in s)


def compute_hash(template: Obj | None, collision_count: int | None = None) -> str:
    """The ``pod-template-hash``: fnv32a over the (normalized) template, safe-encoded.

    Upstream hashes Go's printed struct; kubetui hashes canonical JSON of the
    normalized template, which is just as stable across restarts.
    ``collisionCount`` is mixed in when two templates would share a name.

    >>> compute_hash({"spec": {"containers": [{"name": "c", "image": "nginx"}]}}) == \\
    ...     compute_hash({"spec": {"containers": [{"name": "c", "image": "nginx", "resources": {}}]}})
    True
    """
    data = json.dumps(normalized_template(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(int(collision_count)).encode()
    return safe_encode(str(fnv32a(data)))


# --- replicas arithmetic ---

def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: ``"25%"`` of 10 is 3 rounded up, 2 down."""
    if value is None:
        return 0
    if isinstance(value, str):
        if value.endswith("%"):
            pct = int(value[:-1])
            x = pct * total / 100
            return math.ceil(x) if round_up else math.floor(x)
        return int(value)
    return int(value)


def is_rolling(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def replicas_of(obj: Obj | None) -> int:
    if obj is None:
        return 0
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable down; both 0 would deadlock, so unavailable=1."""
    surge = resolve_int_or_percent(max_surge, desired, True)
    unavailable = resolve_int_or_percent(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(d: Obj) -> Obj:
    return (((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate")) or {}


def max_surge(d: Obj) -> int:
    if not is_rolling(d):
        return 0
    r = _rolling(d)
    return resolve_fenceposts(r.get("maxSurge", "25%"), r.get("maxUnavailable", "25%"), replicas_of(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas_of(d) == 0:
        return 0
    r = _rolling(d)
    _, unavailable = resolve_fenceposts(r.get("maxSurge", "25%"), r.get("maxUnavailable", "25%"), replicas_of(d))
    return min(unavailable, replicas_of(d))


def total_spec_replicas(rss: list[Obj | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def total_status(rss: list[Obj | None], field: str) -> int:
    return sum(int((rs.get("status") or {}).get(field) or 0) for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now (``NewRSNewReplicas``).

    Rolling update: total pods may reach ``replicas + maxSurge``. With 10
    replicas, 25% surge (=3), old RS at 10 and new at 0: the new RS may grow
    to 3. Recreate: straight to ``replicas``.
    """
    if not is_rolling(d):
        return replicas_of(d)
    current = total_spec_replicas(all_rss)
    max_total = replicas_of(d) + max_surge(d)
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + scale_up


def max_scaled_down(d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> int:
    """How many old pods may go now (``reconcileOldReplicaSets``).

    ``allPods - minAvailable - newRSUnavailable``: never below
    ``replicas - maxUnavailable`` available pods, counting the new RS's
    not-yet-available pods as unavailable.
    """
    min_available = replicas_of(d) - max_unavailable(d)
    new_unavailable = replicas_of(new_rs) - int(((new_rs or {}).get("status") or {}).get("availableReplicas") or 0)
    return total_spec_replicas(all_rss) - min_available - new_unavailable


# --- annotations ---

def revision_of(rs: Obj | None) -> int:
    try:
        return int((meta(rs or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision_of(rs) for rs in rss), default=0)


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = meta(rs).get("annotations") or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    if not replicas_annotations_need_update(rs, desired, max_replicas):
        return False
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    ann[DESIRED_REPLICAS] = str(desired)
    ann[MAX_REPLICAS] = str(max_replicas)
    return True


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """``SetNewReplicaSetAnnotations``: copy annotations, bump the revision, keep revision history."""
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in (meta(d).get("annotations") or {}).items():
        if k not in SKIP_COPY and ann.get(k) != v:
            ann[k] = v
            changed = True
    old = ann.get(REVISION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return changed
    if old_int < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old:
            # Rolled back to this ReplicaSet: remember the revisions it had before.
            history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
            ann[REVISION_HISTORY] = ",".join(history + [old])
    if not exists and set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)):
        changed = True
    return changed


# --- conditions ---

def get_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def new_condition(type_: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: Obj, cond: Obj) -> None:
    """``SetDeploymentCondition``: no-op if status and reason are unchanged; keep transition time."""
    current = get_condition(status, cond["type"])
    if current and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: Obj, type_: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != type_]


def deployment_complete(d: Obj, status: Obj) -> bool:
    """All replicas updated and available, and the latest generation observed."""
    n = replicas_of(d)
    return (status.get("updatedReplicas", 0) == n and status.get("replicas", 0) == n
            and status.get("availableReplicas", 0) == n
            and status.get("observedGeneration", 0) >= meta(d).get("generation", 0))


def deployment_progressing(d: Obj, new: Obj) -> bool:
    """Did anything move since the last status (``DeploymentProgressing``)?"""
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def get_proportion(rs: Obj | None, d: Obj, to_add: int, added: int, d_status_replicas: int) -> int:
    """``GetProportion``: this RS's share of a scaling change during a rollout."""
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _rs_fraction(rs, d, d_status_replicas)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _rs_fraction(rs: Obj, d: Obj, d_status_replicas: int) -> int:
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas_of(d) + max_surge(d)
    try:
        annotated = int((meta(rs).get("annotations") or {})[MAX_REPLICAS])
    except (KeyError, ValueError):
        annotated = 0
    if annotated == 0:
        # No (or a zero) max-replicas annotation, e.g. someone edited the RS by hand:
        # fall back to the Deployment's current size, as upstream's getReplicaSetFraction.
        annotated = d_status_replicas
        if annotated == 0:
            return 0
    new_size = replicas_of(rs) * deployment_replicas / annotated
    # Go's math.Round rounds half away from zero.
    return int(math.floor(new_size + 0.5)) - replicas_of(rs)
