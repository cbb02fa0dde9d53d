"""Authentication (who is calling?) and authorization (may they?).

Upstream: ``staging/src/k8s.io/apiserver/pkg/authentication`` (the bearer
token authenticator reads a static token file, ``--token-auth-file``) and
``pkg/authorization``. kubetui has one admin token (user
``kubernetes-admin`` in ``system:masters``, what kubeadm's admin.conf gives)
and one token per node (``system:node:<name>`` in ``system:nodes``, what a
kubelet authenticates as). Tokens live in ``<state>/tokens.json``, mode 0600.

Authorization: kubetui allows every *authenticated* request (like RBAC with
everyone bound to cluster-admin). A learning cluster has one user; RBAC is a
later lesson, and the answer ``kubectl auth can-i`` gets is honest about it.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kubetui.api.errors import Unauthorized

ADMIN_USER = "kubernetes-admin"


@dataclass(frozen=True)
class UserInfo:
    """The authenticated identity (upstream ``user.Info``)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"username": self.name, "uid": self.uid,
                "groups": list(self.groups) + ["system:authenticated"]}


class TokenAuthenticator:
    """Bearer tokens -> users, persisted in ``tokens.json`` (or in memory if ``path`` is None)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        # token -> {"user": ..., "groups": [...]}
        self._tokens: dict[str, dict] = {}
        if self.path is not None and self.path.exists():
            self._tokens = json.loads(self.path.read_text() or "{}")

    @classmethod
    def for_state_dir(cls, state_dir: str | os.PathLike[str]) -> "TokenAuthenticator":
        return cls(Path(state_dir) / "tokens.json")

    # -- issuing -----------------------------------------------------------
    def admin_token(self) -> str:
        """The cluster admin's token (created on first use)."""
        return self.token_for(ADMIN_USER, ("system:masters",))

    def node_token(self, node_name: str) -> str:
        """The token a node's kubelet presents (created on first use)."""
        return self.token_for(f"system:node:{node_name}", ("system:nodes",))

    def token_for(self, user: str, groups: tuple[str, ...]) -> str:
        """The token of ``user`` (created on first use): kube-proxy, a ServiceAccount, ..."""
        for tok, info in self._tokens.items():
            if info["user"] == user:
                return tok
        tok = secrets.token_urlsafe(32)
        self._tokens[tok] = {"user": user, "groups": list(groups)}
        self._save()
        return tok

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self._tokens, f, indent=1)
        os.replace(tmp, self.path)
        os.chmod(self.path, 0o600)

    # -- checking ----------------------------------------------------------
    def authenticate(self, authorization_header: str | None) -> UserInfo:
        """The user behind ``Authorization: Bearer <token>``; ``Unauthorized`` otherwise."""
        if not authorization_header or not authorization_header.startswith("Bearer "):
            raise Unauthorized("Unauthorized")
        presented = authorization_header[len("Bearer "):].strip()
        for tok, info in self._tokens.items():
            # constant-time compare: a token check must not leak by timing
            if hmac.compare_digest(tok.encode(), presented.encode()):
                return UserInfo(info["user"], tuple(info.get("groups", ())))
        raise Unauthorized("Unauthorized")


class AllowAll:
    """For ``insecure_http`` test servers: everyone is the admin (no credentials)."""

    def authenticate(self, authorization_header: str | None) -> UserInfo:
        return UserInfo(ADMIN_USER, ("system:masters",))


def authorize(user: UserInfo, verb: str, resource: str) -> bool:
    """Every authenticated user may do everything (no RBAC yet; see module docstring)."""
    return True
