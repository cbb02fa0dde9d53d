"""Authentication (who is calling?) and authorization (may they?).

Upstream: ``staging/src/k8s.io/apiserver/pkg/authentication`` (the bearer
token authenticator reads a static token file, ``--token-auth-file``) and
``pkg/authorization``. kubetui has one admin token (user
``kubernetes-admin`` in ``system:masters``, what kubeadm's admin.conf gives)
and one token per node (``system:node:<name>`` in ``system:nodes``, what a
kubelet authenticates as). Tokens live in ``<state>/tokens.json``, mode 0600.

Users made with ``kubetui user add`` get a token of their own (kept with a
serial number, so ``kubetui user revoke`` can remove it: a revoked or unknown
token is 401). The running API server re-reads the file when it changes, so
a user added or revoked from another process counts at the next request.
Tokens are never logged.

Authorization is RBAC (``rbac.py``, ``authz.py``), after authentication.
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
CERT_PREFIX = "x509:"  # tokens.json keys of issued client certificates (never valid as bearer tokens)


@dataclass(frozen=True)
class UserInfo:
    """The authenticated identity (upstream ``user.Info``)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        groups = list(self.groups)
        if "system:unauthenticated" not in groups and "system:authenticated" not in groups:
            groups.append("system:authenticated")
        return {"username": self.name, "uid": self.uid, "groups": groups}


# Upstream's anonymous authenticator (``--anonymous-auth``, on by default, as kubeadm
# leaves it): a request that presents no credential at all is not refused with 401; it
# becomes this user, and RBAC decides. The bootstrap policy lets it read only
# /healthz, /livez, /readyz and /version (system:public-info-viewer), so anything else
# is 403 "User \"system:anonymous\" cannot ...". A credential that is presented but
# wrong, expired or revoked is still 401.
ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


