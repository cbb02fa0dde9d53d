"""The store on a real etcd v3 (upstream: ``k8s.io/apiserver/pkg/storage/etcd3/store.go``,
fronted by the watch cache, ``storage/cacher``).

Keys and values are what kube-apiserver writes: ``/registry/pods/default/web-1``
holds the Pod's JSON with ``metadata.resourceVersion`` left empty (the
apiserver's versioner clears it before storing and sets it from the key's
``mod_revision`` on every read), so ::

    etcdctl get /registry/pods/default/web-1 --print-value-only

shows the object. Revisions are etcd's own: an object's resourceVersion is its
key's ``mod_revision``.

Writes are etcd transactions, as ``etcd3/store.go`` sends them:

- create: ``If(create_revision(key) == 0).Then(Put).Else(Get)``: ``KeyExists``;
- update/delete with a precondition: ``If(mod_revision(key) == expected)``:
  ``RevisionMismatch`` carrying the current value (``GuaranteedUpdate``'s retry);
- update/delete without one: ``If(create_revision(key) > 0)``: ``KeyNotFound``.

Reads never go to etcd. As kube-apiserver's watch cache does, the store keeps
a *mirror*: one list of every key at open, then one etcd watch from the list's
revision, applied in revision order to the same in-memory state, history and
watch fan-out as the embedded store (``Store``, whose read side this class
inherits). A write returns only once the mirror has applied its revision, so
whoever wrote reads their own write. Several API servers can share one etcd:
each keeps its own mirror and every write is a compare-and-swap in etcd.

A watch older than the mirror's history gets ``Compacted`` (410 Gone), as the
watch cache answers "too old resource version"; a compactor compacts etcd
itself behind that window every ``compact_seconds`` (kube-apiserver's
``--etcd-compaction-interval``, 5 minutes).

The client speaks etcd's JSON gRPC gateway (``/v3/kv/txn``, ``/v3/watch``;
keys and values base64) over aiohttp with TLS and a client certificate from
the cluster CA: no gRPC stack to install (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
from typing import Any

import aiohttp

from kubetui.api.errors import StatusError
from kubetui.clock import Clock
from kubetui.store.etcdstatus import cluster_status
from kubetui.store.errors import KeyExists, KeyNotFound, RevisionMismatch, StoreError, StoreFailed
from kubetui.store.kv import DELETE, PUT, KeyValue, StoreEvent, encode_value, stamped
from kubetui.store.store import Store
from kubetui.store.watch import History

log = logging.getLogger(__name__)

_ALL = base64.b64encode(b"\0").decode()  # key "\0" with range_end "\0": every key


def etcdserver_error(message: Any) -> str:
    """etcd's own wording (``etcdserver: request timed out``): the gateway's message already carries the
    ``etcdserver:`` prefix for etcd's server errors; others (a bare status) get it once.

    >>> etcdserver_error("etcdserver: request timed out"), etcdserver_error(503)
    ('etcdserver: request timed out', 'etcdserver: 503')
    """
    text = str(message)
    return text if text.startswith("etcdserver: ") else f"etcdserver: {text}"


#: etcd's errors while it has no leader (rpctypes ``ErrGRPCLeaderChanged``/``ErrGRPCNoLeader``, both
#: ``codes.Unavailable``, which etcd's client retries for repeatable requests).
RETRYABLE_READ_ERRORS = ("etcdserver: leader changed", "etcdserver: no leader")
#: How long a read waits out an election before giving up (longer than a lab election, ~1 s).
READ_RETRY_SECONDS = 5.0


class EtcdUnavailable(StoreError, StatusError):
    """etcd did not answer, or answered with an error (``etcdserver: request timed out``).

    kube-apiserver passes such an error through unchanged (``ErrorToAPIStatus``
    of an error that is no API status): a 500 Status with no reason and the
    etcd client's message, which kubectl prints as ``Error from server: ...``.
    """

    code = 500
    reason = ""

    def __init__(self, message: str) -> None:
        StatusError.__init__(self, message)


def _b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def for_storage(value: dict[str, Any]) -> bytes:
    """The JSON kube-apiserver stores: the object without ``metadata.resourceVersion``
    (``APIObjectVersioner.PrepareObjectForStorage``). Raises TypeError/ValueError like ``encode_value``."""
    if not isinstance(value, dict):
        raise TypeError(f"store values are JSON objects (dict), not {type(value).__name__}")
    meta = value.get("metadata")
    if isinstance(meta, dict) and "resourceVersion" in meta:
        value = {**value, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return encode_value(value)


def _decode_kv(d: dict[str, Any], version: int | None = None, mod_revision: int | None = None) -> KeyValue:
    """An etcd ``mvccpb.KeyValue`` (gateway JSON) as a KeyValue, its value stamped with its revision."""
    key = base64.b64decode(d["key"]).decode()
    mod = int(d.get("mod_revision", 0)) if mod_revision is None else mod_revision
    raw = base64.b64decode(d.get("value", ""))
    try:
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
    except ValueError:
        # Not written by kubetui (etcdctl put, a protobuf value): shown, never decoded further.
        value = {"metadata": {}, "kubetui.dev/undecodableValue": base64.b64encode(raw).decode()}
    return KeyValue(key, None, int(d.get("create_revision", 0)),
                    mod, int(d.get("version", 0)) if version is None else version,
                    raw=encode_value(stamped(value, mod)))


class EtcdStore(Store):
    """The store over an etcd v3 endpoint (``https://127.0.0.1:2379``), with an in-memory mirror.

    ``ssl`` is the client's TLS context (trusting the cluster CA, with the
    API server's etcd client certificate); ``None`` for plain HTTP.
    """

    def __init__(self, endpoint: str, *, ssl_context: ssl.SSLContext | None = None,
                 history_events: int = 10_000, history_seconds: float = 300, clock: Clock | None = None,
                 watch_queue_limit: int = 10_000, compact_seconds: float = 300,
                 request_timeout: float = 30) -> None:
        super().__init__(None, history_events, history_seconds, clock, watch_queue_limit=watch_queue_limit)
        # Several members' client URLs (comma-separated, as --etcd-servers): a request that cannot
        # connect moves on to the next one, as etcd's client balancer does.
        self.endpoints = [e.strip().rstrip("/") for e in endpoint.split(",") if e.strip()]
        self.endpoint = self.endpoints[0]
        self.compact_seconds = compact_seconds
        self._ssl = ssl_context
        self._timeout = request_timeout
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._watching = False
        self._watch_created: asyncio.Event | None = None
        self._probe_error: str | None = None
        self._compacted = 0
        self.member: dict[str, Any] = {}  # the last maintenance status (leader, raft term/index, DB size)
        self._known_members: list[dict[str, Any]] = []  # the last member list (for when no member answers it)
        self.stats = {"txns": 0, "watch_events": 0, "relists": 0, "compactions": 0}

    def __repr__(self) -> str:
        return f"EtcdStore({self.endpoint})"

    # ---------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        if self._opened:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False, limit=256),
            timeout=aiohttp.ClientTimeout(total=self._timeout))
        try:
            await self._relist()
        except BaseException:
            await self._session.close()
            raise
        self._opened = True
        self._watch_created = asyncio.Event()
        self._tasks = [asyncio.create_task(self._watch_loop(), name="kubetui-etcd-watch"),
                       asyncio.create_task(self._probe_loop(), name="kubetui-etcd-probe")]
        try:  # serve only once the mirror follows etcd (health() says so until then)
            await asyncio.wait_for(self._watch_created.wait(), self._timeout)
        except asyncio.TimeoutError:
            log.warning("etcd store %s: the watch was not created within %ss", self.endpoint, self._timeout)
        log.info("etcd store %s open at revision %d (%d keys)", self.endpoint, self._revision, len(self._state))

    async def close(self) -> None:
        if not self._opened or self._closing:
            return
        self._closing = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(StoreError("store is not open"))
        self._waiters.clear()
        if self._session is not None:
            await self._session.close()
        self._hub.close_all()
        self._opened = False

    # -------------------------------------------------------------------- reads

    def health(self) -> str | None:
        if not self._opened or self._closing:
            return "the store is not open"
        if self._probe_error is not None:
            return f"etcd at {self.endpoint}: {self._probe_error}"
        if not self._watching:
            return f"etcd at {self.endpoint}: the watch feeding the cache is not connected"
        return None

    # ------------------------------------------------------------------- writes

    async def create(self, key: str, value: dict[str, Any]) -> KeyValue:
        raw = for_storage(value)
        resp = await self._txn(key, {"target": "CREATE", "create_revision": "0", "result": "EQUAL"},
                               {"request_put": {"key": _b64(key), "value": _b64(raw)}})
        rev = int(resp["header"]["revision"])
        if not resp.get("succeeded"):
            cur = self._failure_kv(resp)
            if cur is None:  # deleted between the compare and the read: cannot happen in one txn
                raise StoreFailed(f"etcd refused the create of {key} without a current value")
            raise KeyExists(key, cur)
        await self._visible(rev)
        return KeyValue(key, None, rev, rev, 1, raw=encode_value(stamped(json.loads(raw), rev)))

    async def update(self, key: str, value: dict[str, Any],
                     expected_mod_revision: int | None = None) -> KeyValue:
        raw = for_storage(value)
        resp = await self._txn(key, self._precondition(expected_mod_revision),
                               {"request_put": {"key": _b64(key), "value": _b64(raw), "prev_kv": True}},
                               expected_mod_revision)
        rev = int(resp["header"]["revision"])
        prev = resp["responses"][0]["response_put"]["prev_kv"]
        await self._visible(rev)
        return KeyValue(key, None, int(prev["create_revision"]), rev, int(prev.get("version", 0)) + 1,
                        raw=encode_value(stamped(json.loads(raw), rev)))

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> KeyValue:
        resp = await self._txn(key, self._precondition(expected_mod_revision),
                               {"request_delete_range": {"key": _b64(key), "prev_kv": True}},
                               expected_mod_revision)
        rev = int(resp["header"]["revision"])
        prev = resp["responses"][0]["response_delete_range"]["prev_kvs"][0]
        await self._visible(rev)
        return _decode_kv(prev, version=0, mod_revision=rev)

    async def checkpoint(self) -> None:
        """etcd persists every write itself (its WAL, snapshots, bbolt); wait until the mirror is current."""
        self._check_open()
        resp = await self._repeatable("/v3/kv/range", {"key": _b64("\0"), "count_only": True, "limit": "1"})
        await self._visible(int(resp["header"]["revision"]))

    async def _repeatable(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A read, retried while etcd is between leaders, as etcd's Go client retries a repeatable request
        (a Range) on ``codes.Unavailable``: ``etcdserver: leader changed`` and ``etcdserver: no leader`` last
        one election (a second or so); the read then succeeds on the new leader. Writes are never retried
        here (not repeatable: a timed-out Txn may still commit). A lost quorum outlasts the retries and
        its error reaches the caller.
        """
        delay, waited = 0.025, 0.0
        while True:
            try:
                return await self._post(path, body)
            except EtcdUnavailable as e:
                if not any(t in str(e) for t in RETRYABLE_READ_ERRORS) or waited >= READ_RETRY_SECONDS:
                    raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)

    async def consistent_read(self) -> None:
        """Before a read that asked for the latest state (``resourceVersion`` unset): upstream's consistent
        read from the watch cache (KEP-2340; a GET goes to etcd itself, with the same result). Ask etcd
        for its current revision with a quorum (linearizable) read, then wait until the mirror has it.
        Without a quorum etcd cannot answer, and neither can the read: ``etcdserver: request timed out``,
        while reads with ``resourceVersion=0`` (informers' lists, watches) are still served from the mirror.
        """
        await self.checkpoint()

    async def cluster_status(self) -> dict[str, Any]:
        """``etcdctl member list`` and ``etcdctl endpoint status`` of every member (``etcdstatus.summarize``)."""
        self._check_open()
        assert self._session is not None
        session = self._session

        async def post(endpoint: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            try:
                async with session.post(endpoint + path, json=body, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    data = await r.json(content_type=None)
            except aiohttp.ClientConnectorError as e:  # a member that is down, in Go's words (etcdctl's)
                raise EtcdUnavailable(f"dial tcp {endpoint.split('://')[-1]}: connect: connection refused") from e
            if r.status != 200 or "error" in data:
                raise EtcdUnavailable(etcdserver_error(data.get("message") or data.get("error") or r.status))
            return data
        summary, self._known_members = await cluster_status(post, self.endpoints, self._known_members)
        return summary

    async def bump_revision(self, past: int, key: str = "/kubetui/revision-bump") -> None:
        """Write until the revision is past ``past``, then delete the key (etcdutl's ``--bump-revision``).

        After a restore or a migration every client's resourceVersion must be
        behind the store's revision, so its watch gets 410 Gone and relists
        instead of waiting for revisions that already happened once.
        """
        if self._revision > past:
            return
        sem = asyncio.Semaphore(64)
        await self.create(key, {"metadata": {"name": "revision-bump"}})

        async def put() -> None:
            async with sem:
                await self.update(key, {"metadata": {"name": "revision-bump"}})
        while self._revision < past:
            await asyncio.gather(*(put() for _ in range(min(1024, past - self._revision))))
        await self.delete(key)

    async def key_history(self, key: str, idle: float = 0.3) -> tuple[int, list[StoreEvent]]:
        """Every revision of ``key`` etcd still keeps (``etcdctl watch KEY --rev 1``), oldest first,
        and the oldest revision kept (after the last compaction).

        A watch from revision 1 replays the key's history; when etcd has compacted
        that far it says so and the watch starts again from the compaction. The
        replay is over when the stream stays quiet for ``idle`` seconds.
        """
        self._check_open()
        assert self._session is not None
        start = 1
        for _ in range(3):
            events: list[StoreEvent] = []
            body = {"create_request": {"key": _b64(key), "start_revision": str(start), "prev_kv": True}}
            compacted = 0
            async with self._session.post(self.endpoint + "/v3/watch", json=body,
                                          timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)) as r:
                buf = b""
                while True:
                    try:
                        chunk = await asyncio.wait_for(r.content.readany(), idle)
                    except asyncio.TimeoutError:
                        break
                    if not chunk:
                        break
                    buf += chunk
                    while (nl := buf.find(b"\n")) != -1:
                        line, buf = buf[:nl], buf[nl + 1:]
                        res = json.loads(line).get("result", {}) if line.strip() else {}
                        compacted = int(res.get("compact_revision", 0) or 0)
                        for e in res.get("events") or []:
                            rev = int(e["kv"]["mod_revision"])
                            prev = _decode_kv(e["prev_kv"]) if e.get("prev_kv") else None
                            if e.get("type") == "DELETE":
                                kv = (_decode_kv(e["prev_kv"], version=0, mod_revision=rev) if prev else
                                      KeyValue(key, {"metadata": {}}, 0, rev, 0))
                                events.append(StoreEvent(DELETE, kv, prev, rev))
                            else:
                                events.append(StoreEvent(PUT, _decode_kv(e["kv"]), prev, rev))
                    if compacted:
                        break
            if not compacted:
                return start, events
            start = compacted
        raise StoreError(f"etcd kept compacting while reading the history of {key}")

    @staticmethod
    def _precondition(expected: int | None) -> dict[str, str]:
        if expected is None:
            return {"target": "CREATE", "create_revision": "0", "result": "GREATER"}
        return {"target": "MOD", "mod_revision": str(expected), "result": "EQUAL"}

    async def _txn(self, key: str, compare: dict[str, str], op: dict[str, Any],
                   expected: int | None = None) -> dict[str, Any]:
        self._check_open()
        resp = await self._post("/v3/kv/txn", {
            "compare": [{"key": _b64(key), **compare}], "success": [op],
            "failure": [{"request_range": {"key": _b64(key)}}]})
        self.stats["txns"] += 1
        is_create = compare["target"] == "CREATE" and compare["result"] == "EQUAL"
        if not resp.get("succeeded") and not is_create:  # a failed update or delete: say why
            cur = self._failure_kv(resp)
            if cur is None:
                raise KeyNotFound(key)
            if expected is not None:
                raise RevisionMismatch(key, expected, cur)
            raise StoreFailed(f"etcd refused the write of {key}: {resp}")
        return resp

    @staticmethod
    def _failure_kv(resp: dict[str, Any]) -> KeyValue | None:
        kvs = resp["responses"][0]["response_range"].get("kvs") or []
        return _decode_kv(kvs[0]) if kvs else None

    def _check_open(self) -> None:
        if not self._opened or self._closing:
            raise StoreError("store is not open")

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._session is not None
        for attempt in range(len(self.endpoints)):
            endpoint = self.endpoint
            try:
                async with self._session.post(endpoint + path, json=body) as r:
                    data = await r.json(content_type=None)
                break
            except aiohttp.ClientConnectorError as e:
                # Not connected, so not sent: safe to try the next member (etcd's client balancer).
                self._next_endpoint()
                if attempt + 1 < len(self.endpoints):
                    continue
                # what etcd's gRPC client says when no member answers
                raise EtcdUnavailable(f'rpc error: code = Unavailable desc = connection error: desc = "transport: '
                                      f'Error while dialing dial tcp {endpoint.split("://")[-1]}: connect: '
                                      f'connection refused"') from e
            except asyncio.TimeoutError as e:
                raise EtcdUnavailable("context deadline exceeded") from e
            except (aiohttp.ClientError, ValueError) as e:
                raise EtcdUnavailable(f"etcd at {endpoint}: {e or type(e).__name__}") from e
        if r.status != 200 or "error" in data:
            raise EtcdUnavailable(etcdserver_error(data.get('message') or data.get('error') or r.status))
        return data

    def _next_endpoint(self) -> None:
        if len(self.endpoints) > 1:
            i = self.endpoints.index(self.endpoint) if self.endpoint in self.endpoints else -1
            self.endpoint = self.endpoints[(i + 1) % len(self.endpoints)]

    async def _visible(self, revision: int) -> None:
        """Wait until the mirror has applied ``revision`` (read-your-writes)."""
        if self._revision >= revision:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, fut))
        try:
            await asyncio.wait_for(asyncio.shield(fut), self._timeout)
        except asyncio.TimeoutError:
            # etcd acknowledged the write, so it is durable; the watch that feeds the mirror is
            # down (etcd died right after, say). Answer rather than hang: the mirror relists when
            # the watch comes back, and until then a read may not show this write yet.
            self._waiters = [(r, f) for r, f in self._waiters if f is not fut]
            log.warning("etcd store: revision %s acknowledged but not yet seen by the watch after %ss",
                        revision, self._timeout)

    def _wake(self) -> None:
        if not self._waiters:
            return
        keep = []
        for rev, fut in self._waiters:
            if rev <= self._revision:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((rev, fut))
        self._waiters = keep

    # ------------------------------------------------------------------ mirror

    async def _relist(self) -> None:
        """Load every key (one range at one revision), replacing the mirror: the watch cache's relist."""
        resp = await self._repeatable("/v3/kv/range", {"key": _ALL, "range_end": _ALL})
        rev = int(resp["header"]["revision"])
        state = {kv.key: kv for kv in map(_decode_kv, resp.get("kvs") or [])}
        if self._opened:
            # The events between the old mirror and this list are gone: every watcher relists too.
            self.stats["relists"] += 1
            log.warning("etcd store %s: relisted at revision %d; open watches end with 410 Gone",
                        self.endpoint, rev)
            from kubetui.store.errors import Compacted
            for group in list(self._hub._by_prefix.values()):
                for w in list(group):
                    w._error = Compacted(w.last_revision, rev + 1)
                    w.close()
            self._history = History(self._history.min_events, self._history.min_seconds, self._clock.monotonic)
        self._state = state
        self._keys = sorted(state)
        self._revision = rev
        self._wake()

    async def _watch_loop(self) -> None:
        """Follow every key from the mirror's revision on; reconnect (or relist) when the stream ends."""
        assert self._session is not None
        backoff = 0.1
        while not self._closing:
            try:
                body = {"create_request": {"key": _ALL, "range_end": _ALL,
                                           "start_revision": str(self._revision + 1), "progress_notify": True}}
                async with self._session.post(self.endpoint + "/v3/watch", json=body,
                                              timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)) as r:
                    if r.status != 200:
                        raise EtcdUnavailable(f"watch answered {r.status}")
                    buf = b""
                    async for chunk in r.content.iter_any():
                        buf += chunk
                        while (nl := buf.find(b"\n")) != -1:
                            line, buf = buf[:nl], buf[nl + 1:]
                            if line.strip():
                                await self._on_watch_message(json.loads(line))
                                backoff = 0.1
                raise EtcdUnavailable("the watch stream ended")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the loop's boundary: reconnect after a pause
                if isinstance(e, aiohttp.ClientConnectorError):
                    self._next_endpoint()
                if self._watching:
                    log.warning("etcd store %s: watch lost (%s); reconnecting", self.endpoint, e)
                self._watching = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _on_watch_message(self, msg: dict[str, Any]) -> None:
        if "error" in msg:
            raise EtcdUnavailable(etcdserver_error(msg['error'].get('message', msg['error'])))
        res = msg.get("result", {})
        if res.get("created"):
            self._watching = True
            if self._watch_created is not None:
                self._watch_created.set()
        if int(res.get("compact_revision", 0) or 0) > 0:
            await self._relist()
            raise EtcdUnavailable(f"the mirror's revision was compacted (at {res['compact_revision']})")
        if res.get("canceled"):
            raise EtcdUnavailable(f"watch canceled: {res.get('cancel_reason', '')}")
        events = []
        base = self._revision
        for e in res.get("events") or []:
            d = e["kv"]
            rev = int(d["mod_revision"])
            if rev <= base:
                continue  # already in the mirror (a reconnect resumed at the next revision)
            key = base64.b64decode(d["key"]).decode()
            prev = self._state.get(key)
            if e.get("type") == "DELETE":
                if prev is None:
                    log.warning("etcd store %s: delete of %s, which the mirror does not hold", self.endpoint, key)
                    self._revision = rev
                    continue
                kv = KeyValue(key, None, prev.create_revision, rev, 0,
                              raw=encode_value(stamped(json.loads(prev.raw), rev)))
                ev = StoreEvent(DELETE, kv, prev, rev)
            else:
                ev = StoreEvent(PUT, _decode_kv(d), prev, rev)
            # One revision per event, except a transaction writing several keys (`etcdctl txn`;
            # kubetui never sends one): its events share a revision, which the history's
            # revision-indexed window cannot hold, so the window starts again after it
            # (older watches then get 410 Gone and relist).
            if self._history._events and rev != self._history._events[-1][1].revision + 1:
                self._history = History(self._history.min_events, self._history.min_seconds,
                                        self._clock.monotonic)
            self._apply([ev])
            self._revision = rev
            events.append(ev)
        if events:
            self.stats["watch_events"] += len(events)
            self._hub.publish(events)
            self._wake()

    # ----------------------------------------------------------- health, compaction

    async def _probe_loop(self) -> None:
        """kube-apiserver's etcd health check, once a second; and the compactor."""
        since_compact = 0.0
        while not self._closing:
            try:
                self.member = await asyncio.wait_for(self._post("/v3/maintenance/status", {}), 2)
                self._probe_error = None
                if self.member.get("errors"):
                    self._probe_error = "; ".join(self.member["errors"])
            except (StoreError, asyncio.TimeoutError) as e:
                self._probe_error = str(e) or "did not answer within 2s"
            await asyncio.sleep(1)
            since_compact += 1
            if since_compact >= self.compact_seconds:
                since_compact = 0
                await self._compact()

    async def _compact(self) -> None:
        """Compact etcd's history behind the mirror's window (``--etcd-compaction-interval``)."""
        target = self.oldest_revision - 1
        if target <= self._compacted or self._probe_error is not None:
            return
        try:
            await self._post("/v3/kv/compaction", {"revision": str(target)})
            self._compacted = target
            self.stats["compactions"] += 1
        except StoreError as e:
            if "compacted" in str(e):
                self._compacted = target
            else:
                log.warning("etcd store %s: compaction at %d failed: %s", self.endpoint, target, e)
