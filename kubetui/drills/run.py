"""One learner's drill on one cluster: set the app up, break it (seeded), watch it, score it.

The game master's part of a Wheel of Misfortune, automated: ``start`` deploys
the drill's application and its prober in the namespace ``drill-<id>``, waits
until the prober sees it healthy, then plays the careless teammate's commands
(the variant's fault chain). Every request the runner makes carries the
identity ``kubetui:drill`` (the admin kubeconfig impersonating it, ``as:`` in
``<state>/drills/kubeconfig``), so the API server's audit log tells its writes
from the learner's own.

State: ``<state>/drills/active.json`` (the run in progress on this cluster, for
``status``/``answer``/...), ``<state>/drills/<run>/samples.jsonl`` (the prober's
samples, kept after the namespace is gone) and the learner's progress log
(``drill_start``, ``drill_hint``, ``drill_answer``, ``drill_mitigated``,
``drill_give_up``, ``drill_score``), from which ``score.replay`` rebuilds the run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from kubetui.api import errors
from kubetui.cmdutil import kubectl_path
from kubetui.drills import score as scoring
from kubetui.drills.format import Drill, Incident, incident, render
from kubetui.lessons.checks import CheckContext, CheckResult, evaluate, run_command
from kubetui.lessons.format import Check
from kubetui.lessons.progress import ProgressStore

log = logging.getLogger(__name__)

DRILL_USER = "kubetui:drill"
PROBER = "prober"
#: healthy probe seconds in a row that count as "service restored"
STREAK = 5
SETUP_TIMEOUT = 150.0


class DrillRunError(Exception):
    """A drill that cannot start or go on here; the message says why and what to do."""


def write_drill_kubeconfig(state_dir: Path) -> Path:
    """The cluster's admin kubeconfig, impersonating ``kubetui:drill`` (kubectl's and client-go's ``as``)."""
    src = Path(state_dir) / "kubeconfig"
    data = yaml.safe_load(src.read_text())
    for u in data.get("users") or []:
        u.setdefault("user", {})["as"] = DRILL_USER
        u["user"]["as-groups"] = ["system:masters"]
    out = Path(state_dir) / "drills" / "kubeconfig"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(yaml.safe_dump(data, sort_keys=False))
    return out


@dataclass
class DrillEnv:
    """The cluster a drill runs on."""

    state_dir: Path
    provider_name: str
    cluster_name: str = "default"
    kubectl: str = field(default_factory=kubectl_path)

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> "DrillEnv":
        from kubetui.cluster import ClusterSettings
        settings = ClusterSettings.load(state_dir)
        if settings is None or not (Path(state_dir) / "kubeconfig").exists():
            raise DrillRunError(f"no cluster at {state_dir}: start one with `kubetui up --provider local` "
                                "(or docker)")
        return cls(Path(state_dir), settings.provider, settings.name)

    @property
    def learner_kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def drill_kubeconfig(self) -> Path:
        path = self.state_dir / "drills" / "kubeconfig"
        return path if path.exists() else write_drill_kubeconfig(self.state_dir)

    def client(self):
        from kubetui.client.http import HTTPClient
        return HTTPClient.from_kubeconfig(self.drill_kubeconfig, user_agent="kubetui-drill")

    def unmet(self, drill: Drill) -> str | None:
        if self.provider_name == "simulated":
            return ("drills need pods that really run and answer: simulated nodes run no containers. Start a "
                    "cluster with `kubetui up --provider local` (or --provider docker)")
        if "docker" in drill.requires and self.provider_name != "docker":
            return f"drill {drill.id} needs Docker nodes (`kubetui up --provider docker`), this cluster is " \
                   f"{self.provider_name}"
        return None


@dataclass
class Status:
    elapsed: float
    samples: list[dict[str, Any]]
    checks: list[CheckResult]
    mitigated_at: float | None
    healthy_now: bool


def prober_pod(drill: Drill, namespace: str) -> dict[str, Any]:
    p = drill.prober
    args = ["--namespace", namespace, "--resolve", str(p.get("resolve", "api"))]
    for t in p["targets"]:
        args += ["--target", str(t)]
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 0,
        # a monitoring agent tolerates everything: a NoExecute taint must not blind it
        "tolerations": [{"operator": "Exists"}],
        "containers": [{"name": "prober", "image": "kubetui/prober:latest", "args": args}]}
    if p.get("avoid"):
        # preferred, not required: a required anti-affinity is symmetric and would keep the avoided pods
        # off the prober's node, the one a rescheduled database needs
        spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": dict(p["avoid"])},
                                               "topologyKey": "kubernetes.io/hostname"}}]}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": PROBER, "labels": {"app.kubernetes.io/name": "drill-prober", "role": "monitoring"}},
            "spec": spec}


