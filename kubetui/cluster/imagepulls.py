"""Pull-through for kubetui's nodes: the control plane pulls with the host's Docker engine and copies
the image into the node (kubetui's own; upstream a node's runtime pulls from the registry itself).

kubetui's nodes reach no registry of their own, so a kubelet whose image
manager decides to pull asks here: ``POST
/apis/images.kubetui.dev/v1alpha1/nodes/NODE/pulls`` with an ``ImagePull``
(``{"image": "nginx", "auth": [...]}``; the auth entries are the pod's
``imagePullSecrets`` credentials). Like a TokenReview, the answer is the
object back with a ``status``: ``pulled``, ``imageID``, ``size``,
``pullSeconds``, or ``message`` saying why not.

The host's engine acts as the nodes' registry mirror: it pulls the image
(with the credentials given), or, where no registry answers, supplies the
copy it already holds. Pulls are shared: nodes asking for one image at
once wait for one engine pull, and a node asking twice gets one copy.
Where nothing can supply the image the message ends with kubetui's one-line
hint (``kubetui image load nginx``, or the built-in images).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from kubetui.api.errors import BadRequest, Forbidden, MethodNotAllowed, NotFound
from kubetui.kubelet.imagepolicy import normalize
from kubetui.kubelet.images import HINT, LATEST_HINT, PULLS_GROUP

log = logging.getLogger(__name__)

VERSION = "v1alpha1"


@dataclass(frozen=True)
class Supply:
    """How the engine supplies an image (``plan_supply``, pure)."""

    use: bool                  # the engine's image goes to the node
    message: str = ""          # why not, when not


def plan_supply(image: str, pulled: bool, pull_error: str, engine_has: bool) -> Supply:
    """A pulled image goes to the node; a failed pull falls back to the engine's own copy; else the error + hint.

    >>> plan_supply("nginx", False, "no such host", True)
    Supply(use=True, message='')
    >>> plan_supply("nginx:1.27", False, "no such host", False).message.startswith(
    ...     'failed to pull and unpack image "docker.io/library/nginx:1.27": no such host; kubetui:')
    True
    """
    if pulled or engine_has:
        return Supply(True)
    msg = f'failed to pull and unpack image "{normalize(image)}": {pull_error}; {HINT.format(image=image)}'
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        msg += LATEST_HINT
    return Supply(False, msg)


class PullThrough:
    """One engine pull per image at a time, one copy per node and image at a time.

    ``engine_pull(image, auth) -> (image id, size)`` and ``engine_inspect(image) -> (id, size) | None``
    are blocking (Docker's SDK) and run in threads; ``copy_to_node(node, image)`` too.
    """

    def __init__(self, engine_pull: Callable[[str, dict | None], tuple[str, int]],
                 engine_inspect: Callable[[str], tuple[str, int] | None],
                 copy_to_node: Callable[[str, str], str], nodes: Callable[[], list[str]]) -> None:
        self.engine_pull = engine_pull
        self.engine_inspect = engine_inspect
        self.copy_to_node = copy_to_node
        self.nodes = nodes
        self._engine: dict[str, asyncio.Future] = {}
        self._copies: dict[tuple[str, str], asyncio.Future] = {}
        self.engine_pulls = 0          # how many pulls reached the engine (tests, the TUI's counters)

    async def pull(self, node: str, image: str, auth: list[dict], have: str = "") -> dict[str, Any]:
        """Pull ``image`` for ``node``; ``have``: the ID of the copy the node already holds (an ``Always``
        pull), which needs no copying when the engine's image is the same (containerd, too, fetches
        only the layers it lacks)."""
        started = time.monotonic()
        ref = normalize(image)
        try:
            image_id, size = await _shared(self._engine, ref, lambda: self._from_engine(image, auth))
            err = "" if have and have == image_id else await _shared(self._copies, (node, image_id), lambda: asyncio.to_thread(self.copy_to_node, node,
                                                                                          image))
        except _NotSupplied as e:
            return {"pulled": False, "message": str(e)}
        if err:
            return {"pulled": False, "message": f'failed to pull and unpack image "{ref}": copying it into node '
                                                f"{node} failed: {err}"}
        return {"pulled": True, "imageID": image_id, "size": size,
                "pullSeconds": round(time.monotonic() - started, 3)}

    async def _from_engine(self, image: str, auth: list[dict]) -> tuple[str, int]:
        self.engine_pulls += 1
        errors = []
        for cred in (auth or [None]):       # each matching credential in turn, then none (upstream's keyring)
            try:
                return await asyncio.to_thread(self.engine_pull, image, cred)
            except Exception as e:  # noqa: BLE001 - the engine's refusal is the message the pod shows
                errors.append(str(e))
        have = await asyncio.to_thread(self.engine_inspect, image)
        plan = plan_supply(image, False, errors[-1] if errors else "no engine", have is not None)
        if not plan.use:
            raise _NotSupplied(plan.message)
        log.info("image %s: no registry answered (%s); the host engine's copy goes to the node", image, errors[-1])
        return have


class _NotSupplied(Exception):
    pass


async def _shared(table: dict, key, start: Callable[[], Awaitable]):
    """Single flight: callers asking for ``key`` while it runs wait for the same result."""
    fut = table.get(key)
    if fut is None:
        fut = asyncio.ensure_future(start())
        table[key] = fut
        fut.add_done_callback(lambda _f: table.pop(key, None))
    return await asyncio.shield(fut)


def unsupported(reason: str) -> Callable[[str, str, list], Awaitable[dict]]:
    """For providers whose nodes cannot run images (local, simulated): every pull says why."""
    async def pull(node: str, image: str, auth: list, have: str = "") -> dict:
        return {"pulled": False, "message": f'failed to pull and unpack image "{normalize(image)}": {reason}'}
    return pull


async def serve_pulls(pull: Callable[[str, str, list], Awaitable[dict]], request: Any, parts: list[str]) -> Any:
    """``POST /apis/images.kubetui.dev/v1alpha1/nodes/{node}/pulls``: answer an ImagePull with its status."""
    from kubetui.apiserver import encoding, rbac
    from kubetui.apiserver.nodeauthorizer import node_name
    if len(parts) != 4 or parts[0] != VERSION or parts[1] != "nodes" or parts[3] != "pulls":
        raise NotFound("the server could not find the requested resource")
    if request.method != "POST":
        raise MethodNotAllowed(f"{request.method} is not supported on image pulls")
    node = parts[2]
    user = rbac.CURRENT_USER.get(None)
    own = node_name(user) if user is not None else None
    if own is not None and own != node:
        raise Forbidden(f'nodes "{node}" is forbidden: node "{own}" may only pull images for itself',
                        name=node, group=PULLS_GROUP, kind="nodes")
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as e:
        raise BadRequest(f"the body of an ImagePull is not JSON: {e}") from None
    image = body.get("image") if isinstance(body, dict) else None
    if not isinstance(image, str) or not image.strip():
        raise BadRequest("ImagePull.image: Required value")
    auth = body.get("auth") or []
    if not isinstance(auth, list) or not all(isinstance(a, dict) for a in auth):
        raise BadRequest("ImagePull.auth: must be a list of {username, password, serveraddress}")
    have = body.get("haveImageID") or ""
    if not isinstance(have, str):
        raise BadRequest("ImagePull.haveImageID: must be a string")
    status = await pull(node, image.strip(), auth, have)
    out = {"apiVersion": f"{PULLS_GROUP}/{VERSION}", "kind": "ImagePull", "image": image, "status": status}
    return encoding.response(out, 201, pretty=encoding.wants_pretty(request))
