"""The reconcile log: one record per controller sync and per scheduling cycle.

Upstream has no such thing: a controller's reasoning is in its verbose logs
(``klog.V(4)``: "Finished syncing deployment ... (1.2ms)") and its writes are
in the API server's audit log, two places a learner never sees together.
kubetui keeps, for every reconcile, *which* controller looked at *which*
object, what it observed (``want 5, have 4 (1 terminating)``), what it decided
(``scale up rs web-7d9f from 2 to 3``), the API writes it made (verb,
resource, name, resourceVersion before -> after), when it started and how
long it took, in a bounded ring in the control plane, numbered by a sequence
number that only grows. ``kubetui activity``, the TUI's activity view and
``kubetui time step`` read it from ``controlplane.kubetui.dev``
(``kubetui.client.views``).

How the pieces fit:

- ``ReconcileLog`` is the ring (control plane side): ``begin`` a record,
  ``end`` it; ended records get the next sequence number and are published.
- ``CURRENT`` (a context variable) holds the record of the reconcile running
  in this asyncio task. ``observe``/``decide`` add text to it, and
  ``RecordingClient`` (the client every controller and the scheduler use)
  adds each write it carries to it: no controller records its own writes.
- ``related_to`` and ``ReconcileLog.since`` filter "by object": a
  Deployment's records plus its ReplicaSets' and their pods', following the
  owners the records observed (ownerReferences, creations) and, for records
  older than that knowledge, the names controllers give (``<deploy>-<hash>``).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from kubetui.clock import Clock, rfc3339_micro

#: how many records the control plane keeps
DEFAULT_CAPACITY = 10_000

#: the record of the reconcile running in this task (None: writes are not recorded)
CURRENT: contextvars.ContextVar["ReconcileRecord | None"] = contextvars.ContextVar(
    "kubetui_reconcile_record", default=None)

#: owner kind -> the kinds it creates, named ``<owner>-<suffix>`` (the name-prefix fallback of ``related_to``)
CHILD_KINDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("ReplicaSet",),
    "ReplicaSet": ("Pod",),
    "ReplicationController": ("Pod",),
    "StatefulSet": ("Pod", "ControllerRevision"),
    "DaemonSet": ("Pod", "ControllerRevision"),
    "Job": ("Pod",),
    "CronJob": ("Job",),
}

#: plural resource -> Kind, for the objects controllers create (what ``APIWrite`` names)
_KIND_OF_RESOURCE = {
    "pods": "Pod", "replicasets": "ReplicaSet", "deployments": "Deployment", "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet", "jobs": "Job", "cronjobs": "CronJob", "controllerrevisions": "ControllerRevision",
    "replicationcontrollers": "ReplicationController", "endpoints": "Endpoints",
    "endpointslices": "EndpointSlice", "services": "Service", "nodes": "Node", "events": "Event",
    "persistentvolumeclaims": "PersistentVolumeClaim", "persistentvolumes": "PersistentVolume",
}


def object_key(kind: str | None, namespace: str | None, name: str) -> str:
    """``Deployment/default/web``; ``Node/node-1`` for a cluster-scoped object; the bare key without a kind."""
    if not kind:
        return name if not namespace else f"{namespace}/{name}"
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


@dataclass
class APIWrite:
    """One write a reconcile sent to the API server."""

    verb: str                       # create | update | patch | delete
    resource: str                   # plural, e.g. "replicasets"
    namespace: str | None
    name: str
    subresource: str | None = None  # "status", "binding", "scale"...
    rv_before: str | None = None    # the resourceVersion the write was based on, if it said
    rv_after: str | None = None     # the object's resourceVersion the API server answered with
    error: str | None = None        # "Conflict: ..." when the API server refused it

    def to_dict(self) -> dict[str, Any]:
        d = {"verb": self.verb, "resource": self.resource, "namespace": self.namespace, "name": self.name,
             "subresource": self.subresource, "resourceVersionBefore": self.rv_before,
             "resourceVersionAfter": self.rv_after, "error": self.error}
        return {k: v for k, v in d.items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "APIWrite":
        return cls(d.get("verb", ""), d.get("resource", ""), d.get("namespace"), d.get("name", ""),
                   d.get("subresource"), d.get("resourceVersionBefore"), d.get("resourceVersionAfter"),
                   d.get("error"))

    def text(self) -> str:
        """``update replicasets/status default/web-7d9f rv 41 -> 57``."""
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        rv = f" rv {self.rv_before or '-'} -> {self.rv_after or '-'}"
        return f"{self.verb} {res} {where}{rv}" + (f"  ✗ {self.error}" if self.error else "")


@dataclass
class ReconcileRecord:
    """One sync of one object by one controller (or one scheduling cycle of one pod)."""

    controller: str                 # "deployment", "replicaset", "scheduler"...
    kind: str | None                # the Kind of the object synced ("Deployment"); None if the key has none
    namespace: str | None
    name: str
    start: float                    # wall-clock seconds (clock.time())
    owner: str | None = None        # the object's controller owner as observed: "Deployment/default/web"
    observed: list[str] = field(default_factory=list)
    decided: list[dict[str, Any]] = field(default_factory=list)  # {"text": ..., plus structured fields}
    writes: list[APIWrite] = field(default_factory=list)
    seq: int = 0                    # given when the record is published
    duration: float = 0.0           # seconds
    result: str = "ok"              # "ok", "requeue after 1.5s", "error: ..."
    # monotonic start, and how many background tasks (a binding) it still waits for
    _t0: float = 0.0
    _held: int = 0
    _ended: bool = False
    _published: bool = False

    @property
    def object(self) -> str:
        return object_key(self.kind, self.namespace, self.name)

    def observe(self, text: str) -> None:
        self.observed.append(text)

    def decide(self, text: str, **data: Any) -> None:
        self.decided.append({"text": text, **data})

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "seq": self.seq, "controller": self.controller,
            "object": {"kind": self.kind, "namespace": self.namespace, "name": self.name},
            "startTime": rfc3339_micro(self.start), "durationSeconds": round(self.duration, 6),
            "observed": list(self.observed), "decided": [dict(x) for x in self.decided],
            "writes": [w.to_dict() for w in self.writes], "result": self.result,
        }
        if self.owner:
            d["owner"] = self.owner
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReconcileRecord":
        from kubetui.clock import parse_rfc3339

        o = d.get("object") or {}
        rec = cls(d.get("controller", ""), o.get("kind"), o.get("namespace"), o.get("name", ""),
                  parse_rfc3339(d["startTime"]) if d.get("startTime") else 0.0, owner=d.get("owner"),
                  observed=list(d.get("observed") or []), decided=[dict(x) for x in d.get("decided") or []],
                  writes=[APIWrite.from_dict(w) for w in d.get("writes") or []], seq=int(d.get("seq") or 0),
                  duration=float(d.get("durationSeconds") or 0.0), result=d.get("result", "ok"))
        rec._ended = rec._published = True
        return rec

    @property
    def silent(self) -> bool:
        """Said nothing and wrote nothing (a garbage collector's look at a pod it leaves alone, say)."""
        return not (self.observed or self.decided or self.writes) and self.result == "ok"

    def decided_text(self) -> list[str]:
        """What it decided, in words; when a controller said nothing, what its writes were."""
        if self.decided:
            return [x.get("text", "") for x in self.decided]
        if self.writes:
            return [w.text() for w in self.writes]
        return ["nothing to do"]


# --- what controllers call -----------------------------------------------------------------------

def current() -> ReconcileRecord | None:
    """The record of the reconcile running now, if the reconcile log is on."""
    return CURRENT.get()


def observe(text: str) -> None:
    """Add to the running reconcile's "observed" (does nothing when nothing is recorded)."""
    rec = CURRENT.get()
    if rec is not None:
        rec.observed.append(text)


def decide(text: str, **data: Any) -> None:
    """Add to the running reconcile's "decided"; ``data`` are structured fields (e.g. a scale step's from/to)."""
    rec = CURRENT.get()
    if rec is not None:
        rec.decided.append({"text": text, **data})


def set_owner(obj: dict[str, Any]) -> None:
    """Note the synced object's controller owner (from its ownerReferences) on the running record."""
    set_owner_of(CURRENT.get(), obj)


def set_owner_of(rec: ReconcileRecord | None, obj: dict[str, Any]) -> None:
    if rec is None:
        return
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            rec.owner = object_key(ref.get("kind"), meta.get("namespace"), ref.get("name", ""))
            return


# --- the ring ------------------------------------------------------------------------------------

class ReconcileLog:
    """The last ``capacity`` records, by sequence number; a long-poll waits for new ones.

    >>> log = ReconcileLog(capacity=2)
    >>> for name in ("a", "b", "c"):
    ...     log.end(log.begin("replicaset", "ReplicaSet", "default", name))
    >>> [(r.seq, r.name) for r in log.since(0)], log.oldest_seq, log.last_seq
    ([(2, 'b'), (3, 'c')], 2, 3)
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, clock: Clock | None = None,
                 enabled: bool = True) -> None:
        self.capacity = capacity
        self.clock = clock or Clock()
        #: off: ``begin`` returns None and nothing is recorded (``kubetui bench scheduler --reconcile-log off``)
        self.enabled = enabled
        self._records: collections.deque[ReconcileRecord] = collections.deque(maxlen=capacity)
        self._seq = 0
        # what the records taught about ownership: child object key -> owner object key (bounded, FIFO)
        self._parents: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._waiters: list[asyncio.Future[None]] = []
        # records whose reconcile returned but that wait for background work they started (a binding)
        self._held: set[int] = set()

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def oldest_seq(self) -> int:
        """The oldest record still kept (``last_seq + 1`` when empty): older ones were dropped."""
        return self._records[0].seq if self._records else self._seq + 1

    def __len__(self) -> int:
        return len(self._records)

    def begin(self, controller: str, kind: str | None, namespace: str | None, name: str) -> ReconcileRecord | None:
        """A new record (not yet numbered); None when the log is off."""
        if not self.enabled:
            return None
        rec = ReconcileRecord(controller, kind, namespace or None, name, self.clock.time())
        rec._t0 = time.perf_counter()
        return rec

    def end(self, rec: ReconcileRecord | None, result: str = "ok") -> None:
        """The reconcile returned: publish the record, unless background work it started still runs."""
        if rec is None or rec._ended:
            return
        rec._ended = True
        rec.result = result
        rec.duration = time.perf_counter() - rec._t0
        if rec._held == 0:
            self._publish(rec)
        else:
            self._held.add(id(rec))

    def hold(self, rec: ReconcileRecord | None, task: "asyncio.Task[Any]") -> None:
        """Keep ``rec`` open until ``task`` (started by the reconcile, e.g. a binding) is done."""
        if rec is None or rec._published:
            return
        rec._held += 1

        def done(_: Any) -> None:
            rec._held -= 1
            if rec._held == 0 and rec._ended:
                rec.duration = time.perf_counter() - rec._t0
                self._held.discard(id(rec))
                self._publish(rec)
        task.add_done_callback(done)

    async def flush(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` s) until no returned reconcile waits for its background work, so
        ``since`` lists everything that ran so far (what ``kubetui time step`` shows); True if none waits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while self._held:
            left = deadline - loop.time()
            if left <= 0:
                return False
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait_for(fut, left)
            except asyncio.TimeoutError:
                pass
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)
        return True

    def _publish(self, rec: ReconcileRecord) -> None:
        if rec._published:
            return
        rec._published = True
        self._seq += 1
        rec.seq = self._seq
        self._records.append(rec)
        obj = rec.object
        if rec.owner:
            self._learn(obj, rec.owner)
        for w in rec.writes:
            if w.verb == "create" and not w.subresource and w.error is None and w.resource in _KIND_OF_RESOURCE:
                self._learn(object_key(_KIND_OF_RESOURCE[w.resource], w.namespace, w.name), obj)
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _learn(self, child: str, parent: str) -> None:
        if child == parent:
            return
        self._parents[child] = parent
        self._parents.move_to_end(child)
        while len(self._parents) > 4 * self.capacity:
            self._parents.popitem(last=False)

    def ancestors(self, key: str) -> list[str]:
        """The owners the records taught, nearest first (``ReplicaSet/...``, then ``Deployment/...``)."""
        out: list[str] = []
        while (parent := self._parents.get(key)) is not None and parent not in out and len(out) < 8:
            out.append(parent)
            key = parent
        return out

    def since(self, seq: int = 0, *, object: str | None = None, namespace: str | None = None,
              controller: str | None = None, limit: int | None = None, tail: int | None = None,
              silent: bool = True) -> list[ReconcileRecord]:
        """Published records with a sequence number above ``seq``, oldest first, filtered.

        ``object`` (``Deployment/default/web``) keeps the object's own records
        and those of everything it owns, as ``related_to`` says; ``limit`` keeps
        the first ones, ``tail`` the last ones; ``silent=False`` leaves out the records that said and
        wrote nothing.
        """
        start = max(0, seq - self.oldest_seq + 1)   # sequence numbers in the ring are consecutive
        out = [r for r in itertools.islice(self._records, start, None)
               if (silent or not r.silent)
               and (namespace is None or r.namespace == namespace)
               and (controller is None or r.controller == controller)
               and (object is None or related_to(r, object, self.ancestors))]
        if tail is not None:
            out = out[-tail:] if tail > 0 else []
        if limit is not None:
            out = out[:limit]
        return out

    async def wait(self, seq: int, timeout: float, **filters: Any) -> list[ReconcileRecord]:
        """A long poll: the records after ``seq`` matching ``filters``, waiting up to ``timeout`` s for one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            found = self.since(seq, **filters)
            left = deadline - loop.time()
            if found or left <= 0:
                return found
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait_for(fut, left)
            except asyncio.TimeoutError:
                pass
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)


