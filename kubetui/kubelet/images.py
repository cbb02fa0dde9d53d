"""The kubelet's image manager (upstream: ``pkg/kubelet/images/image_manager.go``, ``puller.go``,
``image_gc_manager.go``, and ``pkg/credentialprovider`` for ``imagePullSecrets``).

Before a container starts, ``ensure_image_exists`` decides (``imagepolicy.decide_pull``,
pure) and acts: use the image the node holds, or pull it, recording the
events upstream's kubelet records (``Pulling``, ``Pulled``, ``Failed``,
``BackOff``, ``ErrImageNeverPull``). A kubetui node has no registry access
of its own: it *pulls through the control plane*, which asks the host's
Docker engine to pull and copies the image into the node's image store
(``POST /apis/images.kubetui.dev/v1alpha1/nodes/NODE/pulls``, served by
``kubetui/cluster/imagepulls.py``). Pods starting together on one node share
one pull of an image; the control plane shares one engine pull between nodes.

The images on the node come from an ``ImageService``: the node's
content-addressed store (``kubetui.runtime.imagestore``) plus the built-in
images, which are pinned. Standard library only: this runs inside the node.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol

from kubetui.kubelet.imagepolicy import (
    BACK_OFF, NEVER_PULL, PULL, GCImage, ImageRecord, PullBackoff, decide_pull, normalize, plan_image_gc,
    pulled_message,
)

log = logging.getLogger(__name__)

#: one line saying what could supply a missing image (appended to a failed pull's message)
HINT = ("kubetui: nothing could supply this image (the nodes reach no registry); copy it from your Docker "
        "engine with `kubetui image load {image}`, or use a built-in image (kubetui/hello:1, busybox, ...)")
LATEST_HINT = ("; an image without a tag or tagged :latest defaults to imagePullPolicy: Always: give it a tag "
               "or set imagePullPolicy: IfNotPresent to use a loaded copy")
PULLS_GROUP = "images.kubetui.dev"


class PullFailed(Exception):
    """The pull did not work; the message is what the container's waiting state and the event say."""


class ImageService(Protocol):
    """The node's images (the CRI's ImageService without Pull, which goes through the control plane)."""

    def lookup(self, image: str) -> ImageRecord | None: ...

    def list(self) -> list[ImageRecord]: ...

    def remove(self, image_id: str) -> None: ...

    def fs_stats(self) -> tuple[int, int]:
        """(capacity, available) bytes of the filesystem holding the images."""


#: ``(image, credentials, ID of the copy the node holds or "") -> (record or None, pull seconds)``
Puller = Callable[[str, list, str], Awaitable[tuple[ImageRecord | None, float]]]


@dataclass
class EnsureResult:
    """``EnsureImageExists``'s answer: the image's ID, or the waiting reason and message."""

    image_id: str = ""
    error: str = ""            # ErrImagePull, ImagePullBackOff, ErrImageNeverPull
    message: str = ""


