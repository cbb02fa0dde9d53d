"""Auditing: every request the API server serves, as ``audit.k8s.io/v1`` Events in a log file.

Upstream: kube-apiserver's ``--audit-policy-file`` decides, per request, how much
to record (``k8s.io/apiserver/pkg/audit/policy``: the first rule that matches
gives the level ``None``, ``Metadata``, ``Request`` or ``RequestResponse``), and
``--audit-log-path`` writes one JSON Event per line per stage
(``RequestReceived``, ``ResponseStarted`` for watches, ``ResponseComplete``)
with the user, verb, object, response code and the authorizer's decision. It is
how an operator answers "who deleted my Deployment?", and how a drill's report
puts the learner's own actions on a timeline.

kubetui writes ``<state>/audit.log`` with the policy ``DEFAULT_POLICY`` (in the
spirit of the GCE policy upstream's docs show: no heartbeats or components'
reads, Metadata for Secrets, Request bodies for writes) unless the cluster was
started with ``--audit-policy-file``. ``kubetui audit tail`` reads it.
The policy is decided (pure, ``level_for``), the event built (pure,
``build_event``), and only ``AuditLog.write`` touches the disk.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from kubetui.apiserver.rbac import Attributes  # what the policy looks at, as the authorizer

log = logging.getLogger(__name__)

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
AUDIT_FILE = "audit.log"

DEFAULT_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        # heartbeats: every node renews its Lease every few seconds
        {"level": "None", "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
        # the node agents' and control-plane components' reads and watches
        {"level": "None", "userGroups": ["system:nodes"], "verbs": ["get", "list", "watch"]},
        {"level": "None", "users": ["system:kube-proxy", "system:kube-scheduler", "system:kube-controller-manager",
                                    "system:apiserver"], "verbs": ["get", "list", "watch"]},
        {"level": "None", "userGroups": ["system:nodes"], "resources": [{"group": "", "resources": ["nodes/status"]}]},
        {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version", "/openapi*"]},
        {"level": "None", "resources": [{"group": "controlplane.kubetui.dev"}, {"group": "networking.kubetui.dev"},
                                        {"group": "scheduling.kubetui.dev"}]},
        # Secrets, ConfigMaps and tokens: who and what, never the contents
        {"level": "Metadata", "resources": [
            {"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
            {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]},
        # writes: with the request body
        {"level": "Request", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "Metadata"},
    ],
}


class PolicyError(ValueError):
    """An audit policy that is not one (the message says which field)."""


def validate_policy(policy: Any) -> dict[str, Any]:
    """The policy if it is an ``audit.k8s.io/v1`` Policy, else ``PolicyError`` (as kube-apiserver refuses to start)."""
    if not isinstance(policy, dict) or policy.get("kind") != "Policy" or \
            policy.get("apiVersion") not in ("audit.k8s.io/v1", "audit.k8s.io/v1beta1"):
        raise PolicyError("an audit policy is apiVersion audit.k8s.io/v1, kind Policy")
    for stage in policy.get("omitStages") or ():
        if stage not in STAGES:
            raise PolicyError(f"omitStages: Unsupported value: {stage!r}: supported values: {', '.join(STAGES)}")
    rules = policy.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("rules: Required value: a policy needs at least one rule")
    for i, rule in enumerate(rules):
        if rule.get("level") not in LEVELS:
            raise PolicyError(f"rules[{i}].level: Unsupported value: {rule.get('level')!r}: supported values: "
                              f"{', '.join(LEVELS)}")
        if rule.get("nonResourceURLs") and (rule.get("resources") or rule.get("namespaces")):
            raise PolicyError(f"rules[{i}].nonResourceURLs: Invalid value: rules cannot apply to both regular "
                              "resources and non-resource URLs")
        for stage in rule.get("omitStages") or ():
            if stage not in STAGES:
                raise PolicyError(f"rules[{i}].omitStages: Unsupported value: {stage!r}")
    return policy


def load_policy(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The policy in ``path`` (YAML or JSON), or the built-in one when no path is given."""
    if not path:
        return DEFAULT_POLICY
    import yaml
    try:
        policy = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise PolicyError(f"audit policy {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"audit policy {path}: not YAML: {exc}") from None
    try:
        return validate_policy(policy)
    except PolicyError as exc:
        raise PolicyError(f"audit policy {path}: {exc}") from None


def _resource_matches(facts: Attributes, groups: list[dict[str, Any]]) -> bool:
    full = f"{facts.resource}/{facts.subresource}" if facts.subresource else facts.resource
    for gr in groups:
        if gr.get("group", "") != facts.api_group:
            continue
        resources = gr.get("resources") or []
        if resources and not any(r in ("*", full) or (r == f"*/{facts.subresource}" and facts.subresource)
                                 or (r == f"{facts.resource}/*" and facts.subresource) for r in resources):
            continue
        names = gr.get("resourceNames") or []
        if names and facts.name not in names:
            continue
        return True
    return False


def _url_matches(path: str, patterns: list[str]) -> bool:
    return any(p == "*" or p == path or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns)


def rule_matches(rule: dict[str, Any], facts: Attributes) -> bool:
    """Upstream ``policyRuleEvaluator.ruleMatches``."""
    if rule.get("users") and facts.user.name not in rule["users"]:
        return False
    if rule.get("userGroups") and not set(rule["userGroups"]) & set(facts.user.groups):
        return False
    if rule.get("verbs") and facts.verb not in rule["verbs"]:
        return False
    if rule.get("resources") or rule.get("namespaces"):
        if not facts.resource_request:
            return False
        if rule.get("namespaces") and facts.namespace not in rule["namespaces"]:
            return False
        if rule.get("resources") and not _resource_matches(facts, rule["resources"]):
            return False
    if rule.get("nonResourceURLs"):
        if facts.resource_request or not _url_matches(facts.path, rule["nonResourceURLs"]):
            return False
    return True


def level_for(policy: dict[str, Any], facts: Attributes) -> tuple[str, frozenset[str]]:
    """The level and the stages to omit for one request: the first matching rule's, else None."""
    for rule in policy.get("rules") or ():
        if rule_matches(rule, facts):
            return rule["level"], frozenset(policy.get("omitStages") or ()) | frozenset(rule.get("omitStages") or ())
    return "None", frozenset()


def rfc3339_micro(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def build_event(*, level: str, stage: str, audit_id: str, facts: Attributes, request_uri: str,
                api_version: str, source_ip: str, user_agent: str, received: float, now: float,
                code: int | None = None, status: dict[str, Any] | None = None, decision: str = "allow",
                impersonated: tuple[str, tuple[str, ...]] | None = None, authenticated: tuple[str, tuple[str, ...]]
                | None = None, request_object: Any = None, response_object: Any = None) -> dict[str, Any]:
    """One ``audit.k8s.io/v1`` Event, field for field as kube-apiserver's log backend writes it."""
    user_name, user_groups = authenticated or (facts.user.name, tuple(facts.user.groups))
    ev: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": audit_id, "stage": stage,
        "requestURI": request_uri, "verb": facts.verb,
        "user": {"username": user_name, "groups": list(user_groups)},
    }
    if impersonated:
        ev["impersonatedUser"] = {"username": impersonated[0], "groups": list(impersonated[1])}
    ev["sourceIPs"] = [source_ip] if source_ip else []
    if user_agent:
        ev["userAgent"] = user_agent
    if facts.resource_request:
        ref = {"resource": facts.resource, "namespace": facts.namespace, "name": facts.name,
               "apiGroup": facts.api_group, "apiVersion": api_version, "subresource": facts.subresource}
        ev["objectRef"] = {k: v for k, v in ref.items() if v}
    if code is not None:
        rs: dict[str, Any] = {"metadata": {}, "code": code}
        if status and code >= 400:
            rs.update({k: status[k] for k in ("status", "message", "reason", "details") if status.get(k)})
        ev["responseStatus"] = rs
    if level in ("Request", "RequestResponse") and request_object is not None:
        ev["requestObject"] = request_object
    if level == "RequestResponse" and response_object is not None:
        ev["responseObject"] = response_object
    ev["requestReceivedTimestamp"] = rfc3339_micro(received)
    ev["stageTimestamp"] = rfc3339_micro(now)
    ev["annotations"] = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": ""}
    return ev


class RawJSON(str):
    """A JSON text to embed in an event as is (a request body that is already one line of JSON)."""


def new_audit_id() -> str:
    return str(uuid.uuid4())


class AuditLog:
    """The log backend: JSON lines appended to ``path``, rotated at ``max_bytes`` (``--audit-log-maxsize``).

    Lines are buffered and flushed a moment later (and on close), so a burst of
    requests costs one write; a crash loses at most that moment's lines, never
    the file's earlier ones.
    """

    FLUSH_SECONDS = 0.2

    def __init__(self, path: Path, policy: dict[str, Any] | None = None, *, max_bytes: int = 50 << 20,
                 max_backups: int = 3) -> None:
        self.path = Path(path)
        self.policy = validate_policy(policy or DEFAULT_POLICY)
        self.max_bytes = max_bytes
        self.max_backups = max_backups
        self._buf: list[str] = []
        self._flush_handle: Any = None
        self._levels: dict[Attributes, tuple[str, frozenset[str]]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def level(self, facts: Attributes) -> tuple[str, frozenset[str]]:
        # the same kinds of request repeat (a controller's updates, a bench's creates): remember the answer
        found = self._levels.get(facts)
        if found is None:
            if len(self._levels) >= 4096:
                self._levels.clear()
            found = self._levels[facts] = level_for(self.policy, facts)
        return found

    def write(self, event: dict[str, Any]) -> None:
        raw = event.get("requestObject")
        if isinstance(raw, RawJSON):
            rest = json.dumps({k: v for k, v in event.items() if k != "requestObject"}, separators=(",", ":"))
            line = f'{rest[:-1]},"requestObject":{raw}}}'
        else:
            line = json.dumps(event, separators=(",", ":"))
        self._buf.append(line + "\n")
        if self._flush_handle is None:
            try:
                import asyncio
                self._flush_handle = asyncio.get_running_loop().call_later(self.FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no loop (a test, a tool): write now
                self.flush()

    def flush(self) -> None:
        self._flush_handle = None
        if not self._buf:
            return
        data, self._buf = "".join(self._buf), []
        try:
            if self.path.exists() and self.path.stat().st_size + len(data) > self.max_bytes:
                self._rotate()
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as f:
                f.write(data)
        except OSError as exc:  # a full disk must not fail requests (upstream's log backend drops, too)
            log.warning("audit log %s: %s (events dropped)", self.path, exc)

    def _rotate(self) -> None:
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime())
        os.replace(self.path, self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}"))
        backups = sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))
        for old in backups[:-self.max_backups] if self.max_backups else backups:
            old.unlink(missing_ok=True)

    def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush()


