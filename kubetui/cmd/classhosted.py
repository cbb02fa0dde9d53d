"""``kubetui class serve --hosted --roster roster.csv``: learners bring only a browser.

On the teacher's one cluster each learner on the roster gets a namespace
(``class-<name>``), a user with the ClusterRole ``edit`` bound in it and a
client-certificate kubeconfig whose context names that namespace (``kubetui
user add NAME --namespace NS --role edit``), a ResourceQuota and a LimitRange
giving containers default requests and limits (so the quota never refuses a
plain ``kubectl run``). The class
server then also serves a login (``/login``: the learner's one-time code,
then a session cookie: Secure, HttpOnly, SameSite=Strict) and, behind it,
the web TUI (``kubetui web``'s textual-serve page) run with *that learner's*
kubeconfig: every request the TUI makes is the learner's, so RBAC is what
keeps them in their namespace (the TUI falls back to the context's
namespace when all-namespaces lists are refused). Each web session's
progress events go to the class (its own class link, over loopback).

A lesson that says ``scope: cluster`` needs a whole cluster (nodes, faults,
cluster-scoped kinds): when a learner opens one, their TUI asks the class
(``POST /class/v1/hosted/lab``) and the learner's web TUI is reloaded on a
private cluster of their own (``kubetui.classroom.private``), started on
demand and stopped when idle; opening a namespace-scoped lesson brings the
TUI back to the class's cluster. Which cluster a learner's next web session
runs on is the class server's decision (``lab``), never the browser's.

A drill the teacher starts for the class runs on each learner's own drill
cluster (``kubetui.classroom.hosted_drills``), and their web TUI moves there.
A reset of a learner's lab to a lesson step is carried out here, by the class
server, as the learner (their kubeconfig, or their private cluster for a
``scope: cluster`` lesson), whether or not their web TUI is open; the TUI
then only follows (``kubetui.tui.class_channel``).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import json
import logging
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

#: per learner: at most this much of the cluster (a ResourceQuota's hard limits)
QUOTA = {"pods": "10", "requests.cpu": "2", "requests.memory": "2Gi", "limits.cpu": "4", "limits.memory": "4Gi",
         "services": "5", "persistentvolumeclaims": "3"}
_DNS = re.compile(r"[^a-z0-9-]+")
#: what a lab reset deletes in the learner's namespace (the learner's own work; the quota, the LimitRange,
#: the RoleBinding and the namespace's ServiceAccounts stay), owners first so controllers do not recreate
RESET_KINDS = ("cronjobs", "jobs", "deployments", "statefulsets", "daemonsets", "replicasets",
               "horizontalpodautoscalers", "poddisruptionbudgets", "pods", "services", "ingresses",
               "networkpolicies", "configmaps", "secrets", "persistentvolumeclaims")


def namespace_for(name: str) -> str:
    return ("class-" + _DNS.sub("-", name.lower()).strip("-"))[:63].rstrip("-")


def read_roster(path: Path) -> list[str]:
    """Learner names: the ``name`` column, else the first column; blank lines and ``#`` comments skipped."""
    rows = [r for r in csv.reader(path.read_text().splitlines()) if r and r[0].strip() and not r[0].startswith("#")]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    col = header.index("name") if "name" in header else 0
    if header[col] in ("name", "learner", "student"):
        rows = rows[1:]
    return [r[col].strip() for r in rows]