def related_to(rec: ReconcileRecord, target: str, ancestors: Any = None) -> bool:
    """Whether ``rec`` is about ``target`` (``Kind/ns/name``) or something ``target`` owns.

    Ownership comes from what the log learnt (``ancestors(key)``), else from
    the record's own ``owner``, else from names: a ReplicaSet ``web-7d9f`` of
    Deployment ``web``, its pod ``web-7d9f-x2x4k``.

    >>> rs = ReconcileRecord("replicaset", "ReplicaSet", "default", "web-7d9f", 0.0)
    >>> related_to(rs, "Deployment/default/web"), related_to(rs, "Deployment/default/api")
    (True, False)
    >>> pod = ReconcileRecord("scheduler", "Pod", "default", "web-7d9f-x2x4k", 0.0, owner="ReplicaSet/default/web-7d9f")
    >>> related_to(pod, "Deployment/default/web"), related_to(pod, "ReplicaSet/default/web-7d9f")
    (True, True)
    """
    key = rec.object
    if key == target:
        return True
    chain = list(ancestors(key)) if ancestors is not None else []
    if rec.owner and rec.owner not in chain:
        chain.insert(0, rec.owner)
        if ancestors is not None:
            chain += [a for a in ancestors(rec.owner) if a not in chain]
    if target in chain:
        return True
    # The name fallback: walk up from the farthest owner known, by the names controllers give.
    return _named_under(chain[-1] if chain else key, target, 0)


