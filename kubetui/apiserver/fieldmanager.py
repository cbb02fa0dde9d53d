"""Field ownership: ``metadata.managedFields`` and server-side apply.

Upstream: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager and
sigs.k8s.io/structured-merge-diff. Every writer names itself (``fieldManager``);
the server records which fields each manager set, in the ``FieldsV1`` format::

    {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers":
        {"k:{\\"name\\":\\"c\\"}": {".": {}, "f:image": {}}}}}}}

Server-side apply (``kubectl apply --server-side``) uses it to (1) refuse to
change a field another manager set, unless ``force`` (409 "Apply failed with
1 conflict"), and (2) remove fields this manager applied before but no longer
mentions, if nobody else owns them.

kubetui's approximation: the applied configuration is merged into the live
object with strategic-merge semantics (``kubetui.api.patch``), and list merge
keys come from the same table; upstream uses the OpenAPI schema's
``x-kubernetes-list-map-keys``. Fields are owned at leaf granularity.
"""

from __future__ import annotations

import json
from typing import Any

from kubetui.api.errors import Conflict
from kubetui.api.patch import list_merge_key, strategic_merge_patch

Obj = dict[str, Any]
Path = tuple[str, ...]  # ("f:spec", "f:containers", 'k:{"name":"c"}', "f:image")

# Metadata the server owns; never part of any manager's fields.
_SYSTEM_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                          "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
                          "generateName"})


def leaves(obj: Obj) -> dict[Path, Any]:
    """Every owned leaf of ``obj`` with its value."""
    out: dict[Path, Any] = {}
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "metadata" and isinstance(v, dict):
            for mk, mv in v.items():
                if mk not in _SYSTEM_META:
                    _walk(mv, ("f:metadata", f"f:{mk}"), ("metadata", mk), out)
            continue
        _walk(v, (f"f:{k}",), (k,), out)
    return out


