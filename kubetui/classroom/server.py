"""``kubetui class serve``: the teacher's class server (HTTPS, aiohttp).

Learners join with the class code and get a credential of their own (a
bearer token; only its SHA-256 is stored, and the teacher can revoke it);
with it they may only post their own progress events and read messages
meant for them. Everything else (the dashboard, the gradebook, messages,
pause, revocation) needs the teacher's token. Every client (its address and
credential) has a token bucket: a runaway learner gets 429 with
``Retry-After``, the class goes on.

State lives in the class folder: ``class.json`` (code, teacher token hash),
``learners.json`` (token hashes, revoked), ``events.jsonl`` (every accepted
event, append-only: the gradebook survives a restart), ``pki/`` (the class's
own CA and serving certificate, made by the caller).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from kubetui.classroom.channel import Channel, validate
from kubetui.classroom.link import EVENT_KINDS
from kubetui.classroom.model import ClassModel, gradebook_csv, gradebook_junit

log = logging.getLogger(__name__)

API = "/class/v1"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,62}$")
MAX_BATCH = 500
COALESCE_SECONDS = 0.05
MAX_EVENT_BYTES = 4096


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Bucket:
    """A token bucket: ``rate`` requests a second, bursts of ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> float:
        """0 when allowed, else the seconds until a request would be."""
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class ClassConfig:
    dir: Path
    code: str
    teacher_hash: str
    rate: float = 20.0
    burst: float = 60.0

    @classmethod
    def create_or_load(cls, folder: Path, *, code: str | None = None) -> tuple["ClassConfig", str | None]:
        """Load the class, or make one (a new code and teacher token; the token is returned only then)."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "class.json"
        if path.exists():
            data = json.loads(path.read_text())
            if code and code != data["code"]:
                data["code"] = code
                _write_private(path, data)
            return cls(folder, data["code"], data["teacherTokenSHA256"]), None
        teacher = secrets.token_urlsafe(24)
        data = {"code": code or new_code(), "teacherTokenSHA256": token_hash(teacher), "created": time.time()}
        _write_private(path, data)
        return cls(folder, data["code"], data["teacherTokenSHA256"]), teacher


def new_code() -> str:
    """A class code a teacher can read out: three groups of four (no 0/O, 1/I)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def _write_private(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


@dataclass
class ClassServer:
    config: ClassConfig
    clock: Callable[[], float] = time.time
    model: ClassModel = field(default_factory=ClassModel)
    learners: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> {tokenSHA256, revoked}
    channel: Channel = field(init=False)       # messages, pause, resets and drills for learners (channel.py)
    _buckets: dict[str, Bucket] = field(default_factory=dict)
    on_revoke: list[Callable[[str], Any]] = field(default_factory=list)
    #: hosted mode: reset learner ``name``'s lab (to the note's lesson step, when there is one: a ``reset``
    #: note or None); returns ``{"deleted": [...], "also": [...]}``, what it did
    on_reset: list[Callable[[str, dict[str, Any] | None], Any]] = field(default_factory=list)
    #: hosted mode: start drill (id, seed) for every hosted learner; returns what it did
    on_drill: list[Callable[[str, int], Any]] = field(default_factory=list)
    _changed: asyncio.Condition | None = None
    _closing: bool = False

    def __post_init__(self) -> None:
        self.channel = Channel(self.config.dir)
        lpath = self.config.dir / "learners.json"
        if lpath.exists():
            self.learners = json.loads(lpath.read_text())
        epath = self.config.dir / "events.jsonl"
        if epath.exists():
            with open(epath, encoding="utf-8") as f:
                for raw in f:
                    try:
                        self.model.apply(json.loads(raw))
                    except ValueError:
                        continue
        self._events_file = open(epath, "a", encoding="utf-8")

    # --- the app -------------------------------------------------------------------------------------

    def app(self, extra: Callable[[web.Application], None] | None = None) -> web.Application:
        app = web.Application(middlewares=[self._limit], client_max_size=MAX_BATCH * MAX_EVENT_BYTES)
        if extra:
            extra(app)
        r = app.router
        r.add_get("/", self.page)
        r.add_get(f"{API}/ca", self.get_ca)
        r.add_post(f"{API}/join", self.join)
        r.add_post(f"{API}/events", self.post_events)
        r.add_get(f"{API}/inbox", self.inbox)
        r.add_get(f"{API}/dashboard", self.get_dashboard)
        r.add_post(f"{API}/messages", self.post_message)
        r.add_post(f"{API}/pause", self.post_pause)
        r.add_post(f"{API}/drills", self.post_drill)
        r.add_get(f"{API}/learners", self.get_learners)
        r.add_get(f"{API}/learners/{{name}}/events", self.get_learner_events)
        r.add_post(f"{API}/learners/{{name}}/revoke", self.revoke)
        r.add_post(f"{API}/learners/{{name}}/reset", self.reset)
        r.add_get(f"{API}/gradebook.csv", self.get_csv)
        r.add_get(f"{API}/gradebook.xml", self.get_junit)
        app.on_shutdown.append(self._wake_all)
        app.on_cleanup.append(self._close)
        return app

    @property
    def paused(self) -> bool:
        return self.channel.paused

    async def _note(self, to: str, kind: str, text: str, **extra: Any) -> dict[str, Any]:
        """Post a note to the channel and wake the long-polls (learners' inboxes, the dashboard)."""
        note = self.channel.post(self.clock(), to, kind, text, **extra)
        async with self._cond():
            self.model.seq += 1       # the dashboard shows notes' effects (paused) at once too
            self._cond().notify_all()
        return note

    async def _wake_all(self, _app: web.Application) -> None:
        """Stopping: answer every long-poll now (aiohttp waits for open requests before it exits)."""
        self._closing = True
        async with self._cond():
            self._cond().notify_all()

    async def _close(self, _app: web.Application) -> None:
        self._events_file.close()

    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    @web.middleware
    async def _limit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Rate limits per client: its address and the credential it shows."""
        if self._teacher(request):
            return await handler(request)       # one trusted client: its long-polls are paced by the server
        key = f"{request.remote}|{_bearer(request) or ''}"
        bucket = self._buckets.setdefault(key, Bucket(self.config.rate, self.config.burst))
        wait = bucket.take(time.monotonic())
        if wait:
            return _status(429, "TooManyRequests", "rate limit exceeded: slow down",
                           headers={"Retry-After": str(max(1, round(wait)))})
        return await handler(request)

    # --- who is asking -------------------------------------------------------------------------------

    def _teacher(self, request: web.Request) -> bool:
        tok = _bearer(request) or request.cookies.get("teacher") or ""
        return bool(tok) and hmac.compare_digest(token_hash(tok), self.config.teacher_hash)

    def _learner(self, request: web.Request) -> str | None:
        tok = _bearer(request)
        if not tok:
            return None
        h = token_hash(tok)
        for name, rec in self.learners.items():
            if hmac.compare_digest(rec["tokenSHA256"], h):
                return None if rec.get("revoked") else name
        return None

    def _need_teacher(self, request: web.Request) -> web.Response | None:
        if self._teacher(request):
            return None
        if self._learner(request):
            return _status(403, "Forbidden", "this needs the teacher's token: a learner's credential may only "
                                             "send its own progress events and read its own messages")
        return _status(401, "Unauthorized", "this needs the teacher's token")

    # --- learners ------------------------------------------------------------------------------------

    async def get_ca(self, request: web.Request) -> web.Response:
        return web.Response(body=(self.config.dir / "pki" / "ca.crt").read_bytes(),
                            content_type="application/x-pem-file")

    async def join(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if body is None:
            return _status(400, "BadRequest", "the body must be a JSON object")
        code, name = str(body.get("code", "")), str(body.get("name", "")).strip()
        if not hmac.compare_digest(code.upper().encode(), self.config.code.upper().encode()):
            return _status(403, "Forbidden", "wrong class code")
        if not NAME_RE.match(name):
            return _status(422, "Invalid", f"name {name!r} is invalid: letters, digits, '.', '_', '-', ' '; "
                                           "at most 63 characters")
        old = self.learners.get(name)
        if old and not old.get("revoked") and not body.get("replace"):
            return _status(409, "AlreadyExists", f"a learner named {name!r} has already joined: pick another name")
        token = secrets.token_urlsafe(24)
        self.learners[name] = {"tokenSHA256": token_hash(token), "revoked": False, "joined": self.clock()}
        _write_private(self.config.dir / "learners.json", self.learners)
        log.info("learner %s joined", name)
        return web.json_response({"learner": name, "token": token}, status=201)

    def enroll(self, name: str) -> str:
        """A learner the teacher adds (hosted mode's roster): a credential without the class code."""
        old = self.learners.get(name)
        token = secrets.token_urlsafe(24)
        self.learners[name] = {"tokenSHA256": token_hash(token), "revoked": bool(old and old.get("revoked")),
                               "joined": self.clock()}
        _write_private(self.config.dir / "learners.json", self.learners)
        return token

    async def post_events(self, request: web.Request) -> web.Response:
        name = self._learner(request)
        if name is None:
            return _status(401, "Unauthorized", "unknown or revoked learner credential: join the class again")
        body = await _json(request)
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list) or len(events) > MAX_BATCH:
            return _status(400, "BadRequest", f"the body must be {{\"events\": [...]}} with at most {MAX_BATCH}")
        clean = []
        for ev in events:
            bad = _invalid_event(ev)
            if bad:
                return _status(422, "Invalid", bad)     # nothing of the batch is stored
            clean.append({**ev, "learner": name})       # who sent it is the credential's, not the event's
        accepted = 0
        for ev in clean:
            if self.model.apply(ev):
                accepted += 1
                self._events_file.write(json.dumps(ev) + "\n")
        self._events_file.flush()
        if accepted:
            async with self._cond():
                self._cond().notify_all()
        return web.json_response({"accepted": accepted, "duplicates": len(clean) - accepted,
                                  "paused": self.paused})

    async def inbox(self, request: web.Request) -> web.Response:
        name = self._learner(request)
        if name is None:
            return _status(401, "Unauthorized", "unknown or revoked learner credential")
        since = _int(request.query.get("since"), 0)
        joined = float(self.learners[name].get("joined") or 0.0)
        wait = min(30.0, float(_int(request.query.get("wait"), 0)))   # long-poll: until a note for them
        if wait > 0 and not self.channel.has_news(name, since, joined):
            cond = self._cond()
            news = lambda: self._closing or self.channel.has_news(name, since, joined)  # noqa: E731
            try:
                async with cond:
                    await asyncio.wait_for(cond.wait_for(news), wait)
            except asyncio.TimeoutError:
                pass
        return web.json_response({"next": self.channel.next, "paused": self.paused,
                                  "messages": self.channel.for_learner(name, since, joined)})

    # --- the teacher ---------------------------------------------------------------------------------

    async def get_dashboard(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused
        wait = _int(request.query.get("wait"), -1)        # long-poll: until seq passes this
        timeout = min(30.0, float(request.query.get("timeout", "25") or 25))
        if wait >= 0 and self.model.seq <= wait:
            cond = self._cond()
            try:
                async with cond:
                    await asyncio.wait_for(cond.wait_for(lambda: self._closing or self.model.seq > wait), timeout)
                # a burst of events (a whole class checking at once) makes one view, not one per event
                await asyncio.sleep(COALESCE_SECONDS)
            except asyncio.TimeoutError:
                pass
        return web.json_response(self.model.dashboard(self.clock(), paused=self.paused))

    async def post_message(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused
        body = await _json(request) or {}
        text, to, kind = str(body.get("text", "")).strip(), str(body.get("to", "")), body.get("kind", "message")
        if not text or kind not in ("message", "hint"):
            return _status(422, "Invalid", "a message needs text, and kind message or hint")
        if to and to not in self.learners:
            return _status(404, "NotFound", f"no learner named {to!r}")
        await self._note(to, kind, text)
        return web.json_response({"sent": self.channel.next}, status=201)

    async def post_pause(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused
        body = await _json(request) or {}
        paused = bool(body.get("paused", True))
        await self._note("", "pause" if paused else "resume",
                         "the class is paused" if paused else "the class goes on")
        return web.json_response({"paused": self.paused})

    async def post_drill(self, request: web.Request) -> web.Response:
        """Start a drill for everyone at once: one seed for the class, so everyone gets the same incident."""
        if (refused := self._need_teacher(request)) is not None:
            return refused
        body = await _json(request) or {}
        seed = body.get("seed")
        if seed is None:
            seed = secrets.randbelow(10_000) + 1
        note = {"kind": "drill", "drill": body.get("drill"), "seed": seed}
        if bad := validate(note):
            return _status(422, "Invalid", bad)
        text = f"the teacher started drill {note['drill']} for the class (seed {seed})"
        await self._note("", "drill", text, drill=note["drill"], seed=seed)
        also = []
        for hook in self.on_drill:          # hosted mode: the learners' labs on this machine
            also += await hook(note["drill"], seed)
        return web.json_response({"drill": note["drill"], "seed": seed, "also": also}, status=201)

    async def get_learners(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused
        return web.json_response([{"learner": n, "revoked": r.get("revoked", False), "joined": r.get("joined")}
                                  for n, r in sorted(self.learners.items())])

    async def get_learner_events(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused          # a learner reads no one's progress from here, not even another's
        name = request.match_info["name"]
        out = []
        with open(self.config.dir / "events.jsonl", encoding="utf-8") as f:
            for raw in f:
                if f'"learner": {json.dumps(name)}' in raw:
                    out.append(json.loads(raw))
        return web.json_response(out)

    async def revoke(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused
        name = request.match_info["name"]
        if name not in self.learners:
            return _status(404, "NotFound", f"no learner named {name!r}")
        self.learners[name]["revoked"] = True
        _write_private(self.config.dir / "learners.json", self.learners)
        also = []
        for hook in self.on_revoke:          # hosted mode: the learner's cluster credential and web sessions
            also += await hook(name)
        return web.json_response({"learner": name, "revoked": True, "also": also})

    async def reset(self, request: web.Request) -> web.Response:
        """Reset one learner's lab, to a step of a lesson (``{"lesson": ID, "step": N or ID}``).

        Join mode: the reset is a note to that learner alone, and their
        kubetui runs the lessons engine's reset to that step on their own
        cluster. Hosted mode: the learner's lab is on this machine, so the
        class server does it (``on_reset``: their namespace cleared, then the
        lesson reset to the step as the learner), with or without their web
        TUI open; the note then only tells their TUI, which follows and does
        not reset again. Nobody else's lab is touched: no other inbox
        returns the note, and the hook acts on that learner's lab only.
        """
        if (refused := self._need_teacher(request)) is not None:
            return refused
        name = request.match_info["name"]
        if name not in self.learners:
            return _status(404, "NotFound", f"no learner named {name!r}")
        body = await _json(request) or {}
        lesson = body.get("lesson")
        if not lesson and not self.on_reset:
            return _status(400, "BadRequest", "join mode: a learner's lab runs on their own machine; say which "
                                              "lesson (and step) their kubetui should reset: "
                                              "{\"lesson\": ID, \"step\": N}")
        note = {"kind": "reset", "lesson": lesson, "step": body.get("step", 1)} if lesson else None
        if note and (bad := validate(note)):
            return _status(422, "Invalid", bad)
        deleted: list[str] = []
        also: list[str] = []
        for hook in self.on_reset:
            done = await hook(name, note)
            deleted += done.get("deleted", [])
            also += done.get("also", [])
        if note:
            where = f"{lesson}, step {note['step']}"
            await self._note(name, "reset", f"the teacher reset your lab to {where}", lesson=lesson, step=note["step"])
        else:
            await self._note(name, "message", "the teacher reset your lab")
        # 202: a join-mode learner's kubetui carries the reset out later; hosted mode did it here
        return web.json_response({"learner": name, "deleted": deleted, "also": also, "lesson": lesson,
                                  "step": note["step"] if note else None},
                                 status=202 if note and not self.on_reset else 200)

    async def get_csv(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused
        return web.Response(text=gradebook_csv(self.model), content_type="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'})

    async def get_junit(self, request: web.Request) -> web.Response:
        if (refused := self._need_teacher(request)) is not None:
            return refused
        return web.Response(text=gradebook_junit(self.model, self.clock()), content_type="application/xml")

    async def page(self, request: web.Request) -> web.StreamResponse:
        """The dashboard page: ``/?token=T`` once sets a cookie and drops the token from the address."""
        tok = request.query.get("token")
        if tok:
            if not hmac.compare_digest(token_hash(tok), self.config.teacher_hash):
                return _status(401, "Unauthorized", "wrong teacher token")
            resp = web.HTTPFound("/")
            resp.set_cookie("teacher", tok, secure=True, httponly=True, samesite="Strict")
            raise resp
        if not self._teacher(request):
            return _status(401, "Unauthorized", "open /?token=TEACHER_TOKEN once (printed by kubetui class serve)")
        from kubetui.classroom.page import DASHBOARD_HTML
        return web.Response(text=DASHBOARD_HTML, content_type="text/html")


def _invalid_event(ev: Any) -> str:
    if not isinstance(ev, dict):
        return "an event must be a JSON object"
    if len(json.dumps(ev)) > MAX_EVENT_BYTES:
        return f"an event is at most {MAX_EVENT_BYTES} bytes"
    if not isinstance(ev.get("id"), str) or not 8 <= len(ev["id"]) <= 64:
        return "an event needs an id (a string of 8-64 characters)"
    if ev.get("event") not in EVENT_KINDS:
        return f"unknown event {ev.get('event')!r}: one of {', '.join(sorted(EVENT_KINDS))}"
    if not isinstance(ev.get("t", 0), (int, float)):
        return "t must be a number (seconds since the epoch)"
    return ""


def _bearer(request: web.Request) -> str | None:
    h = request.headers.get("Authorization", "")
    return h[7:].strip() if h.startswith("Bearer ") else None


def _int(s: str | None, default: int) -> int:
    try:
        return int(s) if s is not None else default
    except ValueError:
        return default


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _status(code: int, reason: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Errors in the API server's ``Status`` shape, so every client reads them the same way."""
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                              "reason": reason, "code": code}, status=code, headers=headers)


def run(server: ClassServer, host: str, port: int, ssl_context: ssl.SSLContext | None,
        extra: Callable[[web.Application], None] | None = None) -> None:
    web.run_app(server.app(extra), host=host, port=port, ssl_context=ssl_context, print=None,
                handle_signals=True, access_log=None)
