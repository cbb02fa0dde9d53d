"""What the API server checks of a request body before any kind's strategy sees it.

Upstream: the codec's strict decoding (``k8s.io/apimachinery/pkg/runtime/serializer``:
wrong types are a 400, unknown fields a 400 or a warning per ``fieldValidation``),
the handlers' checks of apiVersion/kind and namespace against the URL
(``apiserver/pkg/endpoints/handlers/rest.go``), ``path.ValidatePathSegmentName``
for names, and ``ValidateObjectMetaUpdate``'s rule that a deleting object
takes no new finalizers.
"""

from __future__ import annotations

import json
from typing import Any

from kubetui.api.errors import BadRequest, field_error
from kubetui.api.resources import Resource, is_custom
from kubetui.apiserver.hooks import Hooks, prune, warn

Obj = dict[str, Any]


def path_segment_errors(value: Any) -> list[str]:
    """``path.ValidatePathSegmentName``: a name must be usable as one URL path segment."""
    if not isinstance(value, str):
        return ["must be a string"]
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def check_type_meta(resource: Resource, obj: Obj) -> None:
    """Fill apiVersion/kind from the URL (the Python client sends neither); refuse others."""
    if not isinstance(obj, dict):
        raise BadRequest(f"the body of the request must be a {resource.kind} object")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version not in (None, "", resource.api_version):
        raise BadRequest(f"the API version in the data ({api_version}) does not match the expected "
                         f"API version ({resource.api_version})")
    if kind not in (None, "", resource.kind):
        raise BadRequest(f'{kind} in version "{resource.version}" cannot be handled as a '
                         f'{resource.kind}: the kind in the body does not match the resource')
    if api_version in (None, "") or kind in (None, ""):
        # apiVersion and kind lead, as in every manifest.
        rest = {k: obj.pop(k) for k in list(obj) if k not in ("apiVersion", "kind")}
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        obj.update(rest)
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise BadRequest(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                         f"{resource.kind}: metadata must be an object")


def check_object_namespace(resource: Resource, namespace: str | None, meta: Obj) -> None:
    if not resource.namespaced:
        meta.pop("namespace", None)
        return
    have = meta.get("namespace")
    if have in (None, ""):
        meta["namespace"] = namespace
    elif have != namespace:
        raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")


def decode_checks(h: Hooks, resource: Resource, obj: Obj, field_validation: str | None) -> None:
    """What strict JSON decoding into Go types catches: wrong types (400) and unknown fields."""
    if h.decodes_cleanly(resource, obj):
        return
    if h.type_errors is not None:
        causes = h.type_errors(resource, obj)
        if causes:
            # Go's decoder goes on past a type error but reports only the earliest one, and
            # its message names the field itself ("... Go struct field DeploymentSpec.spec.replicas ...")
            detail = causes[0].get("message", "")
            raise BadRequest(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                             f"{resource.kind}: {detail}", kind=resource.kind,
                             name=(obj.get("metadata") or {}).get("name"), causes=causes)
    if h.unknown_fields is None:
        return
    unknown = h.unknown_fields(resource, obj)
    if not unknown:
        return
    mode = (field_validation or "Strict").capitalize()
    if mode == "Strict":
        detail = "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown)
        if is_custom(resource):  # the unstructured decoder of a custom resource says which kind it was decoding
            detail = f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: {detail}'
        raise BadRequest(detail)
    for f in unknown:
        if mode == "Warn":
            warn(f'unknown field "{f}"')
        prune(obj, f)


def finalizer_causes(new: Obj, old: Obj) -> list[dict[str, str]]:
    old_meta = old.get("metadata") or {}
    if old_meta.get("deletionTimestamp") is None:
        return []
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
    if not added:
        return []
    shown = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
    return [field_error("metadata.finalizers", "Forbidden: no new finalizers can be added if the object "
                        f"is being deleted, found new finalizers {shown}", "FieldValueForbidden")]