def prober_rbac() -> list[dict[str, Any]]:
    """The prober reads Services (their ClusterIPs) with its namespace's default ServiceAccount."""
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "drill-prober"},
             "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "drill-prober"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "drill-prober"},
             "subjects": [{"kind": "ServiceAccount", "name": "default"}]}]


def parse_samples(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def healthy_since(samples: list[dict[str, Any]], t0: float, streak: int = STREAK) -> float | None:
    """The first sample time of the trailing healthy streak after ``t0``, if it is at least ``streak`` long.

    >>> s = [{"t": t, "ok": ok} for t, ok in [(1, True), (2, False), (3, True), (4, True), (5, True)]]
    >>> healthy_since(s, 0, 3), healthy_since(s, 0, 4)
    (3, None)
    """
    run: list[dict[str, Any]] = []
    for s in samples:
        if s.get("t", 0) < t0:
            continue
        run = run + [s] if s.get("ok") else []
    return run[0]["t"] if len(run) >= streak else None


class DrillRunner:
    """Start, watch, answer, give up and report one drill run (the learner's commands)."""

    def __init__(self, env: DrillEnv, learner: str, *, now: Callable[[], float] = time.time,
                 progress: Callable[[str], None] = lambda m: None) -> None:
        self.env = env
        self.learner = learner
        self.store = ProgressStore(env.state_dir, learner)
        self.now = now
        self.say = progress
        self.dir = env.state_dir / "drills"

    # --- the active run --------------------------------------------------------------------------------

    def active(self, drill_id: str | None = None) -> dict[str, Any] | None:
        """The run in progress of ``drill_id`` (or the latest started of any drill) on this cluster."""
        found = []
        for path in sorted((self.dir / "active").glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if drill_id in (None, data.get("drill")):
                found.append(data)
        return max(found, key=lambda d: d.get("started", 0)) if found else None

    def actives(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted((self.dir / "active").glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def _save_active(self, drill_id: str, data: dict[str, Any] | None) -> None:
        (self.dir / "active").mkdir(parents=True, exist_ok=True)
        path = self.dir / "active" / f"{drill_id}.json"
        if data is None:
            path.unlink(missing_ok=True)
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)

    def record(self, drill: Drill, run: str | None = None) -> scoring.RunRecord | None:
        return scoring.replay(self.store.events(f"drill:{drill.id}"), drill.id, run)

    def _log(self, drill: Drill, event: str, **details: Any) -> None:
        self.store.append(f"drill:{drill.id}", event, None, drill=drill.id, **details)

    # --- acting on the cluster ---------------------------------------------------------------------

    async def kubectl(self, args: list[str] | str, namespace: str, *, as_learner: bool = False,
                      stdin: bytes | None = None, timeout: float = 60.0) -> tuple[int, str]:
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        kubeconfig = self.env.learner_kubeconfig if as_learner else self.env.drill_kubeconfig
        ctx = CheckContext(None, kubeconfig, self.env.kubectl)  # type: ignore[arg-type]
        ns = ["-n", namespace] if namespace else []
        return await run_command([self.env.kubectl, f"--kubeconfig={kubeconfig}", *ns, *argv], ctx,
                                 timeout, stdin=stdin)

    async def act(self, actions: list[dict[str, Any]], drill: Drill, values: dict[str, Any], *,
                  as_learner: bool = False) -> list[str]:
        """Run a fault chain or a mitigation; returns the fault record ids it injected."""
        ns = values["ns"]
        injected = []
        for raw in actions:
            (kind, value), = raw.items()
            if kind == "wait":
                value = Check(value.kind, render(value.spec, values), value.fail, value.line, value.id, value.timeout)
                from kubetui.lessons.runner import wait_for_check
                client = self.env.client()
                try:
                    r = await wait_for_check(value, self.check_context(client, ns), value.timeout or 60.0)
                finally:
                    await client.close()
                if not r.passed:
                    raise DrillRunError(f"waited for {value.describe()}: {r.detail}")
                continue
            value = render(value, values)
            if kind == "kubectl":
                code, out = await self.kubectl(value, ns, as_learner=as_learner)
            elif kind == "apply":
                docs = value if isinstance(value, list) else [value]
                code, out = await self.kubectl(["apply", "-f", "-"], ns, as_learner=as_learner,
                                               stdin=yaml.safe_dump_all(docs).encode())
            elif kind == "shell":
                kubeconfig = self.env.learner_kubeconfig if as_learner else self.env.drill_kubeconfig
                ctx = CheckContext(None, kubeconfig, self.env.kubectl,  # type: ignore[arg-type]
                                   env={"NS": ns, "KUBECONFIG": str(kubeconfig)})
                code, out = await run_command(["bash", "-c", "set -eo pipefail\n" + str(value)], ctx, 90.0)
            elif kind == "fault":
                injected.append(await self._fault(value, ns))
                continue
            else:
                raise DrillRunError(f"unknown action {kind!r}")
            if code != 0:
                raise DrillRunError(f"{kind} {str(value)[:120]!r} failed (exit {code}): {out.strip()[-400:]}")
        return injected

    async def _fault(self, spec: dict[str, Any], ns: str) -> str:
        from kubetui.faults import FaultError, context_for_state_dir, inject
        client = self.env.client()
        try:
            target = spec.get("target")
            if spec.get("node_of"):
                pod = await client.get("pods", str(spec["node_of"]), ns)
                target = (pod.get("spec") or {}).get("nodeName")
            ctx = context_for_state_dir(self.env.state_dir, client, namespace=ns)
            rec = await inject(ctx, str(spec["name"]), target, spec.get("seed", 1))
            return rec.id
        except FaultError as e:
            raise DrillRunError(f"fault {spec.get('name')}: {e}") from None
        finally:
            await client.close()

    def check_context(self, client, ns: str) -> CheckContext:
        return CheckContext(client, self.env.drill_kubeconfig, self.env.kubectl, ns,
                            {"KUBECONFIG": str(self.env.drill_kubeconfig)})

    async def samples(self, ns: str, run: str) -> list[dict[str, Any]]:
        """The prober's samples so far: its log (through the API), merged into the run's own copy."""
        path = self.dir / run / "samples.jsonl"
        known = parse_samples(path.read_text()) if path.exists() else []
        code, out = await self.kubectl(["logs", PROBER], ns, timeout=20.0)
        if code == 0:
            seen = {s["t"] for s in known}
            fresh = [s for s in parse_samples(out) if s.get("t") not in seen]
            if fresh:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(s) + "\n" for s in fresh)
                known += fresh
        return sorted(known, key=lambda s: s.get("t", 0))

    async def learner_user(self) -> str:
        code, out = await self.kubectl(["auth", "whoami", "-o", "json"], "", as_learner=True)
        try:
            return json.loads(out)["status"]["userInfo"]["username"]
        except (ValueError, KeyError):
            raise DrillRunError(f"kubectl auth whoami failed (exit {code}): {out.strip()[-200:]}") from None

    # --- the learner's commands --------------------------------------------------------------------------

    async def start(self, drill: Drill, seed: int, *, alone: bool = True) -> tuple[Incident, scoring.RunRecord]:
        """Set up, wait for health, inject. ``alone``: first clean every other drill on this cluster."""
        problem = self.env.unmet(drill)
        if problem:
            raise DrillRunError(problem)
        for other in self.actives():
            if alone or other.get("drill") == drill.id:
                self.say(f"cleaning up the previous drill ({other.get('drill')}) first")
                await self.clean(other.get("drill"))
        inc = incident(drill, seed)
        variant = next(v for v in drill.variants if v.id == inc.variant)
        ns = drill.namespace
        values = inc.values(ns)
        run = uuid.uuid4().hex[:8]
        started = self.now()
        self._save_active(drill.id, {"drill": drill.id, "run": run, "namespace": ns, "learner": self.learner,
                                     "faults": [], "path": str(drill.path), "seed": seed, "started": started})
        client = self.env.client()
        try:                        # a namespace still terminating (the last run's) refuses new objects
            await wait_gone(client, ns, 120.0, only_terminating=True)
        finally:
            await client.close()
        self.say(f"setting up the application in namespace {ns}")
        code, out = await self.kubectl(["create", "namespace", ns], "")
        if code != 0 and "AlreadyExists" not in out:
            raise DrillRunError(f"kubectl create namespace {ns}: {out.strip()}")
        await self.kubectl(["label", "namespace", ns, f"kubetui.dev/drill={drill.id}", "--overwrite"], "")
        await self.act([{"apply": render(drill.app, values) + prober_rbac()}], drill, values)
        # the namespace's default ServiceAccount comes from a controller a moment after the namespace
        for _ in range(40):
            code, out = await self.kubectl(["apply", "-f", "-"], ns,
                                           stdin=yaml.safe_dump(prober_pod(drill, ns)).encode())
            if code == 0:
                break
            await asyncio.sleep(0.5)
        else:
            raise DrillRunError(f"cannot create the prober: {out.strip()[-300:]}")
        self.say("waiting for the prober to see the application healthy")
        deadline = time.monotonic() + SETUP_TIMEOUT
        while True:
            samples = await self.samples(ns, run)
            if healthy_since(samples, 0, 3) is not None:
                break
            if time.monotonic() > deadline:
                last = samples[-1]["results"] if samples else "no samples (is the prober running?)"
                raise DrillRunError(f"the application never became healthy in {SETUP_TIMEOUT:.0f}s: {last}")
            await asyncio.sleep(1.0)
        user = await self.learner_user()
        self.say("the pager goes off...")
        fault_start = self.now()
        faults = await self.act(variant.fault, drill, values)
        t0 = self.now()
        self._save_active(drill.id, {"drill": drill.id, "run": run, "namespace": ns, "learner": self.learner,
                                     "faults": faults, "path": str(drill.path), "seed": seed, "started": started})
        self._log(drill, "drill_start", run=run, seed=seed, variant=inc.variant, target=inc.target,
                  params=inc.params, namespace=ns, learner_user=user, t0=t0, fault_start=fault_start,
                  touches=render(variant.touches, values), bands=[[b.within, b.points] for b in drill.bands])
        return inc, self.record(drill, run)

    async def status(self, drill: Drill) -> Status:
        rec = self._current(drill)
        client = self.env.client()
        try:
            values = self.values(drill, rec)
            checks = [Check(c.kind, render(c.spec, values), c.fail, c.line, c.id, c.timeout) for c in drill.mitigated]
            results = await evaluate(checks, self.check_context(client, rec.namespace))
        finally:
            await client.close()
        samples = await self.samples(rec.namespace, rec.run)
        code, out = await self.kubectl(["get", "pod", PROBER, "-o", "name"], rec.namespace)
        if code != 0 and "NotFound" in out and not rec.gave_up_at:
            # the learner deleted the prober (that is collateral damage too): the game master puts it back
            await self.kubectl(["apply", "-f", "-"], rec.namespace,
                               stdin=yaml.safe_dump(prober_pod(drill, rec.namespace)).encode())
        since = healthy_since(samples, rec.t0 or 0)
        healthy_now = bool(samples) and bool(samples[-1].get("ok"))
        if since is not None and all(r.passed for r in results) and rec.mitigated_at is None and not rec.gave_up_at:
            self._log(drill, "drill_mitigated", run=rec.run, at=since)
            rec = self.record(drill, rec.run)
        return Status(self.now() - (rec.t0 or self.now()), samples, results, rec.mitigated_at, healthy_now)

    def _params(self, drill: Drill, rec: scoring.RunRecord) -> dict[str, Any]:
        for ev in self.store.events(f"drill:{drill.id}"):
            if ev.get("event") == "drill_start" and ev.get("run") == rec.run:
                return dict(ev.get("params") or {})
        return {}

    def _current(self, drill: Drill) -> scoring.RunRecord:
        rec = self.record(drill)
        if rec is None:
            raise DrillRunError(f"drill {drill.id} has not been started here: `kubetui drill start {drill.id}`")
        return rec

    def answer(self, drill: Drill, given: str) -> tuple[bool, str, int]:
        """Record a root-cause answer: (correct, explanation once settled, answers left)."""
        rec = self._current(drill)
        if rec.gave_up_at is not None:
            raise DrillRunError("you gave up on this drill: its answer is in `kubetui drill report`")
        if any(rec.answers) or len(rec.answers) >= len(scoring.DIAGNOSIS_POINTS):
            raise DrillRunError("this drill's question is already answered (see `kubetui drill report`)")
        q = drill.question
        if q.choices and not (given.strip().isdigit() and 1 <= int(given) <= len(q.choices)):
            raise DrillRunError(f"answer with a choice number, 1..{len(q.choices)}")
        correct = q.check(given)
        self._log(drill, "drill_answer", run=rec.run, answer=given, correct=correct)
        left = len(scoring.DIAGNOSIS_POINTS) - len(rec.answers) - 1
        settled = correct or left == 0
        return correct, (q.explain if settled else ""), (0 if correct else left)

    def hint(self, drill: Drill) -> tuple[str | None, int]:
        rec = self._current(drill)
        if rec.hints >= len(drill.hints):
            return None, rec.hints
        self._log(drill, "drill_hint", run=rec.run, number=rec.hints + 1)
        return render(drill.hints[rec.hints], self.values(drill, rec)), rec.hints + 1

    def values(self, drill: Drill, rec: scoring.RunRecord) -> dict[str, Any]:
        """What ``{ns}``, ``{target}`` and the params stood for in this run."""
        return {"ns": rec.namespace, "target": rec.target, **self._params(drill, rec)}

    def give_up(self, drill: Drill) -> scoring.RunRecord:
        rec = self._current(drill)
        if rec.gave_up_at is None:
            self._log(drill, "drill_give_up", run=rec.run)
        return self.record(drill, rec.run)

    def audit_events(self) -> list[dict[str, Any]]:
        from kubetui.apiserver.audit import AUDIT_FILE
        out = []
        for path in sorted(self.env.state_dir.glob("audit-*.log")) + [self.env.state_dir / AUDIT_FILE]:
            try:
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            continue
            except OSError:
                continue
        return out

    async def report(self, drill: Drill) -> tuple[scoring.RunRecord, scoring.Score, list[dict[str, Any]],
                                                   list[dict[str, Any]]]:
        """(record, score, samples, audit events); a finished run's score is recorded once."""
        rec = self._current(drill)
        try:
            samples = await self.samples(rec.namespace, rec.run)
        except OSError:
            samples = []
        audit = self.audit_events()
        now = self.now()
        sc = scoring.score(rec, samples, audit, now)
        if rec.over and rec.ended_at is None:
            self._log(drill, "drill_score", run=rec.run, score=sc.total, mitigated=sc.mitigated,
                      seconds_to_mitigate=sc.seconds_to_mitigate, availability=sc.availability,
                      diagnosis=sc.diagnosis_points, hints=sc.hints, collateral=sc.collateral, gave_up=sc.gave_up)
            rec = self.record(drill, rec.run)
        return rec, sc, samples, audit

    async def clean(self, drill_id: str | None = None) -> list[str]:
        """Delete an active drill's namespace, undo its cluster-wide changes and revert its faults."""
        active = self.active(drill_id)
        if not active:
            return []
        done = []
        ns = active["namespace"]
        from kubetui.drills.format import load_drill
        try:
            drill = load_drill(active["path"])
            rec = self.record(drill, active["run"])
            values = {"ns": ns, "target": rec.target if rec else "", **(self._params(drill, rec) if rec else {})}
            for action in drill.cleanup:
                try:
                    await self.act([action], drill, values)
                except DrillRunError as e:
                    log.warning("drill cleanup: %s", e)
        except Exception as e:  # noqa: BLE001 - a drill file gone or broken must not keep the cluster dirty
            log.warning("drill cleanup of %s: %s", active.get("drill"), e)
        from kubetui.faults import FaultError, context_for_state_dir, revert
        if active.get("faults"):
            client = self.env.client()
            try:
                ctx = context_for_state_dir(self.env.state_dir, client, namespace=ns)
                for fid in reversed(active["faults"]):
                    try:
                        r = await revert(ctx, fid)
                        done.append(f"reverted {r.name} on {r.target}")
                    except FaultError as e:
                        log.warning("reverting %s: %s", fid, e)
            finally:
                await client.close()
        code, out = await self.kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=false"], "")
        done.append(out.strip() or f"namespace {ns} deleted")
        self._save_active(active["drill"], None)
        return done


async def wait_gone(client, ns: str, timeout: float = 60.0, *, only_terminating: bool = False) -> None:
    """Until namespace ``ns`` is gone (or, ``only_terminating``, no longer terminating); bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            obj = await client.get("namespaces", ns)
        except errors.NotFound:
            return
        if only_terminating and not obj["metadata"].get("deletionTimestamp"):
            return
        await asyncio.sleep(0.5)
    raise DrillRunError(f"namespace {ns} is still being deleted after {timeout:.0f}s")
