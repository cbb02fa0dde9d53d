"""``kubetui class serve|join|leave|sync|inbox|follow|dashboard|message|pause|resume|reset|drill|revoke|gradebook``.

The teacher runs ``serve`` (the class server, ``classroom/server.py``) and
the teacher's commands; a learner runs ``join`` once, after which their
kubetui reports progress events (``classroom/link.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

from kubetui.classroom import link as classlink
from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir

DEFAULT_PORT = 8443
#: seconds a teacher's command waits for a hosted class to reset a lab or start everyone's drill
LONG_CALL = 1800.0


def default_class_dir() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "kubetui-class"


def lan_address() -> str:
    """This machine's address on its LAN: the source address of a route out (a UDP connect sends nothing)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))        # TEST-NET-1: only the routing table is consulted
        return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("class", help="run a class (teacher) or join one (learner)")
    sub = p.add_subparsers(dest="class_cmd", required=True)

    s = sub.add_parser("serve", help="serve the class: learners join it and report progress; the dashboard")
    s.add_argument("--host", help="address to listen on (default: this machine's LAN address)")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help="(default: %(default)s)")
    s.add_argument("--code", help="the class code (default: a new random one, kept across restarts)")
    s.add_argument("--rate", type=float, default=20.0, help="requests a second per client (default 20)")
    s.add_argument("--hosted", action="store_true",
                   help="hosted mode: each learner on --roster gets a namespace, a user and a web TUI on this "
                        "machine's cluster (--name/--state-dir)")
    s.add_argument("--roster", help="hosted mode: a CSV of learners (a `name` column, or the first column)")
    s.add_argument("--private-idle-minutes", type=float, default=15.0, metavar="N",
                   help="hosted mode: stop a learner's private cluster (for `scope: cluster` lessons) after N "
                        "minutes unused (default: %(default)s); it starts again when they come back")
    add_cluster_selector(s)
    _dir(s)
    s.set_defaults(func=run_serve)

    j = sub.add_parser("join", help="join a class: this kubetui then reports lesson progress to it")
    j.add_argument("url", help="the class server's URL (https://ADDRESS:PORT)")
    j.add_argument("--code", required=True, help="the class code the teacher gives")
    j.add_argument("--name", required=True, help="your name, as the teacher will see it")
    j.add_argument("--ca-fingerprint", help="the class CA's SHA-256 (printed by kubetui class serve)")
    j.set_defaults(func=run_join)

    sub.add_parser("leave", help="forget the class (stop reporting)").set_defaults(func=run_leave)
    sub.add_parser("sync", help="send queued progress events now").set_defaults(func=run_sync)
    sub.add_parser("inbox", help="messages and hints from the teacher").set_defaults(func=run_inbox)
    from kubetui.cmd import classfollow
    classfollow.register(sub)

    for name, helptext, fn in (
        ("dashboard", "the teacher's live dashboard (TUI)", run_dashboard),
        ("pause", "pause the class", run_pause), ("resume", "resume the class", run_resume),
        ("gradebook", "export the gradebook (CSV for an LMS, or JUnit)", run_gradebook),
    ):
        t = sub.add_parser(name, help=helptext)
        _dir(t)
        if name == "gradebook":
            t.add_argument("--format", choices=("csv", "junit"), default="csv")
            t.add_argument("-o", "--output", help="file (default: stdout)")
        t.set_defaults(func=fn)
    m = sub.add_parser("message", help="send a message or hint to one learner (--to) or all")
    m.add_argument("text")
    m.add_argument("--to", default="", help="the learner (default: everyone)")
    m.add_argument("--hint", action="store_true", help="send it as a hint")
    _dir(m)
    m.set_defaults(func=run_message)
    rs = sub.add_parser("reset", help="reset one learner's lab: their kubetui resets --lesson to --step "
                                      "(hosted mode without --lesson: clear their namespace)")
    rs.add_argument("learner")
    rs.add_argument("--lesson", help="the lesson to reset (its id)")
    rs.add_argument("--step", default="1", help="the step to reset to: number from 1, or id (default 1)")
    _dir(rs)
    rs.set_defaults(func=run_reset)
    d = sub.add_parser("drill", help="start a drill for every learner at once (one seed: the same incident)")
    d.add_argument("drill", help="the drill's id (kubetui drill list)")
    d.add_argument("--seed", type=int, default=None, help="the class's seed (default: drawn, and shown)")
    _dir(d)
    d.set_defaults(func=run_drill)
    r = sub.add_parser("revoke", help="revoke a learner's credential (their reports get 401)")
    r.add_argument("learner")
    _dir(r)
    r.set_defaults(func=run_revoke)