def _name_parents(key: str) -> list[str]:
    """Who may own ``key`` by name: a pod ``web-7d9f-x2x4k``'s ReplicaSet ``web-7d9f`` (or Job, StatefulSet...)."""
    kind, _, rest = key.partition("/")
    ns, _, name = rest.rpartition("/")
    if "-" not in name:
        return []
    base = name.rsplit("-", 1)[0]
    return [f"{owner}/{ns}/{base}" for owner, kinds in CHILD_KINDS.items() if kind in kinds]


def _named_under(key: str, target: str, depth: int) -> bool:
    for parent in _name_parents(key):
        if parent == target or (depth < 3 and _named_under(parent, target, depth + 1)):
            return True
    return False


# --- capturing writes ----------------------------------------------------------------------------

def _rv(obj: Any) -> str | None:
    if isinstance(obj, dict):
        v = (obj.get("metadata") or {}).get("resourceVersion")
        return str(v) if v else None
    return None


class RecordingClient:
    """A ``Client`` that adds every write it carries to the running reconcile's record.

    The controller manager and the scheduler hand this to their components,
    wrapped around their real client: reads pass straight through, and when
    no record is current (the log is off, or the write is not part of a
    reconcile) writes do too.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _write(self, verb: str, resource: str, namespace: str | None, name: str, subresource: str | None,
                     rv_before: str | None, call: Any) -> Any:
        rec = CURRENT.get()
        if rec is None or rec._published:
            return await call
        w = APIWrite(verb, resource, namespace, name or "", subresource, rv_before)
        rec.writes.append(w)
        try:
            out = await call
        except Exception as e:
            w.error = f"{type(e).__name__}: {e}"
            raise
        w.rv_after = _rv(out)
        if not w.name and isinstance(out, dict):
            w.name = (out.get("metadata") or {}).get("name", "")   # generateName: the name the server gave
        return out

    async def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None, **kw: Any) -> Any:
        meta = obj.get("metadata") or {}
        name = kw.get("name") or meta.get("name") or ""
        ns = namespace or meta.get("namespace")
        return await self._write("create", resource, ns, name, kw.get("subresource"), None,
                                 self._inner.create(resource, obj, namespace, **kw))

    async def update(self, resource: str, obj: dict[str, Any], namespace: str | None = None, **kw: Any) -> Any:
        meta = obj.get("metadata") or {}
        return await self._write("update", resource, namespace or meta.get("namespace"), meta.get("name", ""),
                                 kw.get("subresource"), _rv(obj), self._inner.update(resource, obj, namespace, **kw))

    async def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> Any:
        return await self._write("patch", resource, namespace, name, kw.get("subresource"), _rv(patch),
                                 self._inner.patch(resource, name, patch, namespace, **kw))

    async def delete(self, resource: str, name: str, namespace: str | None = None, **kw: Any) -> Any:
        return await self._write("delete", resource, namespace, name, None, kw.get("resource_version"),
                                 self._inner.delete(resource, name, namespace, **kw))


def records_from(doc: dict[str, Any]) -> list[ReconcileRecord]:
    """The records of a ``ReconcileRecordList`` (what ``kubetui.client.views.reconciles`` fetched)."""
    return [ReconcileRecord.from_dict(i) for i in doc.get("items") or ()]


def lines(rec: ReconcileRecord, *, with_writes: bool = True) -> list[str]:
    """A record as ``kubetui activity`` prints it: a head line, then observed / decided / writes.

    >>> r = ReconcileRecord("deployment", "Deployment", "default", "web", 1_700_000_000.0, seq=7, duration=0.0012)
    >>> r.observe("want 5, have 4")
    >>> r.decide("scale up rs web-7d9f from 2 to 3")
    >>> print("\\n".join(lines(r)))
    #7 22:13:20.000 deployment Deployment/default/web (1.2 ms)
        observed: want 5, have 4
        decided:  scale up rs web-7d9f from 2 to 3
    """
    import datetime as _dt
    at = _dt.datetime.fromtimestamp(rec.start, _dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    head = f"#{rec.seq} {at} {rec.controller} {rec.object} ({rec.duration * 1000:.1f} ms)"
    if rec.result != "ok":
        head += f"  [{rec.result}]"
    out = [head]
    for o in rec.observed:
        out.append(f"    observed: {o}")
    # A record without words says what it did by its writes (printed below, unless left out).
    for d in (rec.decided_text() if rec.decided or not with_writes or not rec.writes else []):
        out.append(f"    decided:  {d}")
    if with_writes:
        for w in rec.writes:
            out.append(f"    write:    {w.text()}")
    return out


def object_filter(text: str, namespace: str | None = None) -> str:
    """``deploy/web`` (in ``namespace``, else ``default``), ``Deployment/prod/web`` or ``node/node-1`` ->
    the ``Kind/ns/name`` key records are filtered by. ``ValueError`` with kubectl's words when it is not one.

    >>> object_filter("deploy/web"), object_filter("rs/web-7d9f", "prod"), object_filter("no/node-1")
    ('Deployment/default/web', 'ReplicaSet/prod/web-7d9f', 'Node/node-1')
    >>> object_filter("Deployment/prod/web")
    'Deployment/prod/web'
    """
    from kubetui.api.resources import resource_for

    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f'object "{text}" must be TYPE/NAME (e.g. deploy/web) or Kind/namespace/name')
    try:
        res = resource_for(parts[0])
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    if len(parts) == 3:
        return object_key(res.kind, parts[1] if res.namespaced else None, parts[2])
    return object_key(res.kind, (namespace or "default") if res.namespaced else None, parts[1])
