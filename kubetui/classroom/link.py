"""A learner's link to a class: ``kubetui class join``, the outbox, and sending progress events.

After ``kubetui class join URL --code CODE --name NAME`` the learner's
config (``$KUBETUI_CLASS_DIR``, else ``$XDG_CONFIG_HOME/kubetui/class``,
else ``~/.config/kubetui/class``) holds ``link.json`` (the class URL, the
name joined as, the learner's token; 0600) and ``ca.crt`` (the class CA: the
only certificate this link trusts). Every progress event the lesson engine
appends is also put in ``outbox.jsonl`` with an id of its own and sent from
there; what the server accepted (or already had: ids make a resend count
once) leaves the outbox, so a learner offline for an hour sends it all later.

Only progress events leave the machine, and of them only: the event's id,
time, lesson, step, kind and its small details (a check's pass and failing
message, a prediction's correctness). Never the cluster's path, the local
learner name, kubeconfigs or objects. Standard library only: the lesson
engine imports this on every step.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import ssl
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: what of a progress event is sent (everything else stays on the learner's machine)
SENT_FIELDS = ("t", "lesson", "step", "event", "index", "passed", "failing", "message", "correct",
               "drill", "run", "score", "mitigated", "cleared")
#: the progress events a class hears of (lessons/progress.py's, and the drills')
EVENT_KINDS = frozenset({"lesson_start", "step_start", "step_enter", "predict", "check", "hint", "solution",
                         "step_pass", "lesson_complete", "reset", "drill_start", "drill_mitigated", "drill_answer",
                         "drill_hint", "drill_give_up", "drill_score"})
TIMEOUT = 3.0


def class_dir() -> Path:
    explicit = os.environ.get("KUBETUI_CLASS_DIR")
    if explicit:
        return Path(explicit)
    cfg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(cfg) / "kubetui" / "class"


class ClassError(Exception):
    """A class server refused (``code``: its HTTP status), or could not be reached (``code`` 0)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of an append-only JSON-lines file; a torn last line (a crash mid-append) is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for raw in lines:
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return out


def load_link(folder: Path | None = None) -> dict[str, Any] | None:
    try:
        return json.loads(((folder or class_dir()) / "link.json").read_text())
    except (OSError, ValueError):
        return None


def ssl_context(ca_pem: str) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca_pem)