class ImageManager:
    def __init__(self, service: ImageService, puller: Puller | None, events, clock,
                 backoff_initial: float = 10.0, backoff_max: float = 300.0) -> None:
        self.service = service
        self.puller = puller
        self.events = events
        self.clock = clock
        self.backoff = PullBackoff(backoff_initial, backoff_max)
        self._pulls: dict[str, asyncio.Future] = {}
        # image id -> (first detected, last used), for garbage collection (upstream's imageRecords)
        self.records: dict[str, list[float]] = {}
        self.gc_failed_before = False

    async def ensure_image_exists(self, pod: dict, container: dict, init: bool,
                                  pull_secrets: list[dict] | None = None) -> EnsureResult:
        image = container.get("image", "")
        name = container.get("name", "")
        uid = pod["metadata"].get("uid", "")
        # On the event loop: a lookup reads the store's small index and one config, far less than
        # the wait for a worker of the default executor, where a burst of pod starts queues every
        # sandbox's network plumbing (each container then waited for every other pod's sandbox).
        present = self.service.lookup(image)
        key = f"{uid}_{image}"
        now = self.clock.time()
        d = decide_pull(image, container.get("imagePullPolicy", ""), present is not None,
                        bool(present and present.pinned), self.backoff.in_backoff_since_update(key, now))
        self.events.pod_event(pod, d.event_type, d.event_reason, d.message, name, init)
        if d.action not in (PULL, BACK_OFF, NEVER_PULL):
            return EnsureResult(self._used(present, now))
        if d.action != PULL:
            return EnsureResult(error=d.error, message=d.message)
        started = time.monotonic()
        try:
            record, pull_seconds = await self._pull_shared(image, pull_secrets or [], present.id if present else "")
        except PullFailed as e:
            msg = str(e)
            self.events.pod_event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {msg}', name, init)
            self.backoff.next(key, self.clock.time())
            return EnsureResult(error="ErrImagePull", message=msg)
        total = time.monotonic() - started
        self.events.pod_event(pod, "Normal", "Pulled",
                              pulled_message(image, pull_seconds or total, total, record.size), name, init)
        self.backoff.gc(self.clock.time())
        return EnsureResult(self._used(record, self.clock.time()))

    def _used(self, record: ImageRecord | None, now: float) -> str:
        if record is None:
            return ""
        self.records.setdefault(record.id, [now, now])[1] = now
        return record.repo_digests[0] if record.repo_digests else record.id

    async def _pull_shared(self, image: str, secrets: list, have: str = "") -> tuple[ImageRecord, float]:
        """One pull per image at a time on this node: pods asking meanwhile wait for it."""
        ref = normalize(image)
        fut = self._pulls.get(ref)
        if fut is None:
            fut = asyncio.ensure_future(self._pull(image, secrets, have))
            self._pulls[ref] = fut
            fut.add_done_callback(lambda _f: self._pulls.pop(ref, None))
        return await asyncio.shield(fut)

    async def _pull(self, image: str, secrets: list, have: str = "") -> tuple[ImageRecord, float]:
        if self.puller is None:
            raise PullFailed(f'failed to pull and unpack image "{normalize(image)}": this node has no image '
                             f"service to pull through; {HINT.format(image=image)}")
        record, seconds = await self.puller(image, secrets, have)
        if record is None:
            record = await asyncio.to_thread(self.service.lookup, image)
        if record is None:
            raise PullFailed(f'failed to pull and unpack image "{normalize(image)}": the control plane copied '
                             f"it, but the node's image store does not hold it")
        return record, seconds

    def forget_pod(self, uid: str) -> None:
        self.backoff.forget(f"{uid}_")

    # -- Node.status.images and garbage collection -------------------------------------
    def images(self) -> list[ImageRecord]:
        try:
            return self.service.list()
        except OSError as e:
            log.warning("listing the node's images failed: %s", e)
            return []

    def plan_gc(self, in_use: set[str], now: float):
        """Decide what image GC deletes now (pure ``plan_image_gc`` over the store's images)."""
        capacity, available = self.service.fs_stats()
        gc_images = []
        for img in self.images():
            first, last = self.records.setdefault(img.id, [now, 0.0])
            names = {img.id, *img.repo_tags, *img.repo_digests}
            gc_images.append(GCImage(img.id, img.size, first, last, in_use=bool(names & in_use), pinned=img.pinned))
        return plan_image_gc(gc_images, capacity, available, now)

    def collect_garbage(self, in_use_images: list[str]) -> list[tuple[str, str, str]]:
        """One pass of image GC; returns the Node events upstream records (type, reason, message)."""
        in_use = {normalize(i) for i in in_use_images} | set(in_use_images)
        plan = self.plan_gc(in_use, self.clock.time())
        for image_id in plan.delete:
            try:
                self.service.remove(image_id)
                self.records.pop(image_id, None)
                log.info("image GC removed %s", image_id)
            except Exception as e:  # noqa: BLE001 - one image that cannot go must not stop the others
                log.warning("image GC could not remove %s: %s", image_id, e)
        err = plan.failed_message
        events = []
        if err:
            events.append(("Warning", "FreeDiskSpaceFailed", err))
            if self.gc_failed_before:       # upstream: only repeated failures become an ImageGCFailed event
                events.append(("Warning", "ImageGCFailed", err))
            self.gc_failed_before = True
        else:
            self.gc_failed_before = False
        return events


# -- imagePullSecrets (pkg/credentialprovider: DockerConfigJSON keyring) -------------------

def registry_of(image: str) -> str:
    """``docker.io`` for Docker Hub images, else the reference's domain."""
    return normalize(image).split("/", 1)[0]


def credentials_for(image: str, secrets: list[dict]) -> list[dict]:
    """The auth entries of ``kubernetes.io/dockerconfigjson`` (or ``dockercfg``) Secrets that match the
    image's registry, in the order given (upstream tries each until one pull works).

    >>> cfg = base64.b64encode(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth":
    ...     base64.b64encode(b"u:p").decode()}}}).encode()).decode()
    >>> credentials_for("nginx", [{"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": cfg}}])
    [{'username': 'u', 'password': 'p', 'serveraddress': 'https://index.docker.io/v1/'}]
    """
    want = registry_of(image)
    out = []
    for s in secrets:
        data = s.get("data") or {}
        raw = data.get(".dockerconfigjson") or data.get(".dockercfg")
        if not raw:
            continue
        try:
            cfg = json.loads(base64.b64decode(raw))
        except (ValueError, TypeError):
            continue
        auths = cfg.get("auths", cfg) if isinstance(cfg, dict) else {}
        for server, entry in auths.items():
            host = server.split("://", 1)[-1].split("/", 1)[0]
            if host in ("index.docker.io", "registry-1.docker.io"):
                host = "docker.io"
            if host != want or not isinstance(entry, dict):
                continue
            user, password = entry.get("username", ""), entry.get("password", "")
            if entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
            out.append({"username": user, "password": password, "serveraddress": server})
    return out


