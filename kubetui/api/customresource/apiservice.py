"""APIService validation (``apiregistration.k8s.io/v1``).

Upstream: ``staging/src/k8s.io/kube-aggregator/pkg/apis/apiregistration/validation/validation.go``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.errors import field_error

Obj = dict[str, Any]


def validate_apiservice(obj: Obj, old: Obj | None = None, subresource: str | None = None) -> list[dict[str, str]]:
    """``ValidateAPIService``: the name is version.group, priorities in range, a service or none."""
    spec = obj.get("spec") or {}
    out = []
    name = (obj.get("metadata") or {}).get("name", "")
    version, group = spec.get("version") or "", spec.get("group") or ""
    want = f"{version}.{group}"
    if name != want:
        out.append(field_error("metadata.name", f'Invalid value: "{name}": must be `spec.version+"."+spec.group`: '
                               f'"{want}"'))
    if not version:
        out.append(field_error("spec.version", "Required value", "FieldValueRequired"))
    gpm, vp = spec.get("groupPriorityMinimum"), spec.get("versionPriority")
    if not isinstance(gpm, int) or not 0 < gpm < 20000:
        out.append(field_error("spec.groupPriorityMinimum", f"Invalid value: {gpm}: must be positive and less "
                               "than 20000"))
    if not isinstance(vp, int) or not 0 < vp < 1000000:
        out.append(field_error("spec.versionPriority", f"Invalid value: {vp}: must be positive and less than 1000000"))
    return out
