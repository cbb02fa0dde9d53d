"""The generic REST registry: what kube-apiserver does with every request.

Upstream: staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
(``Create``, ``Update`` via ``GuaranteedUpdate``, ``Delete`` with graceful
deletion and finalizers, ``List``, ``Watch``), rest/create.go and
rest/update.go (``BeforeCreate``/``BeforeUpdate``), the NamespaceLifecycle
admission plugin, and the per-kind strategies in ``strategy.py``.

Every object goes through here, whichever door it came in by (HTTPS for
kubectl, ``InProcessClient`` for the controllers): the registry fills
apiVersion/kind, stamps uid/creationTimestamp/generation, defaults and
validates, allocates Service IPs, turns store failures into Kubernetes
``Status`` errors, and decides when a delete really deletes.

Objects returned by *reads* (``get``, ``list``, watch events) are shared with
the store: treat them as read-only (``InProcessClient`` copies them).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import uuid
from typing import Any, Awaitable, Callable

from kubetui.api import errors
from kubetui.api.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound, field_error
from kubetui.api.patch import APPLY_PATCH, apply_patch, copy_json, decode_patch
from kubetui.api.resources import Resource, resource_for
from kubetui.api.selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from kubetui.apiserver import strategy
from kubetui.apiserver.fieldmanager import apply_config, apply_entry, record_update
from kubetui.apiserver.hooks import Hooks, prune, warn
from kubetui.apiserver.ipam import ServiceAllocations
from kubetui.apiserver.watch import RegistryWatch
from kubetui.clock import Clock, rfc3339
from kubetui.store import KeyExists, KeyNotFound, RevisionMismatch, Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# generateName suffixes use consonants and digits only, so no word is ever spelled
# (upstream: k8s.io/apimachinery/pkg/util/rand).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_RETRIES = 16
_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def not_found(resource: Resource, name: str) -> NotFound:
    return NotFound(f'{resource.group_resource} "{name}" not found', name=name,
                    group=resource.group, kind=resource.plural)


def already_exists(resource: Resource, name: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(f'{resource.group_resource} "{name}" already exists', name=name,
                                group=resource.group, kind=resource.plural)


def conflict(resource: Resource | str, name: str,
             detail: str = "the object has been modified; please apply your changes to the latest "
                           "version and try again") -> Conflict:
    gr = resource.group_resource if isinstance(resource, Resource) else resource
    group = resource.group if isinstance(resource, Resource) else ""
    kind = resource.plural if isinstance(resource, Resource) else gr
    return Conflict(f'Operation cannot be fulfilled on {gr} "{name}": {detail}', name=name, group=group, kind=kind)


def _path_segment_errors(value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["must be a string"]
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


class Registry:
    """kube-apiserver's storage layer over a ``kubetui.store.Store``."""

    def __init__(self, store: Store, *, clock: Clock | None = None, service_cidr: str = "10.96.0.0/12",
                 node_port_range: tuple[int, int] = (30000, 32767), bookmark_interval: float = 5.0,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.clock = clock or Clock()
        self.bookmark_interval = bookmark_interval
        self.services = ServiceAllocations(service_cidr, node_port_range, rng)
        self.hooks = Hooks()
        self._rng = rng or random.Random()

    # ------------------------------------------------------------------ helpers

    def key(self, resource: Resource, namespace: str | None, name: str = "") -> str:
        return resource.key(name, namespace if resource.namespaced else None)

    def _now(self) -> str:
        return rfc3339(self.clock.time())

    def _namespace_arg(self, resource: Resource, namespace: str | None) -> str | None:
        if not resource.namespaced:
            return None
        if not namespace:
            raise BadRequest("the server could not find the requested resource: a namespace is required "
                             f"for {resource.group_resource}")
        errs = _path_segment_errors(namespace)
        if errs:
            raise BadRequest(f'invalid namespace "{namespace}": {errs[0]}')
        return namespace

    def _ensure_services_loaded(self) -> None:
        if not self.services.loaded:
            svc = resource_for("services")
            self.services.load(kv.value for kv in self.store.range(svc.key("", None), copy=False))

    def _check_type_meta(self, resource: Resource, obj: Obj) -> None:
        """Fill apiVersion/kind from the URL (the Python client sends neither); refuse others."""
        if not isinstance(obj, dict):
            raise BadRequest(f"the body of the request must be a {resource.kind} object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version not in (None, "", resource.api_version):
            raise BadRequest(f"the API version in the data ({api_version}) does not match the expected "
                             f"API version ({resource.api_version})")
        if kind not in (None, "", resource.kind):
            raise BadRequest(f'{kind} in version "{resource.version}" cannot be handled as a '
                             f'{resource.kind}: the kind in the body does not match the resource')
        if api_version in (None, "") or kind in (None, ""):
            # apiVersion and kind lead, as in every manifest.
            rest = {k: obj.pop(k) for k in list(obj) if k not in ("apiVersion", "kind")}
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            obj.update(rest)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise BadRequest(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                             f"{resource.kind}: metadata must be an object")

    def _check_object_namespace(self, resource: Resource, namespace: str | None, meta: Obj) -> None:
        if not resource.namespaced:
            meta.pop("namespace", None)
            return
        have = meta.get("namespace")
        if have in (None, ""):
            meta["namespace"] = namespace
        elif have != namespace:
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")

    def _decode_checks(self, resource: Resource, obj: Obj, field_validation: str | None) -> None:
        """What strict JSON decoding into Go types catches: wrong types (400) and unknown fields."""
        h = self.hooks
        if h.type_errors is not None:
            causes = h.type_errors(resource, obj)
            if causes:
                detail = "; ".join(f"{c.get('field', '')}: {c.get('message', '')}".lstrip(": ") for c in causes)
                raise BadRequest(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                                 f"{resource.kind}: {detail}", kind=resource.kind,
                                 name=(obj.get("metadata") or {}).get("name"), causes=causes)
        if h.unknown_fields is None:
            return
        unknown = h.unknown_fields(resource, obj)
        if not unknown:
            return
        mode = (field_validation or "Strict").capitalize()
        if mode == "Strict":
            raise BadRequest("strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown))
        for f in unknown:
            if mode == "Warn":
                warn(f'unknown field "{f}"')
            prune(obj, f)

    def _validate(self, resource: Resource, obj: Obj, old: Obj | None, subresource: str | None = None) -> None:
        name = (obj.get("metadata") or {}).get("name", "")
        causes: list[dict[str, str]] = []
        if self.hooks.validate is not None:
            causes = list(self.hooks.validate(resource, obj, old=old, subresource=subresource) or [])
        if old is not None:
            causes += self._finalizer_causes(obj, old)
        if causes:
            raise errors.invalid(resource.kind, name, causes, resource.group)

    @staticmethod
    def _finalizer_causes(new: Obj, old: Obj) -> list[dict[str, str]]:
        old_meta = old.get("metadata") or {}
        if old_meta.get("deletionTimestamp") is None:
            return []
        added = [f for f in new["metadata"].get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
        if not added:
            return []
        shown = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
        return [field_error("metadata.finalizers", "Forbidden: no new finalizers can be added if the object "
                            f"is being deleted, found new finalizers {shown}", "FieldValueForbidden")]

    async def _check_namespace_lifecycle(self, resource: Resource, namespace: str | None, name: str) -> None:
        """NamespaceLifecycle admission: no new objects in a missing or terminating namespace."""
        if not resource.namespaced:
            return
        kv = self.store.get(resource_for("namespaces").key(namespace or ""), copy=False)
        if kv is None:
            raise NotFound(f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")
        ns = kv.value
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            raise Forbidden(f'{resource.group_resource} "{name}" is forbidden: unable to create new content '
                            f"in namespace {namespace} because it is being terminated",
                            name=name, group=resource.group, kind=resource.plural)

    # ------------------------------------------------------------------- create

    async def create(self, resource: Resource, namespace: str | None, obj: Obj, *, dry_run: bool = False,
                     field_validation: str | None = "Strict", subresource: str | None = None,
                     name: str | None = None, field_manager: str | None = None) -> Obj:
        """POST: store a new object (``obj`` becomes the registry's)."""
        if subresource is not None:
            from kubetui.apiserver import subresources
            return await subresources.create(self, resource, namespace, name, obj, subresource, dry_run=dry_run)
        namespace = self._namespace_arg(resource, namespace)
        self._check_type_meta(resource, obj)
        meta = obj["metadata"]
        self._check_object_namespace(resource, namespace, meta)
        self._decode_checks(resource, obj, field_validation)
        if meta.get("resourceVersion") not in (None, ""):
            raise BadRequest("resourceVersion should not be set on objects to be created")
        await self._check_namespace_lifecycle(resource, namespace, meta.get("name") or "")
        if not meta.get("name") and not meta.get("generateName"):
            raise errors.invalid(resource.kind, "", [field_error(
                "metadata.name", "Required value: name or generateName is required", "FieldValueRequired")],
                resource.group)
        # BeforeCreate: system fields are the server's, whatever the body said.
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink", "resourceVersion"):
            meta.pop(f, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self._now()
        if self.hooks.apply_defaults is not None:
            self.hooks.apply_defaults(resource, obj)
        self.hooks.admission.admit_create(self, resource, namespace, obj)
        if resource.kind == "PersistentVolumeClaim":
            classes = self.store.range(resource_for("storageclasses").key(), copy=False)
            strategy.admit_default_storage_class(obj, (kv.value for kv in classes))
        strategy.prepare_for_create(resource, obj, self.hooks.qos_class)
        generated = not meta.get("name")
        for attempt in range(8):
            if generated:
                meta["name"] = meta["generateName"] + "".join(self._rng.choice(_NAME_ALPHABET) for _ in range(5))
            errs = _path_segment_errors(meta["name"])
            if errs:
                raise errors.invalid(resource.kind, str(meta["name"]), [field_error(
                    "metadata.name", f'Invalid value: {json.dumps(meta["name"])}: {errs[0]}')], resource.group)
            taken: list[tuple[str, Any]] = []
            if resource.kind == "Service":
                self._ensure_services_loaded()
                taken = self.services.allocate(obj)
            try:
                self._validate(resource, obj, None)
                if field_manager:
                    record_update(obj, None, field_manager, "Update", self._now())
                if dry_run:
                    self.services.undo(taken)
                    if self.store.get(self.key(resource, namespace, meta["name"]), copy=False) is not None:
                        raise already_exists(resource, meta["name"])
                    return obj
                kv = await self.store.create(self.key(resource, namespace, meta["name"]), obj)
            except KeyExists:
                self.services.undo(taken)
                if generated and attempt < 7:
                    continue  # another random suffix (upstream retries generateName too)
                raise already_exists(resource, meta["name"]) from None
            except BaseException:
                self.services.undo(taken)
                raise
            break
        if resource.kind == "Namespace":
            await self._create_default_service_account(meta["name"])
        return kv.value

    async def _create_default_service_account(self, namespace: str) -> None:
        # Upstream the ServiceAccount controller (in kube-controller-manager) puts
        # a "default" ServiceAccount into every namespace; the registry doing it on
        # namespace create gives the same result without one more controller.
        sa = resource_for("serviceaccounts")
        if self.store.get(sa.key("default", namespace), copy=False) is None:
            try:
                await self.create(sa, namespace, {"metadata": {"name": "default"}})
            except errors.AlreadyExists:
                pass

    # ---------------------------------------------------------------------- get

    async def get(self, resource: Resource, namespace: str | None, name: str, *,
                  subresource: str | None = None) -> Obj:
        namespace = self._namespace_arg(resource, namespace)
        if subresource not in (None, "status"):
            from kubetui.apiserver import subresources
            return await subresources.get(self, resource, namespace, name, subresource)
        kv = self.store.get(self.key(resource, namespace, name), copy=False)
        if kv is None:
            raise not_found(resource, name)
        return kv.value

    # --------------------------------------------------------------------- list

    def _selectors(self, resource: Resource, label_selector: Any,
                   field_selector: Any) -> tuple[LabelSelector, FieldSelector]:
        labels = label_selector if isinstance(label_selector, LabelSelector) else parse_label_selector(label_selector)
        fields = (field_selector if isinstance(field_selector, FieldSelector)
                  else parse_field_selector(field_selector, resource.kind))
        return labels, fields

    async def list(self, resource: Resource, namespace: str | None, *, label_selector: Any = None,
                   field_selector: Any = None, limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None) -> Obj:
        """A ``<Kind>List``; ``namespace=None`` lists every namespace.

        Always served from the latest state (upstream may serve ``resourceVersion=0``
        from its watch cache, which is at least as new as any older version).
        """
        if namespace is not None and resource.namespaced:
            namespace = self._namespace_arg(resource, namespace)
        labels, fields = self._selectors(resource, label_selector, field_selector)
        prefix = self.key(resource, namespace)
        revision = self.store.revision
        start = ""
        if continue_:
            revision, start = _decode_continue(continue_)
        if limit is not None and limit < 0:
            raise BadRequest(f"limit must be non-negative, got {limit}")
        items: list[Obj] = []
        items_last_key = ""
        next_key = None
        remaining = 0
        filtered = not labels.empty() or not fields.empty()
        for kv in self.store.range(prefix, copy=False):
            rel = kv.key[len(prefix):]
            if start and rel < start:
                continue
            obj = kv.value
            if filtered and not (labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)):
                continue
            if limit and len(items) >= limit:
                if next_key is None:
                    next_key = items_last_key
                remaining += 1
                if filtered:
                    break  # upstream omits remainingItemCount with selectors
                continue
            items.append(obj)
            items_last_key = rel
        meta: Obj = {"resourceVersion": str(revision)}
        if next_key is not None:
            meta["continue"] = _encode_continue(revision, next_key + "\x00")
            if not filtered:
                meta["remainingItemCount"] = remaining
        return {"kind": f"{resource.kind}List", "apiVersion": resource.api_version, "metadata": meta,
                "items": items}

    # -------------------------------------------------------------------- watch

    def watch(self, resource: Resource, namespace: str | None, *, resource_version: str | None = None,
              label_selector: Any = None, field_selector: Any = None, allow_bookmarks: bool = False,
              send_initial_events: bool = False, timeout_seconds: float | None = None) -> RegistryWatch:
        """A watch: ``async for event in registry.watch(...)``; ``await`` it to start it eagerly
        (so a bad resourceVersion raises ``Gone`` before any event), ``close()`` to stop."""
        if namespace is not None and resource.namespaced:
            namespace = self._namespace_arg(resource, namespace)
        labels, fields = self._selectors(resource, label_selector, field_selector)
        if send_initial_events and not allow_bookmarks:
            raise errors.invalid("ListOptions", "", [field_error(
                "allowWatchBookmarks", "Required value: allowWatchBookmarks must be set to true when "
                "sendInitialEvents is true", "FieldValueRequired")])
        return RegistryWatch(self.store, resource, self.key(resource, namespace), self.clock,
                             resource_version=resource_version, labels=labels, fields=fields,
                             allow_bookmarks=allow_bookmarks, send_initial_events=send_initial_events,
                             timeout_seconds=timeout_seconds, bookmark_interval=self.bookmark_interval)

    # ------------------------------------------------------------------- update

    def _prepare_put(self, resource: Resource, body: Obj, old: Obj, subresource: str | None) -> Obj:
        """BeforeUpdate: turn a PUT body into the object to store, given the live one."""
        if subresource == "status":
            new = strategy.prepare_for_status_update(resource, body, old)
        elif subresource == "finalize":
            new = strategy.prepare_for_finalize(body, old)
        elif subresource is None:
            new = body
            strategy.prepare_for_update(resource, new, old)
            self.hooks.admission.admit_update(resource, new, old)
        else:
            raise NotFound(f"the server could not find the requested resource ({resource.plural}/{subresource})")
        meta, old_meta = new["metadata"], old["metadata"]
        if meta.get("uid") not in (None, "", old_meta.get("uid")):
            raise conflict(resource, old_meta["name"], f"Precondition failed: UID in precondition: "
                           f"{meta['uid']}, UID in object meta: {old_meta.get('uid')}")
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        meta.pop("selfLink", None)
        if "managedFields" not in meta and "managedFields" in old_meta:
            meta["managedFields"] = copy_json(old_meta["managedFields"])
        strategy.bump_generation(resource, new, old)
        return new

    async def _guaranteed_update(self, resource: Resource, namespace: str | None, name: str,
                                 try_update: Callable[[Obj, Obj], Obj], *, subresource: str | None,
                                 dry_run: bool, field_manager: str | None = None,
                                 operation: str = "Update", validate: bool = True,
                                 on_missing: Callable[[], Awaitable[Obj]] | None = None) -> Obj:
        """Read, change, compare-and-swap, retry on conflict (upstream ``GuaranteedUpdate``).

        ``try_update(working_copy, old)`` returns the new object; if it carries a resourceVersion
        other than the live one, the client's view is stale: 409, no retry.
        """
        key = self.key(resource, namespace, name)
        for _ in range(_MAX_RETRIES):
            cur = self.store.get(key)
            if cur is None:
                if on_missing is not None:
                    return await on_missing()
                raise not_found(resource, name)
            old = cur.value
            new = try_update(copy_json(old), old)
            meta = new["metadata"]
            rv = meta.get("resourceVersion")
            if rv not in (None, "") and str(rv) != old["metadata"]["resourceVersion"]:
                raise conflict(resource, name)
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if meta.get("name") != name:
                raise BadRequest(f"the name of the object ({meta.get('name')}) does not match the name on "
                                 f"the URL ({name})")
            if new == old:
                return cur.value  # a no-op update writes nothing (and bumps no revision)
            # Service IPs and node ports first: a PUT that omits them keeps the
            # allocated ones, and validation must see the result.
            taken: list[tuple[str, Any]] = []
            if resource.kind == "Service" and subresource is None:
                self._ensure_services_loaded()
                taken = self.services.allocate(new, old)
            try:
                if validate:
                    self._validate(resource, new, old, subresource)
                if field_manager and operation == "Update":
                    record_update(new, old, field_manager, "Update", self._now(), subresource=subresource)
                if dry_run:
                    self.services.undo(taken)
                    return new
                if strategy.should_delete_during_update(resource, new):
                    kv = await self.store.delete(key, expected_mod_revision=cur.mod_revision)
                    self._after_delete(resource, kv.value)
                    return kv.value
                kv = await self.store.update(key, new, expected_mod_revision=cur.mod_revision)
            except RevisionMismatch:
                self.services.undo(taken)
                continue
            except KeyNotFound:
                self.services.undo(taken)
                raise not_found(resource, name) from None
            except BaseException:
                self.services.undo(taken)
                raise
            self.services.commit(taken)
            return kv.value
        raise conflict(resource, name)

    async def update(self, resource: Resource, namespace: str | None, name: str | None, obj: Obj, *,
                     subresource: str | None = None, dry_run: bool = False,
                     field_validation: str | None = "Strict", field_manager: str | None = None) -> Obj:
        """PUT: replace the object; ``metadata.resourceVersion`` makes it compare-and-swap."""
        namespace = self._namespace_arg(resource, namespace)
        if subresource not in (None, "status", "finalize"):
            from kubetui.apiserver import subresources
            return await subresources.update(self, resource, namespace, name, obj, subresource, dry_run=dry_run)
        self._check_type_meta(resource, obj)
        meta = obj["metadata"]
        name = name or meta.get("name")
        if not name:
            raise BadRequest("name is required for an update")
        if meta.get("name") in (None, ""):
            meta["name"] = name
        elif meta["name"] != name:
            raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        self._check_object_namespace(resource, namespace, meta)
        self._decode_checks(resource, obj, field_validation)
        if self.hooks.apply_defaults is not None:
            self.hooks.apply_defaults(resource, obj)

        def try_update(_: Obj, old: Obj) -> Obj:
            return self._prepare_put(resource, copy_json(obj), old, subresource)

        async def create_instead() -> Obj:
            if resource.kind not in strategy.CREATE_ON_UPDATE_KINDS or subresource is not None:
                raise not_found(resource, name)
            body = copy_json(obj)
            body["metadata"].pop("resourceVersion", None)
            return await self.create(resource, namespace, body, dry_run=dry_run,
                                     field_validation="Ignore", field_manager=field_manager)

        return await self._guaranteed_update(resource, namespace, name, try_update, subresource=subresource,
                                             dry_run=dry_run, field_manager=field_manager,
                                             on_missing=create_instead)

    # -------------------------------------------------------------------- patch

    async def patch(self, resource: Resource, namespace: str | None, name: str, body: Any, patch_type: str, *,
                    subresource: str | None = None, field_manager: str | None = None, force: bool = False,
                    dry_run: bool = False, field_validation: str | None = "Strict") -> Obj:
        """PATCH in any of the four flavours; server-side apply creates a missing object."""
        namespace = self._namespace_arg(resource, namespace)
        patch = decode_patch(body, patch_type)
        if subresource not in (None, "status", "finalize"):
            from kubetui.apiserver import subresources
            return await subresources.patch(self, resource, namespace, name, patch, patch_type, subresource,
                                            dry_run=dry_run)
        if patch_type == APPLY_PATCH:
            if not field_manager:
                raise errors.invalid("PatchOptions", "", [field_error(
                    "fieldManager", "Required value: is required for apply patch", "FieldValueRequired")])
            self._check_type_meta(resource, patch)
            if patch["metadata"].get("name") not in (None, name):
                raise BadRequest(f"the name of the object ({patch['metadata'].get('name')}) does not match "
                                 f"the name on the URL ({name})")
            patch["metadata"]["name"] = name
            self._check_object_namespace(resource, namespace, patch["metadata"])
            self._decode_checks(resource, copy_json(patch), field_validation)

        def try_update(work: Obj, old: Obj) -> Obj:
            if patch_type == APPLY_PATCH:
                patched = apply_config(work, copy_json(patch), field_manager or "", force=force,
                                       now=self._now(), subresource=subresource)
            else:
                patched = apply_patch(work, copy_json(patch), patch_type)
                if not isinstance(patched, dict):
                    raise BadRequest(f"the patch turned the object into a {type(patched).__name__}")
            if patch_type != APPLY_PATCH:
                self._check_type_meta(resource, patched)
                self._decode_checks(resource, patched, field_validation)
            if self.hooks.apply_defaults is not None:
                self.hooks.apply_defaults(resource, patched)
            return self._prepare_put(resource, patched, old, subresource)

        async def create_instead() -> Obj:
            if patch_type != APPLY_PATCH or subresource is not None:
                raise not_found(resource, name)
            obj = copy_json(patch)
            obj["metadata"]["managedFields"] = [apply_entry(patch, field_manager or "", self._now())]
            return await self.create(resource, namespace, obj, dry_run=dry_run, field_validation=field_validation)

        return await self._guaranteed_update(
            resource, namespace, name, try_update, subresource=subresource, dry_run=dry_run,
            field_manager=field_manager, operation="Apply" if patch_type == APPLY_PATCH else "Update",
            on_missing=create_instead)

    # ------------------------------------------------------------------- delete

    def _after_delete(self, resource: Resource, obj: Obj) -> None:
        if resource.kind == "Service":
            self._ensure_services_loaded()
            self.services.release(obj)

    async def delete(self, resource: Resource, namespace: str | None, name: str, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: Obj | None = None, dry_run: bool = False) -> Obj:
        """DELETE: remove now, or mark for deletion (graceful pods, finalizers, namespaces).

        Returns the deleted object, or the object as it now is while it waits.
        """
        namespace = self._namespace_arg(resource, namespace)
        if propagation_policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid("DeleteOptions", "", [field_error(
                "propagationPolicy", f'Unsupported value: "{propagation_policy}": supported values: '
                '"Foreground", "Background", "Orphan", "nil"', "FieldValueNotSupported")])
        if resource.kind == "Namespace" and name in strategy.IMMORTAL_NAMESPACES:
            raise Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                            name=name, kind="namespaces")
        key = self.key(resource, namespace, name)
        for _ in range(_MAX_RETRIES):
            cur = self.store.get(key)
            if cur is None:
                raise not_found(resource, name)
            obj = cur.value
            meta = obj["metadata"]
            pre = preconditions or {}
            if pre.get("uid") not in (None, "") and pre["uid"] != meta.get("uid"):
                raise conflict(resource, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                               f"UID in object meta: {meta.get('uid')}")
            if pre.get("resourceVersion") not in (None, "") and str(pre["resourceVersion"]) != meta["resourceVersion"]:
                raise conflict(resource, name, "Precondition failed: ResourceVersion in precondition: "
                               f"{pre['resourceVersion']}, ResourceVersion in object meta: {meta['resourceVersion']}")
            old_finalizers = list(meta.get("finalizers") or [])
            strategy.apply_propagation_finalizers(meta, propagation_policy)
            grace = strategy.graceful_delete_seconds(resource, obj, grace_period_seconds)
            deleting = meta.get("deletionTimestamp") is not None
            waits_for = bool(meta.get("finalizers")) or (
                resource.kind == "Namespace" and bool((obj.get("spec") or {}).get("finalizers")))
            if grace == 0 and not waits_for:
                if dry_run:
                    return obj
                try:
                    kv = await self.store.delete(key, expected_mod_revision=cur.mod_revision)
                except RevisionMismatch:
                    continue
                except KeyNotFound:
                    raise not_found(resource, name) from None
                self._after_delete(resource, kv.value)
                return kv.value
            # The object stays, marked: the kubelet (graceful pods), the garbage
            # collector (GC finalizers) or the namespace controller finishes the job.
            now = self.clock.time()
            if deleting:
                old_grace = meta.get("deletionGracePeriodSeconds")
                # A second delete may only shorten the grace period.
                if old_grace is None or grace >= old_grace:
                    if meta.get("finalizers", []) == old_finalizers:
                        return obj
                else:
                    meta["deletionTimestamp"] = rfc3339(now + grace)
                    meta["deletionGracePeriodSeconds"] = grace
            else:
                meta["deletionTimestamp"] = rfc3339(now + grace)
                meta["deletionGracePeriodSeconds"] = grace
                if meta.get("generation") is not None:
                    meta["generation"] += 1
                if resource.kind == "Namespace":
                    obj.setdefault("status", {})["phase"] = "Terminating"
            if dry_run:
                return obj
            try:
                kv = await self.store.update(key, obj, expected_mod_revision=cur.mod_revision)
            except RevisionMismatch:
                continue
            except KeyNotFound:
                raise not_found(resource, name) from None
            return kv.value
        raise conflict(resource, name)

    async def delete_collection(self, resource: Resource, namespace: str | None, *, label_selector: Any = None,
                                field_selector: Any = None, propagation_policy: str | None = None,
                                grace_period_seconds: int | None = None, dry_run: bool = False) -> Obj:
        """DELETE on a collection: delete everything the selectors match; returns the list of results."""
        listed = await self.list(resource, namespace, label_selector=label_selector, field_selector=field_selector)
        out = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                out.append(await self.delete(resource, meta.get("namespace"), meta["name"],
                                             propagation_policy=propagation_policy,
                                             grace_period_seconds=grace_period_seconds, dry_run=dry_run))
            except (NotFound, Forbidden):
                continue
        return {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": str(self.store.revision)}, "items": out}

    # ---------------------------------------------------------------- bootstrap

    async def bootstrap(self) -> None:
        """What a fresh kube-apiserver creates: the system namespaces and the
        ``kubernetes`` Service (ClusterIP = first address of the service range)."""
        ns = resource_for("namespaces")
        for name in _SYSTEM_NAMESPACES:
            if self.store.get(ns.key(name), copy=False) is None:
                try:
                    await self.create(ns, None, {"metadata": {"name": name}})
                except errors.AlreadyExists:
                    pass
            else:
                await self._create_default_service_account(name)
        svc = resource_for("services")
        if self.store.get(svc.key("kubernetes", "default"), copy=False) is None:
            try:
                await self.create(svc, "default", {
                    "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                                  "provider": "kubernetes"}},
                    "spec": {"type": "ClusterIP", "clusterIP": self.services.ips.first_ip,
                             "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                             "sessionAffinity": "None"},
                })
            except errors.AlreadyExists:
                pass


def _encode_continue(revision: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise BadRequest("continue key is not valid: incorrect encoded start resourceVersion "
                         "(version meta.k8s.io/v1)") from None
