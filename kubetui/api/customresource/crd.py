"""CustomResourceDefinition defaulting and validation.

Upstream: ``staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go``
and ``.../apiextensions/validation/validation.go`` (``ValidateCustomResourceDefinition``,
``ValidateCustomResourceDefinitionSpec``, ``ValidateCustomResourceDefinitionNames``,
``ValidateCustomResourceDefinitionStatus``). The messages and field paths are upstream's.
"""

from __future__ import annotations

import re
from typing import Any

from kubetui.api.customresource.schema import _err, go_value, structural_errors
from kubetui.api.validation.names import is_dns1123_label, is_dns1123_subdomain

Obj = dict[str, Any]
Cause = dict[str, str]

STORED_VERSIONS_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """Kubernetes' version ordering (``v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > foo``), as a sort key (smaller first).

    Upstream: ``k8s.io/apimachinery/pkg/version`` ``CompareKubeAwareVersionStrings``.
    """
    m = _VERSION_RE.match(name)
    if m is None:
        return (3, 0, 0, name)
    major = int(m.group(1))
    level = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (level, -major, -minor, name)


def set_defaults(crd: Obj) -> None:
    """``SetDefaults_CustomResourceDefinition``: singular, listKind, conversion strategy, column types."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    conv = spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(conv, dict):
        conv.setdefault("strategy", "None")
    for v in spec.get("versions") or []:
        if isinstance(v, dict):
            for col in v.get("additionalPrinterColumns") or []:
                if isinstance(col, dict) and col.get("priority") is None:
                    col.setdefault("priority", 0)


def validate_crd(crd: Obj, old: Obj | None = None, subresource: str | None = None) -> list[Cause]:
    """``ValidateCustomResourceDefinition`` (and the update's extra rules on stored versions)."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [_err("spec", "Required value", "FieldValueRequired")]
    out: list[Cause] = []
    name = (crd.get("metadata") or {}).get("name", "")
    group, names = spec.get("group") or "", spec.get("names") or {}
    plural = names.get("plural") or ""
    if name != f"{plural}.{group}":
        out.append(_err("metadata.name", f'Invalid value: {go_value(name)}: must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(_err("spec.group", "Required value", "FieldValueRequired"))
    else:
        errs = is_dns1123_subdomain(group)
        if errs:
            out.append(_err("spec.group", f"Invalid value: {go_value(group)}: {errs[0]}"))
        elif len(group.split(".")) < 2:
            out.append(_err("spec.group", f"Invalid value: {go_value(group)}: should be a domain with at least one dot"))
    scope = spec.get("scope")
    if not scope:
        out.append(_err("spec.scope", "Required value", "FieldValueRequired"))
    elif scope not in ("Cluster", "Namespaced"):
        out.append(_err("spec.scope", f'Unsupported value: {go_value(scope)}: supported values: "Cluster", '
                        '"Namespaced"', "FieldValueNotSupported"))
    out += _names(names, "spec.names")
    out += _versions(spec)
    conv = spec.get("conversion") or {}
    if conv.get("strategy") not in ("None", "Webhook"):
        out.append(_err("spec.conversion.strategy", f'Unsupported value: {go_value(conv.get("strategy"))}: '
                        'supported values: "None", "Webhook"', "FieldValueNotSupported"))
    elif conv.get("strategy") == "Webhook":
        out.append(_err("spec.conversion.strategy", 'Unsupported value: "Webhook": kubetui serves custom resources '
                        'only with the "None" conversion strategy (no conversion webhooks)', "FieldValueNotSupported"))
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("scope") and spec.get("scope") != old_spec.get("scope"):
            out.append(_err("spec.scope", f"Invalid value: {go_value(spec.get('scope'))}: field is immutable"))
        if old_spec.get("names", {}).get("plural") and plural != old_spec["names"]["plural"]:
            pass  # metadata.name is immutable, which already pins plural and group
    status = crd.get("status") or {}
    stored = status.get("storedVersions") or []
    served_names = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict)]
    for i, sv in enumerate(stored):
        if sv not in served_names:
            out.append(_err(f"status.storedVersions[{i}]", f"Invalid value: {go_value(sv)}: must appear in "
                            "spec.versions"))
    storage = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")]
    if stored and storage and storage[0] not in stored:
        out.append(_err("status.storedVersions", f"Invalid value: {go_value(stored)}: must have the storage "
                        "version " + storage[0]))
    return out


def _names(names: Obj, path: str) -> list[Cause]:
    out: list[Cause] = []
    for key in ("plural", "singular"):
        v = names.get(key)
        if v is None or v == "":
            if key == "plural":
                out.append(_err(f"{path}.{key}", "Required value", "FieldValueRequired"))
            continue
        errs = is_dns1123_label(v)
        if errs:
            out.append(_err(f"{path}.{key}", f"Invalid value: {go_value(v)}: {errs[0]}"))
    for i, sn in enumerate(names.get("shortNames") or []):
        errs = is_dns1123_label(sn)
        if errs:
            out.append(_err(f"{path}.shortNames[{i}]", f"Invalid value: {go_value(sn)}: {errs[0]}"))
    for key in ("kind", "listKind"):
        v = names.get(key)
        if not v:
            out.append(_err(f"{path}.{key}", "Required value", "FieldValueRequired"))
        elif not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", v) or v[0].islower():
            out.append(_err(f"{path}.{key}", f"Invalid value: {go_value(v)}: may have mixed case, but should "
                            "otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?"))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        out.append(_err(f"{path}.listKind", f"Invalid value: {go_value(names['listKind'])}: kind and listKind "
                        "cannot be the same"))
    return out


def _versions(spec: Obj) -> list[Cause]:
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        return [_err("spec.versions", "Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): "
                     "must have exactly one version marked as storage version")]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        if not isinstance(v, dict):
            out.append(_err(p, "Invalid value: must be an object"))
            continue
        name = v.get("name") or ""
        if not name:
            out.append(_err(f"{p}.name", "Required value", "FieldValueRequired"))
        else:
            errs = is_dns1123_label(name)
            if errs:
                out.append(_err(f"{p}.name", f"Invalid value: {go_value(name)}: {errs[0]}"))
            if name in seen:
                out.append(_err("spec.versions", f"Invalid value: []apiextensions.CustomResourceDefinitionVersion"
                                f"{{...}}: must contain unique version names"))
            seen.add(name)
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            out.append(_err(f"{p}.schema.openAPIV3Schema", "Required value: schemas are required",
                            "FieldValueRequired"))
        else:
            out += structural_errors(schema, f"{p}.schema.openAPIV3Schema")
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            cp = f"{p}.additionalPrinterColumns[{j}]"
            if not col.get("name"):
                out.append(_err(f"{cp}.name", "Required value", "FieldValueRequired"))
            if col.get("type") not in COLUMN_TYPES:
                out.append(_err(f"{cp}.type", f"Unsupported value: {go_value(col.get('type'))}: supported values: "
                                + ", ".join(f'"{t}"' for t in COLUMN_TYPES), "FieldValueNotSupported"))
            if not col.get("jsonPath"):
                out.append(_err(f"{cp}.jsonPath", "Required value", "FieldValueRequired"))
        scale = (v.get("subresources") or {}).get("scale")
        if isinstance(scale, dict):
            for key in ("specReplicasPath", "statusReplicasPath"):
                val = scale.get(key) or ""
                if not val:
                    out.append(_err(f"{p}.subresources.scale.{key}", "Required value", "FieldValueRequired"))
                elif not val.startswith(".spec." if key == "specReplicasPath" else ".status."):
                    where = ".spec" if key == "specReplicasPath" else ".status"
                    out.append(_err(f"{p}.subresources.scale.{key}", f"Invalid value: {go_value(val)}: should "
                                    f"be a json path under {where}"))
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        out.append(_err("spec.versions", "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: "
                        "must have exactly one version marked as storage version"))
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        out.append(_err("spec.versions", "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: "
                        "must have at least one version marked as served"))
    return out


def storage_version(crd: Obj) -> str | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return v.get("name")
    return None


def condition(crd: Obj, ctype: str) -> Obj | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_established(crd: Obj) -> bool:
    c = condition(crd, "Established")
    return c is not None and c.get("status") == "True"
