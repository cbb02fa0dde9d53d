"""The audit filter: wraps one request, writes its audit Events (upstream ``endpoints/filters/audit.go``).

It runs after authentication (so it knows the user) and around authorization
(so a forbidden request is recorded with ``authorization.k8s.io/decision:
forbid``), and records the response code the client got. Which events and how
much of them is the policy's decision (``audit.level_for``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Awaitable, Callable

import yaml
from aiohttp import web

from kubetui.api.errors import StatusError
from kubetui.apiserver import protobuf, rbac
from kubetui.apiserver.audit import AuditLog, RawJSON, build_event, new_audit_id
from kubetui.apiserver.handlers import REQUEST_BODY, media_type

_WRITES = ("create", "update", "patch")
_STREAMS = ("exec", "attach", "portforward", "proxy")  # upgraded connections: no body to record


def _api_version(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        return parts[1]
    if len(parts) >= 3 and parts[0] == "apis":
        return f"{parts[1]}/{parts[2]}"
    return ""


def _body_object(request: web.Request) -> Any:
    """The request body the handler read, decoded (JSON, YAML or protobuf), or None.

    A one-line JSON body is returned as ``RawJSON``: the log line embeds its bytes as
    they came, instead of parsing and re-encoding them (most of what auditing a write costs).
    """
    raw = request.get(REQUEST_BODY)
    if not raw:
        return None
    ctype = media_type(request)
    if ctype in ("", "application/json") or ctype.endswith("patch+json"):
        stripped = raw.strip()
        if stripped[:1] in (b"{", b"[") and b"\n" not in stripped and b"\r" not in stripped:
            try:
                return RawJSON(stripped.decode())
            except UnicodeDecodeError:
                return None
    try:
        if ctype == protobuf.PROTOBUF:
            return protobuf.decode(raw)
        if "yaml" in ctype:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except Exception:  # noqa: BLE001 - a body the handler refused: the event still records the request
        return None


def _object_name(obj: Any) -> str:
    if isinstance(obj, RawJSON):
        try:
            obj = json.loads(obj)
        except ValueError:
            return ""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


async def audited(audit: AuditLog, request: web.Request, attrs: rbac.Attributes, *, authenticated: rbac.Subject,
                  now: Callable[[], float], authorize: Callable[[], None],
                  handler: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Authorize and serve ``request``, recording it as the policy says."""
    facts = attrs
    level, omit = audit.level(facts)
    if level == "None":
        authorize()
        return await handler()
    received = now()
    audit_id = request.headers.get("Audit-ID") or new_audit_id()
    impersonated = None
    if authenticated.name != attrs.user.name or tuple(authenticated.groups) != tuple(attrs.user.groups):
        impersonated = (attrs.user.name, tuple(attrs.user.groups))
    peer = request.transport.get_extra_info("peername") if request.transport else None
    common = dict(level=level, audit_id=audit_id, facts=facts, request_uri=request.path_qs,
                  api_version=_api_version(request.path), source_ip=peer[0] if peer else "",
                  user_agent=request.headers.get("User-Agent", ""), received=received,
                  authenticated=(authenticated.name, tuple(authenticated.groups)), impersonated=impersonated)
    if "RequestReceived" not in omit:
        audit.write(build_event(stage="RequestReceived", now=received, **common))
    try:
        authorize()
    except StatusError as exc:
        if "ResponseComplete" not in omit:
            audit.write(build_event(stage="ResponseComplete", now=now(), code=exc.code, status=exc.status(),
                                    decision="forbid", **common))
        raise
    if attrs.verb == "watch" and "ResponseStarted" not in omit:
        audit.write(build_event(stage="ResponseStarted", now=now(), code=200, **common))
    code, status, response = 500, None, None
    try:
        response = await handler()
        code = response.status
        return response
    except StatusError as exc:
        code, status = exc.code, exc.status()
        raise
    except web.HTTPException as exc:
        code = exc.status
        raise
    finally:
        if "ResponseComplete" not in omit:
            request_object = None
            if level != "Metadata" and attrs.verb in _WRITES and attrs.subresource not in _STREAMS:
                request_object = _body_object(request)
            if attrs.verb == "create" and not facts.name and not attrs.subresource:
                # upstream's LogRequestObject names the object a create sends (not a generated name)
                name = _object_name(request_object if request_object is not None else _body_object(request))
                if name:
                    common["facts"] = dataclasses.replace(facts, name=name)
            response_object = None
            if level == "RequestResponse" and isinstance(response, web.Response) and response.body:
                try:
                    response_object = json.loads(response.body)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    response_object = None
            audit.write(build_event(stage="ResponseComplete", now=now(), code=code, status=status,
                                    request_object=request_object, response_object=response_object, **common))