def request(url: str, *, method: str = "GET", body: Any = None, token: str | None = None,
            ctx: ssl.SSLContext | None = None, timeout: float = TIMEOUT) -> Any:
    """One JSON call; a refusal raises ClassError with the server's Status message."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read()).get("message", e.reason)
        except ValueError:
            msg = e.reason
        raise ClassError(f"{e.code}: {msg}", e.code) from None
    except (urllib.error.URLError, OSError) as e:
        raise ClassError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None
    ctype = resp.headers.get("Content-Type", "")
    return json.loads(raw) if "json" in ctype else raw.decode()


def fetch_ca(url: str, fingerprint: str | None = None) -> str:
    """The class CA, fetched once without verification (trust on first use) and pinned from then on.

    With ``fingerprint`` (the SHA-256 ``kubetui class serve`` prints) the CA
    must match it; either way the server's certificate must chain to it.
    """
    import hashlib
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    pem = request(f"{url}/class/v1/ca", ctx=insecure)
    if fingerprint:
        from base64 import b64decode
        body = "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
        got = hashlib.sha256(b64decode(body)).hexdigest()
        if got.lower() != fingerprint.replace(":", "").lower():
            raise ClassError(f"the class CA's fingerprint is {got}, not {fingerprint}: not joining")
    return pem


def join(url: str, code: str, name: str, *, fingerprint: str | None = None, folder: Path | None = None,
         replace: bool = False) -> dict[str, Any]:
    url = url.rstrip("/")
    folder = folder or class_dir()
    ca = fetch_ca(url, fingerprint)
    ctx = ssl_context(ca)                      # from here on only the class CA is trusted
    resp = request(f"{url}/class/v1/join", method="POST", body={"code": code, "name": name, "replace": replace},
                   ctx=ctx)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.crt").write_text(ca)
    link = {"url": url, "name": resp["learner"], "token": resp["token"]}
    tmp = folder / "link.json.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(link, f)
    os.replace(tmp, folder / "link.json")
    return link


def leave(folder: Path | None = None) -> bool:
    folder = folder or class_dir()
    found = (folder / "link.json").exists()
    for n in ("link.json", "ca.crt", "outbox.jsonl"):
        (folder / n).unlink(missing_ok=True)
    return found


class Outbox:
    """``outbox.jsonl``: events waiting to be sent, under an flock so two kubetui processes do not race."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or class_dir()
        self.path = self.folder / "outbox.jsonl"
        self.lock_path = self.folder / "outbox.lock"

    def _locked(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        f = open(self.lock_path, "a")
        fcntl.flock(f, fcntl.LOCK_EX)
        return f

    def put(self, event: dict[str, Any]) -> dict[str, Any]:
        out = {k: event[k] for k in SENT_FIELDS if k in event}
        out["id"] = uuid.uuid4().hex
        with self._locked():
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(out) + "\n")
        return out

    def pending(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path)

    def flush(self, link: dict[str, Any] | None = None, *, batch: int = 200) -> int:
        """Send what waits; returns how many left the outbox. Raises ClassError when the server refuses."""
        link = link or load_link(self.folder)
        if not link:
            return 0
        try:
            ctx = ssl_context((self.folder / "ca.crt").read_text())
        except (OSError, ssl.SSLError) as e:       # kept queued: a new `kubetui class join` brings the CA back
            raise ClassError(f"the class CA in {self.folder} is missing or broken ({e})") from None
        sent = 0
        with self._locked():
            pending = self.pending()
            while pending:
                chunk = pending[:batch]
                try:
                    got = request(f"{link['url']}/class/v1/events", method="POST", body={"events": chunk},
                                  token=link["token"], ctx=ctx)
                    if isinstance(got, dict) and "paused" in got:
                        # every report's reply says whether the class is paused: the lessons engine
                        # holds checks on that (inbox.hold_reason) without asking the network itself
                        from kubetui.classroom.inbox import Inbox
                        Inbox(self.folder).remember_paused(bool(got["paused"]))
                except ClassError as e:
                    if e.code not in (400, 413, 422):
                        raise                  # offline, revoked, rate-limited: keep it queued
                    # the server will never take this batch (say, an event kind it does not know):
                    # keep it aside rather than block every later event behind it
                    log.warning("class server refused %d events (%s): kept in outbox.rejected.jsonl", len(chunk), e)
                    with open(self.folder / "outbox.rejected.jsonl", "a", encoding="utf-8") as f:
                        f.writelines(json.dumps(ev) + "\n" for ev in chunk)
                pending = pending[batch:]
                sent += len(chunk)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("".join(json.dumps(e) + "\n" for e in pending), encoding="utf-8")
                os.replace(tmp, self.path)
        return sent


_senders: list[threading.Thread] = []


def report(event: dict[str, Any]) -> None:
    """The lesson engine's hook: queue a progress event for the class, and try to send it now.

    Does nothing unless this machine joined a class. Sending happens on a
    thread (a slow or absent class server never stalls a lesson); a process
    about to exit waits for it briefly, and whatever was not sent stays queued.
    """
    folder = class_dir()
    link = load_link(folder)
    if not link or event.get("event") not in EVENT_KINDS:
        return
    box = Outbox(folder)
    box.put(event)

    def send() -> None:
        try:
            box.flush(link)
        except ClassError as e:
            log.info("class server not reached, %d events queued: %s", len(box.pending()), e)

    t = threading.Thread(target=send, name="kubetui-class-report", daemon=True)
    t.start()
    _senders[:] = [s for s in _senders if s.is_alive()] + [t]     # a long session keeps only live ones


@atexit.register
def _drain() -> None:
    for t in list(_senders):
        t.join(TIMEOUT + 0.5)
