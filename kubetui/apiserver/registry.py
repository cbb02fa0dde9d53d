"""The generic REST registry: what kube-apiserver does with every request.

Upstream: staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
(``Create``, ``Update`` via ``GuaranteedUpdate``, ``Delete`` with graceful
deletion and finalizers, ``List``, ``Watch``), rest/create.go and
rest/update.go (``BeforeCreate``/``BeforeUpdate``) and the NamespaceLifecycle
admission plugin. Everything a kind does differently is its strategy's
(``kubetui.apiserver.strategies``, upstream's ``pkg/registry/<group>/<kind>``):
this module knows no kind by name.

Every object goes through here, whichever door it came in by (HTTPS for
kubectl, ``InProcessClient`` for the controllers): the registry fills
apiVersion/kind, stamps uid/creationTimestamp, defaults, runs mutating
admission and the strategy's hooks, validates, turns store failures into
Kubernetes ``Status`` errors, and decides when a delete really deletes.

Objects returned by *reads* (``get``, ``list``, watch events) are shared with
the store: treat them as read-only (``InProcessClient`` copies them).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
from typing import Any, Awaitable, Callable

from kubetui.api import errors
from kubetui.api.errors import (
    BadRequest, Conflict, Forbidden, Invalid, NotFound, field_error, not_found_generic,
)
from kubetui.api.patch import APPLY_PATCH, apply_patch, copy_json, decode_patch
from kubetui.api.resources import Resource, resource_for
from kubetui.api.selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from kubetui.apiserver import encoding, requestchecks, strategies, subresources
from kubetui.apiserver.fieldmanager import apply_config, apply_entry, record_update
from kubetui.apiserver.hooks import Hooks
from kubetui.apiserver.strategies.base import Strategy, apply_propagation_finalizers, should_delete_during_update
from kubetui.apiserver.watch import RegistryWatch
from kubetui.clock import Clock, rfc3339
from kubetui.store import KeyExists, KeyNotFound, KeyValue, RevisionMismatch, Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# generateName suffixes use consonants and digits only, so no word is ever spelled
# (upstream: k8s.io/apimachinery/pkg/util/rand).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_RETRIES = 16


def new_uid() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())`` writes it (upstream: ``uuid.NewUUID``),
    in a third of its time: every create makes one."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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


class Registry:
    """kube-apiserver's storage layer over a ``kubetui.store.Store``."""

    def __init__(self, store: Store, *, clock: Clock | None = None, service_cidr: str = "10.96.0.0/12",
                 node_port_range: tuple[int, int] = (30000, 32767), bookmark_interval: float = 5.0,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.clock = clock or Clock()
        self.bookmark_interval = bookmark_interval
        self.hooks = Hooks()
        self._now_second, self._now_text = -1, ""
        self._rng = rng or random.Random()
        # Each kind's hooks (upstream: the strategy each resource's storage is built with).
        self.strategies: dict[str, Strategy] = strategies.build(
            service_cidr=service_cidr, node_port_range=node_port_range, rng=rng)
        # Mutating admission plugins besides the pod ones in ``hooks.admission``.
        self.admission = strategies.admission_plugins()
        # Validating admission: after the kind's own validation, before the write (LimitRanger, ResourceQuota).
        self.validating_admission = strategies.validating_admission_plugins()

    def admission_chain(self) -> list[Any]:
        """Mutating admission in kube-apiserver's plugin order: ServiceAccount, DefaultTolerationSeconds
        and Priority (``hooks.admission``), then DefaultStorageClass and whatever else is registered."""
        return [self.hooks.admission, *self.admission]

    def strategy_for(self, resource: Resource) -> Strategy:
        """The kind's strategy; a kind that registered none behaves like a ConfigMap."""
        strategy = self.strategies.get(resource.group_resource)
        if strategy is None:
            strategy = self.strategies[resource.group_resource] = Strategy(resource)
        return strategy

    # ------------------------------------------------------------------ helpers

    def key(self, resource: Resource, namespace: str | None, name: str = "") -> str:
        return resource.key(name, namespace if resource.namespaced else None)

    def _now(self) -> str:
        ts = self.clock.time()
        second = int(ts)  # formatted once a second (not within a microsecond of the next: rounding)
        if ts < 0 or ts - second >= 0.999999:
            return rfc3339(ts)
        if second != self._now_second:
            self._now_second, self._now_text = second, rfc3339(ts)
        return self._now_text

    def _namespace_arg(self, resource: Resource, namespace: str | None) -> str | None:
        if not resource.namespaced:
            return None
        if not namespace:
            raise BadRequest("the server could not find the requested resource: a namespace is required "
                             f"for {resource.group_resource}")
        if not isinstance(namespace, str) or "/" in namespace or "%" in namespace or namespace in (".", ".."):
            errs = requestchecks.path_segment_errors(namespace)
            if errs:
                raise BadRequest(f'invalid namespace "{namespace}": {errs[0]}')
        return namespace

    def _validate(self, resource: Resource, obj: Obj, old: Obj | None, subresource: str | None = None) -> None:
        """The strategy's ``Validate``/``ValidateUpdate``, then ``Canonicalize``; 422 with every cause."""
        name = (obj.get("metadata") or {}).get("name", "")
        strategy = self.strategy_for(resource)
        if old is None:
            causes = strategy.validate(self, obj)
        else:
            causes = strategy.validate_update(self, obj, old, subresource) + requestchecks.finalizer_causes(obj, old)
        if causes:
            raise errors.invalid(resource.kind, name, causes, resource.group)
        strategy.canonicalize(obj)

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
                     name: str | None = None, field_manager: str | None = None, stored: bool = False) -> Any:
        """POST: store a new object (``obj`` becomes the registry's). ``stored=True``: the store's
        KeyValue (JSON in ``encoding.response_order``, answered as is), unless a dry run or subresource."""
        if subresource is not None:
            rest = subresources.rest_for(self, resource, subresource, "create")
            return await rest.create(self, resource, namespace, name, obj, subresource, dry_run)
        namespace = self._namespace_arg(resource, namespace)
        requestchecks.check_type_meta(resource, obj)
        meta = obj["metadata"]
        requestchecks.check_object_namespace(resource, namespace, meta)
        requestchecks.decode_checks(self.hooks, resource, obj, field_validation)
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
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = self._now()
        self.hooks.apply_defaults(resource, obj)
        # Mutating admission runs on the decoded, defaulted object, before the
        # strategy's PrepareForCreate (upstream: handlers/create.go calls Admit,
        # then the store's Create runs BeforeCreate).
        for plugin in self.admission_chain():
            plugin.admit_create(self, resource, namespace, obj)
        strategy = self.strategy_for(resource)
        strategy.prepare_for_create(self, obj)
        generated = not meta.get("name")
        for attempt in range(8):
            if generated:
                meta["name"] = meta["generateName"] + "".join(self._rng.choice(_NAME_ALPHABET) for _ in range(5))
            errs = requestchecks.path_segment_errors(meta["name"])
            if errs:
                raise errors.invalid(resource.kind, str(meta["name"]), [field_error(
                    "metadata.name", f'Invalid value: {json.dumps(meta["name"])}: {errs[0]}')], resource.group)
            finish = strategy.begin_create(self, obj)
            try:
                self._validate(resource, obj, None)
                for validating in self.validating_admission:
                    await validating.validate_create(self, resource, namespace, obj, dry_run=dry_run,
                                                     display_name=meta["generateName"] if generated else meta["name"])
                if field_manager:
                    record_update(obj, None, field_manager, "Update", self._now())
                if dry_run:
                    finish(False)
                    if self.store.get(self.key(resource, namespace, meta["name"]), copy=False) is not None:
                        raise already_exists(resource, meta["name"])
                    return obj
                kv = await self.store.create(self.key(resource, namespace, meta["name"]),
                                             encoding.response_order(obj))
            except KeyExists:
                finish(False)
                if generated and attempt < 7:
                    continue  # another random suffix (upstream retries generateName too)
                raise already_exists(resource, meta["name"]) from None
            except BaseException:
                finish(False)
                raise
            finish(True)
            break
        if type(strategy).after_create is not Strategy.after_create:  # decode only for a strategy with one
            await strategy.after_create(self, kv.value)
        return kv if stored else kv.value

    # ---------------------------------------------------------------------- get

    async def get(self, resource: Resource, namespace: str | None, name: str, *,
                  subresource: str | None = None) -> Obj:
        if subresource not in (None, "status"):
            namespace = self._namespace_arg(resource, namespace)
            rest = subresources.rest_for(self, resource, subresource, "get")
            return await rest.get(self, resource, namespace, name, subresource)
        return self.get_stored(resource, namespace, name).value

    def get_stored(self, resource: Resource, namespace: str | None, name: str) -> KeyValue:
        """What ``get`` reads: the stored KeyValue (shared, read-only); a plain GET answers from it."""
        namespace = self._namespace_arg(resource, namespace)
        kv = self.store.get(self.key(resource, namespace, name), copy=False)
        if kv is None:
            raise not_found(resource, name)
        return kv

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
        strategy = self.strategy_for(resource)
        if subresource is None:
            new = body
            strategy.prepare_for_update(self, new, old)
            for plugin in self.admission_chain():
                plugin.admit_update(resource, new, old)
        else:
            prepared = strategy.prepare_subresource_update(subresource, body, old)
            if prepared is None:
                raise not_found_generic(f"the server could not find the requested resource ({resource.plural}/{subresource})")
            new = prepared
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
        strategy.update_generation(new, old)
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
            # BeginUpdate before validation: e.g. a Service PUT that omits its
            # ClusterIP keeps the allocated one, and validation must see it.
            strategy = self.strategy_for(resource)
            finish = strategy.begin_update(self, new, old, subresource)
            try:
                if validate:
                    self._validate(resource, new, old, subresource)
                if field_manager and operation == "Update":
                    record_update(new, old, field_manager, "Update", self._now(), subresource=subresource)
                if dry_run:
                    finish(False)
                    return new
                if should_delete_during_update(strategy, new):
                    kv = await self.store.delete(key, expected_mod_revision=cur.mod_revision)
                    finish(True)
                    strategy.after_delete(self, kv.value)
                    return kv.value
                kv = await self.store.update(key, new, expected_mod_revision=cur.mod_revision)
            except RevisionMismatch:
                finish(False)
                continue
            except KeyNotFound:
                finish(False)
                raise not_found(resource, name) from None
            except BaseException:
                finish(False)
                raise
            finish(True)
            return kv.value
        raise conflict(resource, name)

    async def update(self, resource: Resource, namespace: str | None, name: str | None, obj: Obj, *,
                     subresource: str | None = None, dry_run: bool = False,
                     field_validation: str | None = "Strict", field_manager: str | None = None) -> Obj:
        """PUT: replace the object; ``metadata.resourceVersion`` makes it compare-and-swap."""
        namespace = self._namespace_arg(resource, namespace)
        if subresource is not None and subresource in self.strategy_for(resource).subresources:
            rest = subresources.rest_for(self, resource, subresource, "update")
            return await rest.update(self, resource, namespace, name, obj, subresource, dry_run)
        requestchecks.check_type_meta(resource, obj)
        meta = obj["metadata"]
        name = name or meta.get("name")
        if not name:
            raise BadRequest("name is required for an update")
        if meta.get("name") in (None, ""):
            meta["name"] = name
        elif meta["name"] != name:
            raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        requestchecks.check_object_namespace(resource, namespace, meta)
        requestchecks.decode_checks(self.hooks, resource, obj, field_validation)
        self.hooks.apply_defaults(resource, obj)

        def try_update(_: Obj, old: Obj) -> Obj:
            return self._prepare_put(resource, copy_json(obj), old, subresource)

        async def create_instead() -> Obj:
            if not self.strategy_for(resource).allow_create_on_update or subresource is not None:
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
        if subresource is not None and subresource in self.strategy_for(resource).subresources:
            rest = subresources.rest_for(self, resource, subresource, "patch")
            return await rest.patch(self, resource, namespace, name, patch, patch_type, subresource, dry_run)
        if patch_type == APPLY_PATCH:
            if not field_manager:
                raise errors.invalid("PatchOptions", "", [field_error(
                    "fieldManager", "Required value: is required for apply patch", "FieldValueRequired")])
            requestchecks.check_type_meta(resource, patch)
            if patch["metadata"].get("name") not in (None, name):
                raise BadRequest(f"the name of the object ({patch['metadata'].get('name')}) does not match "
                                 f"the name on the URL ({name})")
            patch["metadata"]["name"] = name
            requestchecks.check_object_namespace(resource, namespace, patch["metadata"])
            requestchecks.decode_checks(self.hooks, resource, copy_json(patch), field_validation)

        def try_update(work: Obj, old: Obj) -> Obj:
            if patch_type == APPLY_PATCH:
                patched = apply_config(work, copy_json(patch), field_manager or "", force=force,
                                       now=self._now(), subresource=subresource)
            else:
                patched = apply_patch(work, copy_json(patch), patch_type)
                if not isinstance(patched, dict):
                    raise BadRequest(f"the patch turned the object into a {type(patched).__name__}")
            if patch_type != APPLY_PATCH:
                requestchecks.check_type_meta(resource, patched)
                requestchecks.decode_checks(self.hooks, resource, patched, field_validation)
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
        strategy = self.strategy_for(resource)
        strategy.check_delete(self, namespace, name)
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
            apply_propagation_finalizers(meta, strategy.propagation_policy(meta, propagation_policy))
            grace = strategy.check_graceful_delete(obj, grace_period_seconds)
            deleting = meta.get("deletionTimestamp") is not None
            waits_for = bool(meta.get("finalizers")) or strategy.pending_finalizers(obj)
            if grace == 0 and not waits_for:
                if dry_run:
                    return obj
                try:
                    kv = await self.store.delete(key, expected_mod_revision=cur.mod_revision)
                except RevisionMismatch:
                    continue
                except KeyNotFound:
                    raise not_found(resource, name) from None
                strategy.after_delete(self, kv.value)
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
                strategy.prepare_for_delete(obj)
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
        """What a fresh kube-apiserver creates (``kubetui.apiserver.bootstrap``)."""
        from kubetui.apiserver import bootstrap
        await bootstrap.bootstrap(self)
        self.bootstrapped = True  # /readyz's poststarthook/rbac/bootstrap-roles


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