class TokenAuthenticator:
    """Bearer tokens -> users, persisted in ``tokens.json`` (or in memory if ``path`` is None)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._path_str = str(self.path) if self.path is not None else ""
        # token -> {"user": ..., "groups": [...]}
        self._tokens: dict[str, dict] = {}
        self._mtime: tuple[int, int] | None = None  # (mtime, inode): os.replace makes a new inode
        self._users: dict[str, tuple[dict, UserInfo]] = {}  # token -> (its entry, its UserInfo)
        self._reload()

    def _reload(self) -> None:
        """Re-read ``tokens.json`` if another process (``kubetui user``) changed it."""
        if self.path is None:
            return
        try:
            st = os.stat(self._path_str)  # every request: os.stat is a third of Path.stat's cost
            mtime = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            return
        if mtime != self._mtime:
            self._tokens = json.loads(self.path.read_text() or "{}")
            self._mtime = mtime

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
            if info["user"] == user and not info.get("issued"):
                return tok
        tok = secrets.token_urlsafe(32)
        self._tokens[tok] = {"user": user, "groups": list(groups)}
        self._save()
        return tok

    def _next_serial(self) -> int:
        return 1 + max((int(i.get("serial") or 0) for i in self._tokens.values()), default=0)

    def issue(self, user: str, groups: tuple[str, ...]) -> tuple[str, int]:
        """A new token for a (human) user, and its serial number (``kubetui user add --credential token``)."""
        self._reload()
        serial = self._next_serial()
        tok = secrets.token_urlsafe(32)
        self._tokens[tok] = {"user": user, "groups": list(groups), "serial": serial, "issued": True}
        self._save()
        return tok, serial

    def record_cert(self, user: str, groups: tuple[str, ...], x509_serial: int) -> int:
        """Remember a client certificate issued to ``user`` (so it can be listed and revoked)."""
        self._reload()
        serial = self._next_serial()
        self._tokens[f"{CERT_PREFIX}{x509_serial:X}"] = {"user": user, "groups": list(groups), "serial": serial,
                                                           "issued": True, "kind": "cert"}
        self._save()
        return serial

    def issued(self) -> list[dict]:
        """The users' credentials (serial, user, groups), never the tokens themselves."""
        self._reload()
        return sorted(({"serial": i["serial"], "user": i["user"], "groups": list(i.get("groups") or []),
                        "kind": i.get("kind", "token"), "revoked": bool(i.get("revoked"))}
                       for i in self._tokens.values() if i.get("issued")), key=lambda i: i["serial"])

    def revoke(self, user_or_serial: str) -> list[int]:
        """Revoke a user's credentials (by user name or serial); the serials revoked."""
        self._reload()
        gone = [t for t, i in self._tokens.items() if i.get("issued") and not i.get("revoked")
                and (i["user"] == user_or_serial or str(i.get("serial")) == user_or_serial)]
        serials = [int(self._tokens[t]["serial"]) for t in gone]
        for t in gone:
            if self._tokens[t].get("kind") == "cert":
                # a certificate stays valid cryptographically: its serial goes on the revocation list
                self._tokens[t]["revoked"] = True
            else:
                del self._tokens[t]
        if gone:
            self._save()
        return serials

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
        st = self.path.stat()
        self._mtime = (st.st_mtime_ns, st.st_ino)

    # -- checking ----------------------------------------------------------
    anonymous = ANONYMOUS  # who a request without any credential is

    def authenticate(self, authorization_header: str | None) -> UserInfo:
        """The user behind ``Authorization: Bearer <token>``; ``Unauthorized`` otherwise."""
        if not authorization_header or not authorization_header.startswith("Bearer "):
            raise Unauthorized("Unauthorized")
        presented = authorization_header[len("Bearer "):].strip().encode()
        self._reload()
        for tok, info in self._tokens.items():
            if info.get("kind") == "cert":
                continue
            # constant-time compare: a token check must not leak by timing
            if hmac.compare_digest(tok.encode(), presented):
                return self._user(tok, info)
        raise Unauthorized("Unauthorized")

    def _user(self, token: str, info: dict) -> UserInfo:
        """The UserInfo of a matched token: one object per token entry (a re-read file makes
        new entries), so the API server can keep what it derives from it (``APIServer._subject``)."""
        kept = self._users.get(token)
        if kept is None or kept[0] is not info:
            kept = self._users[token] = (info, UserInfo(info["user"], tuple(info.get("groups", ()))))
            if len(self._users) > 4 * len(self._tokens) + 16:  # forget tokens gone from the file
                self._users = {t: u for t, u in self._users.items() if self._tokens.get(t) is u[0]}
        return kept[1]


    def authenticate_cert(self, peercert: dict | None) -> UserInfo | None:
        """The user a verified client certificate names (CN user, O groups), None without one.

        The TLS layer already checked it chains to the cluster CA and has not expired
        (a bad certificate fails the handshake); a revoked serial is 401 here.
        """
        if not peercert:
            return None
        self._reload()
        serial = int(peercert.get("serialNumber") or "0", 16)
        info = self._tokens.get(f"{CERT_PREFIX}{serial:X}")
        if info is not None and info.get("revoked"):
            raise Unauthorized("Unauthorized")
        cn, orgs = "", []
        for rdn in peercert.get("subject") or ():
            for k, v in rdn:
                if k == "commonName":
                    cn = v
                elif k == "organizationName":
                    orgs.append(v)
        if not cn:
            raise Unauthorized("Unauthorized")
        return UserInfo(cn, tuple(orgs))


class AllowAll:
    """For ``insecure_http`` test servers: everyone is the admin (no credentials)."""

    anonymous = UserInfo(ADMIN_USER, ("system:masters",))

    def authenticate(self, authorization_header: str | None) -> UserInfo:
        return UserInfo(ADMIN_USER, ("system:masters",))

    def authenticate_cert(self, peercert: dict | None) -> UserInfo | None:
        return None
