"""ServiceAccount tokens: the TokenRequest API and the authenticator that accepts its JWTs.

Upstream: ``pkg/serviceaccount/{jwt.go,claims.go}`` (the signed claims and
their validation), ``pkg/registry/core/serviceaccount/storage/token.go``
(``TokenREST``: ``POST .../serviceaccounts/NAME/token``) and
``pkg/apis/authentication/validation`` (TokenRequest's rules).

A token is a JWT signed RS256 with the cluster's service-account key
(``<state>/pki/sa.key``, mode 0600, kubeadm's file name). It is *bound*:
to an audience (``aud``; the API server accepts only its own,
``https://kubernetes.default.svc.cluster.local``), to a lifetime (``exp``:
600 s at least, an hour by default) and optionally to an object (a Pod,
Secret or Node, named with its uid in the ``kubernetes.io`` claim). The
authenticator re-reads the ServiceAccount and the bound object on every
request: delete either and the token stops working (401), which is what lets
a pod's token die with the pod. Nothing is stored for a token: it carries its
own proof.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kubetui.api import errors
from kubetui.api.errors import Unauthorized
from kubetui.api.resources import resource_for
from kubetui.apiserver.auth import UserInfo
from kubetui.apiserver.strategies.base import Strategy
from kubetui.apiserver.subresources import SubresourceREST

Obj = dict[str, Any]
ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)                 # --api-audiences defaults to the issuer
DEFAULT_EXPIRATION = 3600                 # TokenRequestSpec.ExpirationSeconds default (v1 defaults)
MIN_EXPIRATION = 600                      # "may not specify a duration less than 10 minutes"
MAX_EXPIRATION = 1 << 32
BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}
KEY_FILE = "sa.key"


def make_username(namespace: str, name: str) -> str:
    """``serviceaccount.MakeUsername``."""
    return f"system:serviceaccount:{namespace}:{name}"


def groups_for(namespace: str) -> tuple[str, ...]:
    """``serviceaccount.MakeGroupNames`` (``system:authenticated`` is added by the union authenticator)."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def load_or_create_key(state_dir: str | os.PathLike[str]) -> rsa.RSAPrivateKey:
    """The service-account signing key (``<state>/pki/sa.key``), created 0600 on first use."""
    path = Path(state_dir) / "pki" / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    return key