async def provision(state: Path, folder: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """Namespace, user (edit in it), ResourceQuota for each learner; idempotent."""
    from kubetui.api.errors import AlreadyExists
    from kubetui.client.http import HTTPClient

    admin = HTTPClient.from_kubeconfig(state / "kubeconfig")
    out = {}
    try:
        for name in names:
            ns = namespace_for(name)
            for resource, obj, where in (
                ("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": ns, "labels": {"kubetui.dev/class-learner": namespace_for(name)[6:]}}},
                 None),
                ("resourcequotas", {"apiVersion": "v1", "kind": "ResourceQuota",
                                    "metadata": {"name": "class-quota", "namespace": ns}, "spec": {"hard": QUOTA}}, ns),
                # the quota limits cpu and memory, so every container must state them: a LimitRange gives
                # defaults (as upstream's LimitRanger admission does) so `kubectl run` still works
                ("limitranges", {"apiVersion": "v1", "kind": "LimitRange",
                                 "metadata": {"name": "class-defaults", "namespace": ns},
                                 "spec": {"limits": [{"type": "Container",
                                                      "default": {"cpu": "200m", "memory": "256Mi"},
                                                      "defaultRequest": {"cpu": "50m", "memory": "64Mi"}}]}}, ns),
            ):
                try:
                    await admin.create(resource, obj, namespace=where)
                except AlreadyExists:
                    pass
            kubeconfig = folder / "users" / f"{namespace_for(name)}.kubeconfig"
            if not kubeconfig.exists():
                kubeconfig.parent.mkdir(parents=True, exist_ok=True)
                r = await asyncio.to_thread(
                    subprocess.run, [sys.executable, "-m", "kubetui", "--state-dir", str(state), "user", "add", name,
                                     "--namespace", ns, "--role", "edit", "-o", str(kubeconfig)],
                    capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    raise RuntimeError(f"kubetui user add {name}: {r.stderr.strip()}")
            out[name] = {"namespace": ns, "kubeconfig": str(kubeconfig)}
    finally:
        await admin.close()
    return out


def _tui_server_class() -> type:
    """textual-serve's ``Server``, telling the class of every message a learner's browser sends."""
    from textual_serve.server import Server

    class _Touching:
        """A websocket whose iteration reports each message (a key, a resize): the session is in use."""

        def __init__(self, ws: web.WebSocketResponse, touch: Any) -> None:
            self._ws, self._touch = ws, touch

        def __getattr__(self, name: str) -> Any:
            return getattr(self._ws, name)

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            async for msg in self._ws:
                self._touch()
                yield msg

    class LearnerTUI(Server):
        """One learner's web TUI sessions (textual-serve's server, one app process per browser tab)."""

        touch: Any = None
        close_private: Any = None

        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            #: open sessions -> the lab they run on ("shared" or "private"), to close the private ones
            self.open: dict[web.WebSocketResponse, str] = {}

        async def _process_messages(self, websocket: web.WebSocketResponse, app_service: Any) -> None:
            self.open[websocket] = "private" if "KUBETUI_CLASS_LAB=private" in app_service.command else "shared"
            ws = _Touching(websocket, self.touch) if self.touch is not None else websocket
            try:
                await super()._process_messages(ws, app_service)
            finally:
                self.open.pop(websocket, None)

    return LearnerTUI


class Hosted:
    """Logins and web TUI sessions, added to the class server's app."""

    def __init__(self, server: Any, folder: Path, learners: dict[str, dict[str, Any]], public_url: str,
                 state: Path | None = None, *, private_idle_seconds: float | None = None,
                 clock: Any = None) -> None:
        import textual_serve

        from kubetui.classroom.hosted_drills import HostedDrills
        from kubetui.classroom.private import PrivateClusters
        from kubetui.tui.web import offline_templates

        Server = _tui_server_class()
        self.server, self.folder, self.learners, self.state = server, folder, learners, state
        self.public_url = public_url
        #: private clusters for ``scope: cluster`` lessons (``private/<namespace>/``), and per learner the
        #: lesson whose private cluster their web TUI runs on (absent: the class's cluster)
        self.private = PrivateClusters(folder / "private", clock=clock,
                                       **({"idle_seconds": private_idle_seconds} if private_idle_seconds else {}))
        self.lab: dict[str, str] = {}
        #: per learner: what their private lesson cluster lacks of what the lesson asked (shown on opening)
        self.notes: dict[str, str] = {}
        #: class drills on each learner's drill cluster (``lab`` is then ``drill:<id>``)
        self.drills = HostedDrills(self, docker_running=_docker_running, needs_docker=_drill_needs_docker)
        server.on_revoke.append(self.revoke)
        server.on_reset.append(self.reset)
        server.on_drill.append(self.drills.start)
        self.statics = Path(textual_serve.__file__).parent / "static"
        self.templates = offline_templates(folder / "templates")
        self.sessions: dict[str, str] = {}          # session token hash -> learner
        self.codes: dict[str, str] = {}             # one-time code hash -> learner
        self.tui: dict[str, Server] = {}
        for name, info in learners.items():
            # the learner's web TUI reports progress to this class as the learner (its own class link)
            link_dir = folder / "links" / namespace_for(name)
            token = server.enroll(name)
            link_dir.mkdir(parents=True, exist_ok=True)
            (link_dir / "ca.crt").write_text((folder / "pki" / "ca.crt").read_text())
            (link_dir / "link.json").write_text(json.dumps({"url": public_url, "name": name, "token": token}))
            (link_dir / "link.json").chmod(0o600)
            self.tui[name] = Server(self.session_command(name), title=f"kubetui · {name}",
                                    public_url=public_url, statics_path=self.statics, templates_path=self.templates)
            self.tui[name].touch = lambda name=name: self.private.touch(self.cluster_key(name)) \
                if name in self.lab else None

    def cluster_key(self, name: str) -> str:
        """Which of the learner's private clusters their web TUI runs on now (a drill's, or a lesson's)."""
        from kubetui.classroom.hosted_drills import drill_key, drill_of
        return drill_key(name) if drill_of(self.lab.get(name)) else name

    async def move_to(self, name: str, lab: str | None) -> None:
        """Run the learner's next web sessions on ``lab`` (a lesson id, ``drill:<id>``, None: the class's
        cluster), and move the pages open now there: each is told to load ``/tui/`` again (textual-serve's
        ``open_url`` message, what the TUI's own ``open_url`` sends when it moves itself), then its session
        on the old lab is closed."""
        if lab is None:
            self.lab.pop(name, None)
        else:
            self.lab[name] = lab
        for ws in list(self.tui[name].open):
            try:
                await ws.send_json(["open_url", {"url": f"{self.public_url}/tui/", "new_tab": False}])
                await ws.close()
            except Exception as exc:  # noqa: BLE001 - a session already gone
                log.debug("moving %s's session: %s", name, exc)

    def session_command(self, name: str) -> str:
        """What a new web session of ``name`` runs: the TUI on the class's cluster as the learner, or,
        while they are in a ``scope: cluster`` lesson, that lesson on their private cluster."""
        from kubetui.tui.web import app_command

        ns = namespace_for(name)
        # KUBETUI_LEARNER: each learner's lesson progress (and what a reset clears) is their own, not
        # the teacher's $USER shared by every session
        env = ["env", f"KUBETUI_CLASS_DIR={self.folder / 'links' / ns}", f"KUBETUI_LEARNER={name}"]
        from kubetui.classroom.hosted_drills import drill_key, drill_of

        lesson = self.lab.get(name)
        if lesson is None:
            return shlex.join(env + ["KUBETUI_CLASS_LAB=shared"]) + " " + \
                app_command(Path(self.learners[name]["kubeconfig"]))
        drill = drill_of(lesson)
        if drill is not None:
            # the TUI on their drill cluster, opened on the drill's namespace with its briefing
            pc = self.private.get(drill_key(name), f"{ns}-drills")
            notice = self.drills.briefing.get(name) or f"Drill {drill} runs on your own cluster."
            notice += "\n\nIn the command bar (:): kubetui drill status | hint | answer | report"
            return shlex.join(env + ["KUBETUI_CLASS_LAB=private", f"KUBETUI_CLASS_DRILL={drill}",
                                     f"KUBETUI_CLASS_NAMESPACE=drill-{drill}", f"KUBETUI_CLASS_NOTICE={notice}",
                                     sys.executable, "-m", "kubetui", "--state-dir", str(pc.state_dir)])
        pc = self.private.get(name, ns)
        note = self.notes.get(name, "")
        return shlex.join(env + ["KUBETUI_CLASS_LAB=private", f"KUBETUI_CLASS_LESSON={lesson}"]
                          + ([f"KUBETUI_CLASS_NOTICE={note}"] if note else [])
                          + [sys.executable, "-m", "kubetui", "--state-dir", str(pc.state_dir), "lessons", "start",
                             lesson, "--tui"])

    async def choose_lab(self, name: str, ref: str | None) -> dict[str, Any]:
        """The learner opens lesson ``ref`` (None: none): a ``scope: cluster`` one moves their web TUI to
        their private cluster (started now if need be), any other back to the class's cluster."""
        from kubetui.lessons import LessonLibrary, default_lessons_dir

        from kubetui.classroom.private import fallback_note

        lesson = LessonLibrary.load(default_lessons_dir()).get(ref) if ref else None
        if lesson is not None and lesson.scope == "cluster":
            asked = "docker" if "docker" in lesson.requires else lesson.cluster.provider
            docker = asked == "docker" and await asyncio.to_thread(_docker_running)
            pc = await self.private.ensure(name, namespace_for(name), provider=asked, nodes=lesson.cluster.nodes,
                                           docker=docker)
            # no Docker engine: a simulated cluster, and the learner is told what that changes
            self.notes[name] = fallback_note(asked, pc.provider)
            self.lab[name] = lesson.id
        else:
            self.lab.pop(name, None)
        return {"lab": "private" if name in self.lab else "shared", "lesson": lesson.id if lesson else None,
                "url": f"{self.public_url}/tui/"}

    async def post_lab(self, request: web.Request) -> web.Response:
        """``POST /class/v1/hosted/lab {"lesson": ID|null}`` with the learner's own class token."""
        from kubetui.api.errors import NotFound

        name = self.server._learner(request)
        if name is None or name not in self.learners:
            return web.json_response({"kind": "Status", "status": "Failure", "code": 401, "reason": "Unauthorized",
                                      "message": "a hosted learner's token is needed"}, status=401)
        try:
            body = await request.json()
        except ValueError:
            body = None
        ref = body.get("lesson") if isinstance(body, dict) else None
        if ref is not None and not isinstance(ref, str):
            return web.json_response({"kind": "Status", "status": "Failure", "code": 400, "reason": "BadRequest",
                                      "message": "lesson must be a lesson id or null"}, status=400)
        try:
            return web.json_response(await self.choose_lab(name, ref))
        except (KeyError, NotFound) as exc:
            return web.json_response({"kind": "Status", "status": "Failure", "code": 404, "reason": "NotFound",
                                      "message": f"no lesson {ref!r}: {exc}"}, status=404)
        except RuntimeError as exc:           # the private cluster did not start
            log.warning("%s", exc)
            return web.json_response({"kind": "Status", "status": "Failure", "code": 503,
                                      "reason": "ServiceUnavailable", "message": str(exc)}, status=503)

    async def revoke(self, name: str) -> list[str]:
        """Revoking a hosted learner also ends their web sessions and revokes their cluster credential."""
        from kubetui.classroom.hosted_drills import drill_key

        done = []
        self.lab.pop(name, None)
        if await self.private.stop(name):
            done.append("private cluster")
        if await self.private.stop(drill_key(name)):
            done.append("drill cluster")
        for h in [h for h, n in self.sessions.items() if n == name]:
            del self.sessions[h]
            done.append("web session")
        if self.state is not None and name in self.learners:
            r = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "kubetui", "--state-dir", str(self.state), "user", "revoke",
                                 name], capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                done.append("cluster credential")
            else:
                log.warning("kubetui user revoke %s: %s", name, r.stderr.strip())
        return done

    async def reset(self, name: str, note: dict[str, Any] | None = None) -> dict[str, list[str]]:
        """Reset one learner's lab (others are never touched): their work in their namespace deleted, then,
        with a ``reset`` note, the lesson reset to its step as the learner (``reset_lesson``)."""
        if name not in self.learners:
            return {}
        lesson = _lesson(note["lesson"]) if note else None
        out: dict[str, list[str]] = {"deleted": [], "also": []}
        if self.state is not None and (lesson is None or lesson.scope != "cluster"):
            out["deleted"] = await self.clear_namespace(name)
        if note:
            line = await self.reset_lesson(name, lesson, note["lesson"], note.get("step", 1))
            out["also"].append(line)
        return out

    async def clear_namespace(self, name: str) -> list[str]:
        """Delete the learner's work in their namespace only (RESET_KINDS; the quota and RBAC stay)."""
        from kubetui.api.errors import NotFound
        from kubetui.client.http import HTTPClient

        assert self.state is not None
        ns = self.learners[name]["namespace"]
        admin = HTTPClient.from_kubeconfig(self.state / "kubeconfig")
        deleted = []
        try:
            for kind in RESET_KINDS:
                for obj in (await admin.list(kind, namespace=ns)).get("items", []):
                    meta = obj["metadata"]
                    if kind == "configmaps" and meta["name"] == "kube-root-ca.crt":
                        continue
                    if kind == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
                        continue
                    try:
                        await admin.delete(kind, meta["name"], namespace=ns, propagation_policy="Background",
                                           grace_period_seconds=0 if kind == "pods" else None)
                        deleted.append(f"{kind}/{meta['name']}")
                    except NotFound:
                        pass
        finally:
            await admin.close()
        log.info("reset %s's lab in %s: %d objects deleted", name, ns, len(deleted))
        return deleted

    async def reset_lesson(self, name: str, lesson: Any, ref: str, step: int | str) -> str:
        """``kubetui lessons reset REF --step STEP`` as the learner, on their lab; one line saying how it went.

        Their lab is the class's cluster seen through *their* kubeconfig (so the reset can only touch their
        namespace: RBAC refuses anything else), or their private cluster for a ``scope: cluster`` lesson.
        It runs with their class link, so its progress events (``reset``, ``step_start``) reach the class
        as theirs, exactly as their TUI's would. A failure is also told to the learner.
        """
        from kubetui.classroom.hosted_drills import learner_env

        ns = self.learners[name]["namespace"]
        if lesson is None:
            why = f"no lesson {ref!r}"
        else:
            where: list[str] = ["--kubeconfig", self.learners[name]["kubeconfig"]]
            why = ""
            if lesson.scope == "cluster":
                try:
                    asked = "docker" if "docker" in lesson.requires else lesson.cluster.provider
                    pc = await self.private.ensure(name, ns, provider=asked, nodes=lesson.cluster.nodes,
                                                   docker=asked == "docker" and
                                                   await asyncio.to_thread(_docker_running))
                    where = ["--state-dir", str(pc.state_dir)]
                except RuntimeError as exc:
                    why = f"their private cluster did not start: {exc}"
            if not why:
                r = await asyncio.to_thread(
                    subprocess.run, [sys.executable, "-m", "kubetui", *where, "lessons", "reset", lesson.id,
                                     "--step", str(step), "--learner", name],
                    capture_output=True, text=True, timeout=300,
                    env=learner_env(self.folder / "links" / ns, name))
                if r.returncode == 0:
                    return f"{name}: {lesson.id} reset to step {step}"
                why = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        log.warning("resetting %s's lab to %s step %s: %s", name, ref, step, why)
        await self.server._note(name, "message", f"The teacher reset your lab to {ref}, step {step}, but it "
                                                 f"failed: {why}")
        return f"{name}: reset to {ref} step {step} failed: {why}"

    def issue_codes(self) -> dict[str, str]:
        """A new one-time login code per learner (the old ones stop working)."""
        self.codes = {}
        out = {}
        for name in self.learners:
            code = secrets.token_hex(4).upper()
            self.codes[hashlib.sha256(code.encode()).hexdigest()] = name
            out[name] = code
        return out

    def routes(self, app: web.Application) -> None:
        import aiohttp_jinja2
        import jinja2

        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates))
        app.router.add_get("/login", self.login_form)
        app.router.add_post("/login", self.login)
        app.router.add_get("/tui/", self.index, name="index")
        app.router.add_get("/tui/ws", self.websocket, name="websocket")
        app.router.add_static("/static", self.statics, name="static")
        app.router.add_post("/class/v1/hosted/lab", self.post_lab)
        app.on_startup.append(self._start_reaper)
        app.on_cleanup.append(self._stop_private)

    async def _start_reaper(self, app: web.Application) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self.private.run_reaper())

    async def _stop_private(self, app: web.Application) -> None:
        self._reaper.cancel()
        await self.private.stop_all()

    def learner_of(self, request: web.Request) -> str | None:
        tok = request.cookies.get("session", "")
        return self.sessions.get(hashlib.sha256(tok.encode()).hexdigest()) if tok else None

    async def login_form(self, request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=(
            "<!doctype html><title>kubetui class login</title><form method=post action=/login>"
            "<label>one-time code <input name=code autofocus></label> <button>log in</button></form>"))

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        h = hashlib.sha256(str(form.get("code", "")).strip().upper().encode()).hexdigest()
        name = next((n for k, n in self.codes.items() if hmac.compare_digest(k, h)), None)
        if name is None or self.server.learners.get(name, {}).get("revoked"):
            return web.Response(status=401, text="wrong or used code")
        del self.codes[h]                              # one time
        session = secrets.token_urlsafe(24)
        self.sessions[hashlib.sha256(session.encode()).hexdigest()] = name
        resp = web.HTTPFound("/tui/")
        resp.set_cookie("session", session, secure=True, httponly=True, samesite="Strict")
        raise resp

    async def index(self, request: web.Request) -> web.StreamResponse:
        name = self.learner_of(request)
        if name is None:
            raise web.HTTPFound("/login")
        return await self.tui[name].handle_index(request)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        name = self.learner_of(request)
        if name is None or self.server.learners.get(name, {}).get("revoked"):
            return web.Response(status=401, text="log in first")
        tui = self.tui[name]
        lesson = self.lab.get(name)
        if lesson is None:
            tui.command = self.session_command(name)
            return await tui.handle_websocket(request)
        # a scope: cluster lesson or a drill: its private cluster, started again if it stopped while idle
        # (as it was made: the same provider and nodes)
        key = self.cluster_key(name)
        known = self.private.clusters.get(key)
        try:
            if known is None:
                raise RuntimeError("it was never started: open the lesson again")
            pc = await self.private.ensure(key, known.state_dir.name, provider=known.provider, nodes=known.nodes,
                                           docker=known.provider == "docker")
        except RuntimeError as exc:
            log.warning("%s", exc)
            return web.Response(status=503, text=f"your cluster for this lesson did not start: {exc}")
        tui.command = self.session_command(name)

        async def close() -> None:          # the cluster stops (idle, reset): so do the sessions on it
            for ws in [w for w, lab in tui.open.items() if lab == "private"]:
                await ws.close()
        if not any(c is tui.close_private for c in pc.on_stop):
            tui.close_private = close
            pc.on_stop.append(close)
        return await tui.handle_websocket(request)


def _lesson(ref: str) -> Any:
    """Lesson ``ref`` of the shipped library, or None."""
    from kubetui.lessons import LessonLibrary, default_lessons_dir
    try:
        return LessonLibrary.load(default_lessons_dir()).get(ref)
    except KeyError:
        return None


def _docker_running() -> bool:
    """Whether the Docker engine answers on the class machine (blocking: call from a thread)."""
    from kubetui.providers.docker import docker_available
    return docker_available()


def _drill_needs_docker(drill_id: str) -> bool:
    """Whether drill ``drill_id`` needs Docker nodes; KeyError when there is no such drill."""
    from kubetui.drills import DrillError, find
    try:
        return "docker" in find(drill_id).requires
    except DrillError as e:
        raise KeyError(e.message) from None