# ------------------------------------------------------------------ reading the log (kubetui audit tail)

def event_matches(ev: dict[str, Any], *, user: str | None = None, verb: str | None = None,
                  namespace: str | None = None, resource: str | None = None) -> bool:
    """Whether an event is one ``kubetui audit tail``'s filters ask for (the acting user or the impersonated one)."""
    ref = ev.get("objectRef") or {}
    users = {ev.get("user", {}).get("username"), (ev.get("impersonatedUser") or {}).get("username")}
    return ((user is None or user in users) and (verb is None or ev.get("verb") == verb)
            and (namespace is None or ref.get("namespace") == namespace)
            and (resource is None or resource in (ref.get("resource"), _qualified(ref))))


def _qualified(ref: dict[str, Any]) -> str:
    """``deployments.apps/scale``, ``pods/exec``: how kubectl names a resource and subresource."""
    name = ref.get("resource", "")
    if ref.get("apiGroup"):
        name += "." + ref["apiGroup"]
    return name + ("/" + ref["subresource"] if ref.get("subresource") else "")


def event_row(ev: dict[str, Any]) -> list[str]:
    """TIME, USER, VERB, RESOURCE, NAMESPACE, NAME, CODE, DECISION of one event (the table's columns)."""
    ref = ev.get("objectRef") or {}
    user = ev.get("user", {}).get("username", "")
    if ev.get("impersonatedUser"):
        user += f" (as {ev['impersonatedUser'].get('username', '')})"
    stamp = ev.get("stageTimestamp", "")
    return [stamp[11:23] if len(stamp) > 23 else stamp, user, ev.get("verb", ""),
            _qualified(ref) if ref else ev.get("requestURI", "").split("?")[0], ref.get("namespace", ""),
            ref.get("name", ""), str((ev.get("responseStatus") or {}).get("code", "")),
            (ev.get("annotations") or {}).get("authorization.k8s.io/decision", "")]


TABLE_HEADER = ["TIME", "USER", "VERB", "RESOURCE", "NAMESPACE", "NAME", "CODE", "DECISION"]