class TokenIssuer:
    """Signs and checks the JWTs (upstream ``jwtTokenGenerator`` / ``jwtTokenAuthenticator``)."""

    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        self.key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        # upstream keyIDFromPublicKey: base64url(sha256(DER public key))
        self.kid = _b64(hashlib.sha256(der).digest())

    def sign(self, claims: Obj) -> str:
        header = {"alg": "RS256", "kid": self.kid}
        signing_input = (_b64(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + _b64(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64(sig)

    def verify(self, token: str) -> Obj | None:
        """The claims of a token this issuer signed, None if it is not one (bad shape or signature)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            if not isinstance(header, dict) or header.get("alg") != "RS256":
                return None
            self.key.public_key().verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(),
                                         padding.PKCS1v15(), hashes.SHA256())
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature):
            return None
        return claims if isinstance(claims, dict) else None


def token_claims(*, namespace: str, sa: Obj, audiences: list[str], now: int, expiration_seconds: int,
                 bound: Obj | None = None, node: Obj | None = None) -> Obj:
    """The claims of a bound token (upstream ``serviceaccount.Claims``), pure.

    ``bound`` is the Pod/Secret/Node the token is bound to; a Pod's node is
    named too (``node``, when the pod is scheduled), as upstream since 1.30.
    """
    private: Obj = {"namespace": namespace,
                    "serviceaccount": {"name": sa["metadata"]["name"], "uid": sa["metadata"].get("uid", "")}}
    if bound is not None:
        kind = bound.get("kind")
        ref = {"name": bound["metadata"]["name"], "uid": bound["metadata"].get("uid", "")}
        if kind == "Pod":
            private["pod"] = ref
            if node is not None:
                private["node"] = {"name": node["metadata"]["name"], "uid": node["metadata"].get("uid", "")}
        elif kind == "Secret":
            private["secret"] = ref
        elif kind == "Node":
            private["node"] = ref
    return {"aud": list(audiences), "exp": now + expiration_seconds, "iat": now, "iss": ISSUER,
            "jti": str(uuid.uuid4()), "kubernetes.io": private, "nbf": now,
            "sub": make_username(namespace, sa["metadata"]["name"])}


# (resource plural, namespace, name) -> the stored object or None
Lookup = Callable[[str, "str | None", str], "Obj | None"]


def check_claims(claims: Obj, *, now: float, audiences: tuple[str, ...], lookup: Lookup) -> UserInfo:
    """Upstream ``validator.Validate``: issuer, time, audience, then the live objects (401 otherwise)."""
    if claims.get("iss") != ISSUER:
        raise Unauthorized("Unauthorized")
    try:
        exp, nbf = float(claims.get("exp")), float(claims.get("nbf", 0))
    except (TypeError, ValueError):
        raise Unauthorized("Unauthorized") from None
    # upstream allows 60 s of clock skew on nbf; exp is strict
    if now >= exp or now + 60 < nbf:
        raise Unauthorized("Unauthorized")
    aud = claims.get("aud")
    aud = [aud] if isinstance(aud, str) else list(aud or [])
    if not set(aud) & set(audiences):
        raise Unauthorized("Unauthorized")
    private = claims.get("kubernetes.io") or {}
    ns = private.get("namespace") or ""
    sa_ref = private.get("serviceaccount") or {}
    sa = lookup("serviceaccounts", ns, sa_ref.get("name") or "")
    if sa is None or sa["metadata"].get("uid") != sa_ref.get("uid") or sa["metadata"].get("deletionTimestamp"):
        raise Unauthorized("Unauthorized")  # upstream: "service account ... has been deleted"
    extra: dict[str, list[str]] = {}
    for kind, plural in (("pod", "pods"), ("secret", "secrets")):
        ref = private.get(kind)
        if ref:
            obj = lookup(plural, ns, ref.get("name") or "")
            if obj is None or obj["metadata"].get("uid") != ref.get("uid") or obj["metadata"].get("deletionTimestamp"):
                raise Unauthorized("Unauthorized")
            if kind == "pod":
                extra["authentication.kubernetes.io/pod-name"] = [ref["name"]]
                extra["authentication.kubernetes.io/pod-uid"] = [ref.get("uid", "")]
    node_ref = private.get("node")
    if node_ref and not private.get("pod"):  # a token bound to the node itself
        node = lookup("nodes", None, node_ref.get("name") or "")
        if node is None or node["metadata"].get("uid") != node_ref.get("uid"):
            raise Unauthorized("Unauthorized")
    if node_ref:
        extra["authentication.kubernetes.io/node-name"] = [node_ref.get("name", "")]
    if claims.get("jti"):
        extra["authentication.kubernetes.io/credential-id"] = [f"JTI={claims['jti']}"]
    return UserInfo(make_username(ns, sa["metadata"]["name"]), groups_for(ns), sa["metadata"].get("uid", ""), extra)


def registry_lookup(registry: Any) -> Lookup:
    def lookup(plural: str, ns: str | None, name: str) -> Obj | None:
        kv = registry.store.get(registry.key(resource_for(plural), ns, name), copy=False)
        return kv.value if kv is not None else None
    return lookup


def issuer_for(registry: Any) -> TokenIssuer:
    """The registry's token issuer: the control plane sets one with the state dir's key; else an ephemeral one."""
    issuer = getattr(registry, "token_issuer", None)
    if issuer is None:
        issuer = registry.token_issuer = TokenIssuer()
    return issuer


class ServiceAccountTokenAuthenticator:
    """Bearer JWTs from TokenRequest -> the ServiceAccount's user; chained before other token checks."""

    def __init__(self, registry: Any, audiences: tuple[str, ...] = API_AUDIENCES) -> None:
        self.registry = registry
        self.audiences = audiences

    def authenticate_token(self, token: str) -> UserInfo | None:
        """None when the token is not one of ours (the next authenticator tries); 401 when it is but fails."""
        claims = issuer_for(self.registry).verify(token)
        if claims is None:
            return None
        return check_claims(claims, now=self.registry.clock.time(), audiences=self.audiences, lookup=registry_lookup(self.registry))


class UnionAuthenticator:
    """Service-account JWTs first, then ``primary`` (the static/user tokens and certificates).

    Every other attribute (``admin_token``, ``node_token``, ``authenticate_cert``...)
    is the primary's, so this wraps a ``TokenAuthenticator`` transparently.
    """

    def __init__(self, primary: Any, service_accounts: ServiceAccountTokenAuthenticator) -> None:
        self.primary = primary
        self.service_accounts = service_accounts

    def authenticate(self, authorization_header: str | None) -> UserInfo:
        scheme, _, rest = (authorization_header or "").partition(" ")
        if scheme.lower() == "bearer":
            # the scheme is case-insensitive (upstream strings.EqualFold): the official Python
            # client's in-cluster config sends "bearer <token>"
            authorization_header = "Bearer " + rest
            token = rest.strip()
            if token.count(".") == 2:
                info = self.service_accounts.authenticate_token(token)
                if info is not None:
                    return info
        return self.primary.authenticate(authorization_header)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.primary, name)


# ------------------------------------------------------------------ TokenRequest

def _invalid(name: str, field: str, value: Any, detail: str) -> errors.Invalid:
    return errors.Invalid(f'TokenRequest.authentication.k8s.io "{name}" is invalid: {field}: Invalid value: '
                          f'{json.dumps(value)}: {detail}', kind="TokenRequest", name=name,
                          group="authentication.k8s.io",
                          causes=[{"reason": "FieldValueInvalid", "message": f"Invalid value: {json.dumps(value)}: "
                                   f"{detail}", "field": field}])


class TokenREST(SubresourceREST):
    """``serviceaccounts/token``: issue a bound token (what ``kubectl create token`` posts)."""

    async def create(self, registry, resource, namespace, name, obj, subresource, dry_run):  # type: ignore[override]
        sa = await registry.get(resource, namespace, name)  # 404 for an unknown account
        if not isinstance(obj, dict) or obj.get("kind") not in (None, "TokenRequest"):
            raise errors.BadRequest(f"not a TokenRequest: {obj.get('kind') if isinstance(obj, dict) else obj!r}")
        spec = dict(obj.get("spec") or {})
        meta = dict(obj.get("metadata") or {})
        if meta.get("name") and meta["name"] != name:
            raise errors.BadRequest(f"TokenRequest name {meta['name']!r} does not match the serviceaccount "
                                    f"name {name!r}")
        expiration = spec.get("expirationSeconds")
        expiration = DEFAULT_EXPIRATION if expiration is None else expiration
        if not isinstance(expiration, int) or isinstance(expiration, bool):
            raise errors.BadRequest("spec.expirationSeconds must be an integer")
        if expiration < MIN_EXPIRATION:
            raise _invalid(name, "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes")
        if expiration > MAX_EXPIRATION:
            raise _invalid(name, "spec.expirationSeconds", expiration, "may not specify a duration larger than 2^32 seconds")
        audiences = [a for a in spec.get("audiences") or [] if isinstance(a, str)] or list(API_AUDIENCES)
        bound = node = None
        ref = spec.get("boundObjectRef")
        if ref:
            kind = ref.get("kind")
            if kind not in BINDABLE or ref.get("apiVersion", "v1") != "v1":
                raise errors.BadRequest(f"cannot bind token for object of type {ref.get('apiVersion', '')}, "
                                        f"Kind={kind}")
            plural = BINDABLE[kind]
            bound = await registry.get(resource_for(plural), None if kind == "Node" else namespace,
                                       ref.get("name") or "")
            bound = {**bound, "kind": kind}
            uid = bound["metadata"].get("uid")
            if ref.get("uid") and ref["uid"] != uid:
                raise errors.Conflict(f'the UID in the bound object reference ({ref["uid"]}) does not match the UID '
                                      f'in record. The object might have been deleted and then recreated')
            if kind == "Pod" and (bound.get("spec") or {}).get("serviceAccountName", "default") != name:
                raise errors.BadRequest(f'cannot bind token to pod "{ref.get("name")}" running as a different '
                                        f'service account: {bound["spec"].get("serviceAccountName")}')
            node_name = (bound.get("spec") or {}).get("nodeName") if kind == "Pod" else None
            if node_name:
                kv = registry.store.get(registry.key(resource_for("nodes"), None, node_name), copy=False)
                node = kv.value if kv is not None else None
            ref = {"kind": kind, "apiVersion": "v1", "name": bound["metadata"]["name"], "uid": uid}
        now = int(registry.clock.time())
        claims = token_claims(namespace=namespace or "", sa=sa, audiences=audiences, now=now,
                              expiration_seconds=expiration, bound=bound, node=node)
        token = "" if dry_run else issuer_for(registry).sign(claims)
        out_spec: Obj = {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": ref}
        exp_ts = _dt.datetime.fromtimestamp(now + expiration, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        created = _dt.datetime.fromtimestamp(now, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
                "spec": out_spec, "status": {"token": token, "expirationTimestamp": exp_ts}}


class ServiceAccountStrategy(Strategy):
    """ServiceAccounts: plain objects, plus the ``token`` subresource."""

    subresources = {"token": TokenREST()}