def _dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", help="the class's folder (default: $XDG_DATA_HOME/kubetui-class)")


def class_folder(args: argparse.Namespace) -> Path:
    return Path(args.dir) if getattr(args, "dir", None) else default_class_dir()


def run_serve(args: argparse.Namespace) -> int:
    if args.hosted and not args.roster:
        raise CLIError("--hosted needs --roster roster.csv")
    import logging

    from kubetui.apiserver.certs import ensure_pki
    from kubetui.classroom.server import ClassConfig, ClassServer, run

    folder = class_folder(args)
    host = args.host or lan_address()
    config, teacher = ClassConfig.create_or_load(folder, code=args.code)
    config.rate, config.burst = args.rate, 3 * args.rate
    sans = [host, socket.gethostname()] if host not in ("0.0.0.0", "::") else [lan_address(), socket.gethostname()]
    pki = ensure_pki(folder, "class", sans)
    if teacher:
        _write_secret(folder / "teacher.token", teacher)
    teacher = (folder / "teacher.token").read_text().strip()
    url = f"https://{host}:{args.port}"
    (folder / "serve.json").write_text(json.dumps({"url": url}))
    print(f"class server on {url}  (Ctrl+C stops)")
    print(f"  class code:        {config.code}")
    print(f"  CA fingerprint:    {ca_fingerprint(pki.ca_crt.read_text())}")
    print(f"  learners run:      kubetui class join {url} --code {config.code} --name NAME")
    print(f"  dashboard (web):   {url}/?token={teacher}")
    print(f"  dashboard (TUI):   kubetui class dashboard   (teacher token in {folder / 'teacher.token'})", flush=True)
    logging.basicConfig(level=logging.INFO)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.apiserver_crt, pki.apiserver_key)
    server = ClassServer(config)
    extra = None
    if args.hosted:
        extra = _hosted(args, server, folder, url)
    run(server, host, args.port, ctx, extra)
    return 0


def _hosted(args: argparse.Namespace, server: Any, folder: Path, url: str) -> Any:
    import asyncio

    from kubetui.cmd.classhosted import Hosted, provision, read_roster
    from kubetui.statedir import running_pid

    state = resolve_state_dir(args)
    if running_pid(state) is None:
        raise CLIError(f"no cluster is running at {state}: start one with `kubetui up`")
    names = read_roster(Path(args.roster))
    if not names:
        raise CLIError(f"no learners in {args.roster}")
    learners = asyncio.run(provision(state, folder, names))
    hosted = Hosted(server, folder, learners, url, state, private_idle_seconds=args.private_idle_minutes * 60)
    codes = hosted.issue_codes()
    lines = ["learner,namespace,code"] + [f"{n},{learners[n]['namespace']},{c}" for n, c in codes.items()]
    _write_secret(folder / "login-codes.csv", "\n".join(lines))
    print(f"hosted mode: {len(names)} learners; they open {url}/login and type their one-time code:")
    for n, c in codes.items():
        print(f"  {n:<24} {learners[n]['namespace']:<28} {c}")
    print(f"  (also in {folder / 'login-codes.csv'})", flush=True)
    return hosted.routes


def ca_fingerprint(pem: str) -> str:
    from base64 import b64decode
    body = "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
    return hashlib.sha256(b64decode(body)).hexdigest()


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def run_join(args: argparse.Namespace) -> int:
    try:
        got = classlink.join(args.url, args.code, args.name, fingerprint=args.ca_fingerprint)
    except classlink.ClassError as e:
        raise CLIError(f"cannot join {args.url}: {e}") from None
    print(f"joined {got['url']} as {got['name']}: your lesson progress is reported to the class "
          f"(only progress events; `kubetui class leave` stops it)")
    return 0


