"""Table rows of the API-extension kinds: CustomResourceDefinitions and APIServices.

Upstream: CRDs have no printer of their own (the default table convertor:
NAME, CREATED AT); APIServices use kube-aggregator's
``pkg/registry/apiservice/rest`` convertor: NAME, SERVICE, AVAILABLE, AGE.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import AGE_DESC, NAME_COL, age, col

APISERVICE_COLUMNS = [NAME_COL, col("Service", desc="The reference to the service that hosts this API endpoint."),
                      col("Available", desc="Whether this service is available."),
                      col("Age", desc=AGE_DESC)]


def apiservice_row(obj: dict, now: float) -> list[Any]:
    """``Local`` or ``ns/name``; ``True``, or ``False (Reason)`` as kube-aggregator prints it."""
    svc = (obj.get("spec") or {}).get("service")
    service = "Local" if not svc else f"{svc.get('namespace')}/{svc.get('name')}"
    available = "Unknown"
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Available":
            available = c.get("status", "Unknown")
            if available != "True" and c.get("reason"):
                available = f"{available} ({c['reason']})"
    return [obj["metadata"].get("name", ""), service, available, age(obj, now)]
