"""``kubetui user add|list|revoke``: people who use the cluster, each with a credential of their own.

Upstream has no user objects: a user is whoever a credential names (a
client certificate's CN and O, a token's entry in ``--token-auth-file``).
``kubeadm kubeconfig user --client-name alice`` issues one and writes a
kubeconfig; the admin then grants rights with a RoleBinding. ``user add``
does both: it issues a client certificate signed by the cluster CA (CN=name,
O=each group, as kubeadm does; ``--credential token`` issues a bearer token
instead), records its serial, writes ``<state>/users/<name>.kubeconfig``
(0600) and, with ``--namespace``/``--role``, binds the ClusterRole ``view``,
``edit`` or ``admin`` to the user in that namespace. ``user revoke`` removes
the credential (a certificate's serial goes on the revocation list the API
server checks): the next request with it gets 401 Unauthorized.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import yaml

from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir

ROLES = ("view", "edit", "admin")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("user", help="add, list or revoke the cluster's users (credentials + kubeconfigs)")
    sub = p.add_subparsers(dest="user_cmd", required=True)
    add = sub.add_parser("add", help="issue a credential for a user and write their kubeconfig")
    add.add_argument("name", help="the user name (what RBAC subjects of kind User name)")
    add.add_argument("--group", action="append", default=[], help="a group the user is in (repeatable)")
    add.add_argument("--namespace", help="bind --role to the user in this namespace (also their kubeconfig "
                                         "context's namespace)")
    add.add_argument("--role", choices=ROLES, help="the ClusterRole to bind in --namespace")
    add.add_argument("--credential", choices=("cert", "token"), default="cert",
                     help="a client certificate signed by the cluster CA (default) or a bearer token")
    add.add_argument("--days", type=int, default=365, help="how long the certificate is valid (default 365)")
    add.add_argument("-o", "--output", help="where to write the kubeconfig (default <state>/users/NAME.kubeconfig)")
    add_cluster_selector(add)
    add.set_defaults(func=run_add)
    ls = sub.add_parser("list", help="the users' credentials (serial, user, groups)")
    add_cluster_selector(ls)
    ls.set_defaults(func=run_list)
    rv = sub.add_parser("revoke", help="revoke a user's credentials (by name or serial): they get 401")
    rv.add_argument("user", help="user name or credential serial")
    add_cluster_selector(rv)
    rv.set_defaults(func=run_revoke)


def _admin_kubeconfig(state: Path) -> dict:
    path = state / "kubeconfig"
    if not path.exists():
        raise CLIError(f"no cluster at {state} (no kubeconfig): start one with `kubetui up`")
    return yaml.safe_load(path.read_text())


def run_add(args: argparse.Namespace) -> int:
    if bool(args.namespace) != bool(args.role):
        raise CLIError("--namespace and --role go together")
    if args.name.startswith("system:"):
        raise CLIError("names starting with system: are reserved for the cluster's own components")
    state = resolve_state_dir(args)
    admin = _admin_kubeconfig(state)
    cluster = admin["clusters"][0]["cluster"]
    import base64
    ca = base64.b64decode(cluster["certificate-authority-data"]) if cluster.get("certificate-authority-data") \
        else None
    auth = TokenAuthenticator.for_state_dir(state)
    out = Path(args.output) if args.output else state / "users" / f"{args.name}.kubeconfig"
    name = admin["clusters"][0]["name"].removeprefix("kubetui-")
    if args.credential == "token":
        token, serial = auth.issue(args.name, tuple(args.group))
        write_kubeconfig(out, name, cluster["server"], ca, token, user=args.name,
                         namespace=args.namespace or "default")
    else:
        from kubetui.apiserver.certs import ClusterPKI
        pki = ClusterPKI(state / "pki", ())
        if not pki.ca_key.exists():
            raise CLIError(f"no cluster CA key in {pki.dir}")
        cert, key, x509_serial = pki.issue_client_cert(args.name, args.group, days=args.days)
        serial = auth.record_cert(args.name, tuple(args.group), x509_serial)
        write_kubeconfig(out, name, cluster["server"], ca, None, user=args.name, client_cert=(cert, key),
                         namespace=args.namespace or "default")
    if args.role:
        asyncio.run(_bind(state / "kubeconfig", args.name, args.namespace, args.role))
    print(f"user {args.name} added (credential serial {serial}); kubeconfig: {out}")
    if args.role:
        print(f"rolebinding {args.name}-{args.role} in namespace {args.namespace}: ClusterRole {args.role}")
    print(f"try: kubectl --kubeconfig {out} auth whoami")
    return 0


async def _bind(kubeconfig: Path, user: str, namespace: str, role: str) -> None:
    from kubetui.api.errors import AlreadyExists
    from kubetui.client.http import HTTPClient
    client = HTTPClient.from_kubeconfig(kubeconfig)
    try:
        await client.create("rolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": f"{user}-{role}", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
        }, namespace=namespace)
    except AlreadyExists:
        pass
    finally:
        await client.close()


def run_list(args: argparse.Namespace) -> int:
    auth = TokenAuthenticator.for_state_dir(resolve_state_dir(args))
    rows = auth.issued()
    print(f"{'SERIAL':<8}{'USER':<24}{'CREDENTIAL':<12}{'STATUS':<10}GROUPS")
    for r in rows:
        print(f"{r['serial']:<8}{r['user']:<24}{r['kind']:<12}{'revoked' if r['revoked'] else 'valid':<10}"
              f"{','.join(r['groups']) or '<none>'}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    auth = TokenAuthenticator.for_state_dir(resolve_state_dir(args))
    serials = auth.revoke(args.user)
    if not serials:
        raise CLIError(f"no credential for {args.user!r} (see `kubetui user list`)")
    print(f"revoked credential serial {', '.join(map(str, serials))}: requests with it now get 401 Unauthorized")
    return 0