def run_leave(args: argparse.Namespace) -> int:
    print("left the class" if classlink.leave() else "this machine had not joined a class")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    box = classlink.Outbox()
    if not classlink.load_link():
        raise CLIError("this machine has not joined a class")
    try:
        n = box.flush()
    except classlink.ClassError as e:
        raise CLIError(f"{len(box.pending())} events stay queued: {e}") from None
    print(f"sent {n} queued events")
    return 0


def run_inbox(args: argparse.Namespace) -> int:
    from kubetui.classroom.inbox import PAUSED_TEXT, Inbox, describe
    box = Inbox()
    try:
        box.poll()
    except classlink.ClassError as e:
        raise CLIError(str(e)) from None
    for note in box.notes():              # the whole record, not only what is new
        print(describe(note))
    if box.paused:
        print(PAUSED_TEXT)
    return 0


# --- the teacher's commands (they talk to the running server with the teacher's token) ------------------

def teacher_session(args: argparse.Namespace) -> tuple[str, str, ssl.SSLContext]:
    folder = class_folder(args)
    try:
        url = json.loads((folder / "serve.json").read_text())["url"]
        token = (folder / "teacher.token").read_text().strip()
    except (OSError, ValueError, KeyError):
        raise CLIError(f"no class served from {folder}: run `kubetui class serve` first") from None
    return url, token, classlink.ssl_context((folder / "pki" / "ca.crt").read_text())


def _call(args: argparse.Namespace, path: str, method: str = "GET", body: Any = None, *,
          timeout: float = classlink.TIMEOUT) -> Any:
    url, token, ctx = teacher_session(args)
    try:
        return classlink.request(f"{url}/class/v1/{path}", method=method, body=body, token=token, ctx=ctx,
                                 timeout=timeout)
    except classlink.ClassError as e:
        raise CLIError(str(e)) from None


def run_message(args: argparse.Namespace) -> int:
    _call(args, "messages", "POST", {"to": args.to, "text": args.text, "kind": "hint" if args.hint else "message"})
    print(f"sent to {args.to or 'everyone'}")
    return 0


def run_pause(args: argparse.Namespace) -> int:
    _call(args, "pause", "POST", {"paused": True})
    print("class paused")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    _call(args, "pause", "POST", {"paused": False})
    print("class resumed")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    got = _call(args, f"learners/{args.learner}/revoke", "POST", {})
    also = f" (also: {', '.join(got.get('also', []))})" if got.get("also") else ""
    print(f"revoked {args.learner}: their reports now get 401 Unauthorized{also}")
    return 0


def run_reset(args: argparse.Namespace) -> int:
    step: int | str = int(args.step) if str(args.step).isdigit() else args.step
    body = {"lesson": args.lesson, "step": step} if args.lesson else {}
    # a hosted class resets the learner's lab before it answers (a lesson's setup and solutions)
    got = _call(args, f"learners/{args.learner}/reset", "POST", body, timeout=LONG_CALL)
    if got["deleted"]:
        print(f"reset {args.learner}'s namespace: {len(got['deleted'])} objects deleted "
              f"({', '.join(got['deleted'])})")
    elif not args.lesson:
        print(f"reset {args.learner}'s lab: 0 objects deleted")
    for line in got.get("also") or []:
        print(line)
    if args.lesson and not got.get("also"):
        print(f"sent to {args.learner}: reset {args.lesson} to step {step} (their kubetui carries it out)")
    return 0


def run_drill(args: argparse.Namespace) -> int:
    # a hosted class starts every learner's drill (a few at a time) before it answers
    got = _call(args, "drills", "POST", {"drill": args.drill, "seed": args.seed}, timeout=LONG_CALL)
    print(f"drill {got['drill']} sent to every learner, seed {got['seed']}")
    for line in got.get("also") or []:
        print(f"  {line}")
    return 0


def run_gradebook(args: argparse.Namespace) -> int:
    text = _call(args, "gradebook.csv" if args.format == "csv" else "gradebook.xml")
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    from kubetui.classroom.dashboard import DashboardApp
    url, token, ctx = teacher_session(args)
    DashboardApp(url, token, ctx).run()
    return 0
