"""Printers for the RBAC kinds.

Upstream: ``printRole``, ``printClusterRole``, ``printRoleBinding`` and
``printClusterRoleBinding`` in ``pkg/printers/internalversion/printers.go``:
roles show only when they were created; bindings show ``Kind/name`` of the
role they grant and, with ``-o wide``, who they grant it to.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import AGE_COL, NAME_COL, age, col

ROLE_COLUMNS = [NAME_COL, col("Created At", "date", desc="Time at which the role was created")]


def role_row(obj: dict, now: float) -> list[Any]:
    return [obj["metadata"].get("name", ""), obj["metadata"].get("creationTimestamp", "")]


BINDING_COLUMNS = [
    NAME_COL,
    col("Role", desc="Role"),
    AGE_COL,
    col("Users", priority=1, desc="Users in the roleBinding"),
    col("Groups", priority=1, desc="Groups in the roleBinding"),
    col("ServiceAccounts", priority=1, desc="ServiceAccounts in the roleBinding"),
]


def binding_row(obj: dict, now: float) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in obj.get("subjects") or []:
        if s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
        elif s.get("kind") == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
    return [obj["metadata"].get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]