async def pull_secrets(objects, pod: dict, container: dict) -> list[dict]:
    """The registry credentials of the pod's ``imagePullSecrets`` that match the container's image's
    registry (read through the kubelet's ConfigMap/Secret cache ``objects``)."""
    refs = pod["spec"].get("imagePullSecrets") or []
    if not refs:
        return []
    from kubetui.agent.apiclient import APIError
    ns = pod["metadata"].get("namespace", "default")
    secrets = []
    for ref in refs:
        try:
            s = await objects.get("Secret", ns, ref.get("name", ""))
        except APIError:
            s = None
        if s is None:   # upstream pulls anyway, without that secret's credentials
            log.info("pod %s/%s: imagePullSecret %s not found", ns, pod["metadata"].get("name"), ref.get("name"))
            continue
        secrets.append(s)
    return credentials_for(container.get("image", ""), secrets)


def remote_puller(api, node_name: str) -> Puller:
    """Pull through the control plane (kubetui's images.kubetui.dev API) and report its duration."""
    async def pull(image: str, auth: list, have: str = "") -> tuple[ImageRecord | None, float]:
        from kubetui.agent.apiclient import APIError
        body = {"apiVersion": f"{PULLS_GROUP}/v1alpha1", "kind": "ImagePull", "image": image, "auth": auth}
        if have:        # an Always pull of an image the node holds: no copy when the engine's is the same
            body["haveImageID"] = have
        try:
            out = await api.create(f"/apis/{PULLS_GROUP}/v1alpha1/nodes/{node_name}/pulls", body)
        except APIError as e:
            if e.not_found and e.reason == "NotFound" and "could not find the requested resource" in str(e):
                # no control plane serving images.kubetui.dev (a bare API server): nothing to pull through
                raise PullFailed(f'failed to pull and unpack image "{normalize(image)}": '
                                 f"{HINT.format(image=image)}") from None
            raise PullFailed(getattr(e, "message", "") or str(e)) from None
        except OSError as e:
            raise PullFailed(f"the control plane could not be asked to pull: {e}") from None
        status = out.get("status") or {}
        if not status.get("pulled"):
            raise PullFailed(status.get("message") or f'failed to pull and unpack image "{normalize(image)}"')
        return None, float(status.get("pullSeconds") or 0.0)
    return pull


def fs_stats(path: str) -> tuple[int, int]:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


# -- the node's images: the store and the built-in (pinned) images ----------------------------

def _record_from_store(img) -> ImageRecord:
    """An ``imagestore.Image`` (the CRI's ``Image`` message) as an ``ImageRecord``."""
    refs = getattr(img, "refs", None) or getattr(img, "repo_tags", None) or ()
    return ImageRecord(str(getattr(img, "id", "")), tuple(normalize(r) for r in refs),
                       tuple(getattr(img, "repo_digests", None) or ()), int(getattr(img, "size", 0) or 0),
                       pinned=bool(getattr(img, "builtin", False) or getattr(img, "pinned", False)))


class NodeImages:
    """``ImageService`` over the runtime's images (CRI ``ImageStatus``/``ListImages``, the node's store)
    and kubetui's built-in images, which are pinned (part of the node, never pulled or collected)."""

    def __init__(self, runtime=None, builtin: bool = True, fs_path: str = "/") -> None:
        self.runtime = runtime
        self.builtin = builtin
        self.fs_path = fs_path

    @property
    def store(self):
        """The node's image store, when the runtime has one (``kubetui.runtime.imagestore.ImageStore``)."""
        store = getattr(self.runtime, "images", None)
        return store if hasattr(store, "import_archive") else None

    def _builtin(self, image: str) -> ImageRecord | None:
        if not self.builtin:
            return None
        from kubetui.runtime import images as catalogue
        from kubetui.runtime.cri import ImagePullError
        try:
            img = catalogue.resolve(image)
        except ImagePullError:
            return None
        return _builtin_record(img)

    def lookup(self, image: str) -> ImageRecord | None:
        status = getattr(self.runtime, "image_status", None)
        if status is not None:
            try:
                found = status(image)
            except Exception as e:  # noqa: BLE001 - a store that cannot answer: the image is not there
                log.warning("image status of %s failed: %s", image, e)
                found = None
            if found is not None:
                return _record_from_store(found)
        return self._builtin(image)

    def list(self) -> list[ImageRecord]:
        lister = getattr(self.runtime, "list_images", None)
        out = [_record_from_store(i) for i in lister()] if lister is not None else []
        if self.builtin:
            from kubetui.runtime import images as catalogue
            have = {t for r in out for t in r.repo_tags}
            out += [r for r in (_builtin_record(i) for i in catalogue.catalogue()) if not set(r.repo_tags) & have]
        return out

    def remove(self, image_id: str) -> None:
        if self.store is not None:
            self.store.remove(image_id)

    def fs_stats(self) -> tuple[int, int]:
        store = self.store
        return fs_stats(str(getattr(store, "root", "")) or self.fs_path) if store is not None \
            else fs_stats(self.fs_path)


def _builtin_record(img) -> ImageRecord:
    return ImageRecord(img.image_id, (normalize(img.ref),), (), img.size_bytes, pinned=True)