def _walk(value: Any, path: Path, names: tuple[str, ...], out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _walk(v, path + (f"f:{k}",), names + (k,), out)
        return
    if isinstance(value, list) and value:
        key = list_merge_key(names)
        if key is None:
            for e in value:
                out[path + ("v:" + json.dumps(e, separators=(",", ":")),)] = e
            return
        if isinstance(key, str) and all(isinstance(e, dict) and key in e for e in value):
            for e in value:
                kp = path + ("k:" + json.dumps({key: e[key]}, separators=(",", ":")),)
                out[kp + (".",)] = None
                for k, v in e.items():
                    _walk(v, kp + (f"f:{k}",), names + (k,), out)
            return
    out[path] = value


def to_fields_v1(paths: Any) -> Obj:
    tree: Obj = {}
    for p in sorted(paths):
        cur = tree
        for part in p:
            cur = cur.setdefault(part, {})
    return tree


def from_fields_v1(tree: Obj, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for k, v in (tree or {}).items():
        if isinstance(v, dict) and v:
            out |= from_fields_v1(v, prefix + (k,))
        else:
            out.add(prefix + (k,))
    return out


def _entry(manager: str, operation: str, api_version: str, now: str, paths: Any,
           subresource: str | None) -> Obj:
    e: Obj = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
              "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
    if subresource:
        e["subresource"] = subresource
    return e


def _same(e: Obj, manager: str, operation: str, subresource: str | None) -> bool:
    return (e.get("manager") == manager and e.get("operation") == operation
            and e.get("subresource") == (subresource or None))


def record_update(new: Obj, old: Obj | None, manager: str, operation: str, now: str, *,
                  subresource: str | None = None) -> None:
    """Give ``manager`` the fields this write changed and take them from everyone else."""
    new_leaves = leaves(new)
    if old is None:
        changed = set(new_leaves)
        removed: set[Path] = set()
    else:
        old_leaves = leaves(old)
        changed = {p for p, v in new_leaves.items() if p not in old_leaves or old_leaves[p] != v}
        removed = set(old_leaves) - set(new_leaves)
    meta = new["metadata"]
    entries = [dict(e) for e in meta.get("managedFields") or [] if isinstance(e, dict)]
    out = []
    mine = None
    for e in entries:
        owned = from_fields_v1(e.get("fieldsV1") or {})
        if _same(e, manager, operation, subresource):
            mine = owned
            continue
        owned -= changed | removed
        if owned:
            e["fieldsV1"] = to_fields_v1(owned)
            out.append(e)
    owned = ((mine or set()) | changed) - removed
    if owned:
        out.append(_entry(manager, operation, new.get("apiVersion", ""), now, owned, subresource))
    if out:
        meta["managedFields"] = out
    else:
        meta.pop("managedFields", None)


def _describe(path: Path) -> str:
    parts = []
    for p in path:
        if p == ".":
            continue
        if p.startswith("f:"):
            parts.append("." + p[2:])
        elif p.startswith("k:"):
            key = json.loads(p[2:])
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
        elif p.startswith("v:"):
            parts.append(f"[{p[2:]}]")
    return "".join(parts)


def _remove(obj: Any, path: Path) -> None:
    """Remove the field ``path`` names from ``obj`` (no-op if it is not there)."""
    cur = obj
    for i, part in enumerate(path):
        last = i == len(path) - 1 or path[i + 1] == "."
        if part.startswith("f:") and isinstance(cur, dict):
            if last:
                cur.pop(part[2:], None)
                return
            cur = cur.get(part[2:])
        elif part.startswith("k:") and isinstance(cur, list):
            key = json.loads(part[2:])
            idx = next((j for j, e in enumerate(cur) if isinstance(e, dict)
                        and all(e.get(k) == v for k, v in key.items())), None)
            if idx is None:
                return
            if last:
                cur.pop(idx)
                return
            cur = cur[idx]
        elif part.startswith("v:") and isinstance(cur, list):
            value = json.loads(part[2:])
            if value in cur:
                cur.remove(value)
            return
        else:
            return


def apply_config(live: Obj, config: Obj, manager: str, *, force: bool, now: str,
                 subresource: str | None = None) -> Obj:
    """Server-side apply of ``config`` by ``manager`` onto ``live`` (a private copy)."""
    cfg = leaves(config)
    live_leaves = leaves(live)
    entries = [dict(e) for e in live["metadata"].get("managedFields") or [] if isinstance(e, dict)]
    prev: set[Path] = set()
    conflicts: dict[str, list[Path]] = {}
    others: list[tuple[Obj, set[Path]]] = []
    for e in entries:
        owned = from_fields_v1(e.get("fieldsV1") or {})
        if _same(e, manager, "Apply", subresource):
            prev = owned
            continue
        others.append((e, owned))
        for p in owned & set(cfg):
            if p in live_leaves and live_leaves[p] != cfg[p]:
                conflicts.setdefault(e.get("manager", ""), []).append(p)
    if conflicts and not force:
        n = sum(len(v) for v in conflicts.values())
        parts = [f'conflict with "{m}" using {config.get("apiVersion", "")}: '
                 + ", ".join(_describe(p) for p in sorted(ps)) for m, ps in conflicts.items()]
        raise Conflict(f"Apply failed with {n} conflict{'s' if n != 1 else ''}: " + "; ".join(parts),
                       name=live["metadata"].get("name"), kind=live.get("kind"))
    merged = strategic_merge_patch(live, config)
    still_owned = set().union(*(o for _, o in others)) if others else set()
    for p in sorted(prev - set(cfg), key=len, reverse=True):
        if p not in still_owned:
            _remove(merged, p)
    taken = {p for ps in conflicts.values() for p in ps}
    out = []
    for e, owned in others:
        owned -= taken
        if owned:
            e["fieldsV1"] = to_fields_v1(owned)
            out.append(e)
    if cfg:
        out.append(_entry(manager, "Apply", config.get("apiVersion", live.get("apiVersion", "")), now, cfg,
                          subresource))
    merged["metadata"]["managedFields"] = out
    return merged


def apply_entry(config: Obj, manager: str, now: str) -> Obj:
    """The managedFields entry an apply that *creates* the object records."""
    return _entry(manager, "Apply", config.get("apiVersion", ""), now, leaves(config), None)
