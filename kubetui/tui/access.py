"""Who may do what: ``kubectl auth can-i --list`` for a ServiceAccount or a binding's subjects.

Upstream there is no "rules of user X" API: ``kubectl auth can-i --list --as X``
impersonates X and posts a SelfSubjectRulesReview, so the API server answers with
X's rules in one namespace. The detail view's Access tab runs exactly that command
(the real kubectl, as the command bar does) for each subject the object names, so a
learner sees the answer and the command that gives it on any cluster.
"""

from __future__ import annotations

from typing import Any

ACCESS_KINDS = ("ServiceAccount", "RoleBinding", "ClusterRoleBinding")


def _as(subject: dict[str, Any], default_ns: str) -> tuple[str, list[str]] | None:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return f"user {name}", ["--as", name]
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or default_ns
        # the API server adds system:serviceaccounts and system:serviceaccounts:<ns> when impersonating one
        return f"ServiceAccount {ns}/{name}", ["--as", f"system:serviceaccount:{ns}:{name}"]
    if kind == "Group":
        # impersonating a group needs a user too (kubectl: --as-group requires --as); any name will do
        return f"a member of group {name}", ["--as", "kubetui:member-of-" + name, "--as-group", name]
    return None


def access_commands(obj: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """``(who, kubectl args)`` for each subject whose rules the detail view should list.

    A RoleBinding's rules are asked in its namespace; a ClusterRoleBinding's hold in
    every namespace, so ``default`` stands for any.
    """
    kind = obj.get("kind")
    md = obj.get("metadata", {})
    ns = md.get("namespace") or "default"
    if kind == "ServiceAccount":
        subjects = [{"kind": "ServiceAccount", "name": md.get("name", ""), "namespace": ns}]
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        subjects = obj.get("subjects") or []
    else:
        return []
    out = []
    for s in subjects:
        who = _as(s, ns)
        if who is not None:
            out.append((who[0], ["auth", "can-i", "--list", *who[1], "-n", ns]))
    return out
