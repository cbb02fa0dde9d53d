"""Running a lesson's actions (setup, cleanup, solutions) against a cluster.

Like Instruqt's setup/solve/cleanup scripts, but declarative where it can be:
``apply``/``delete`` go through the real kubectl with the cluster's kubeconfig
(so a lesson's manifests are exactly what a learner would apply to any
cluster), ``shell`` runs bash in the lesson's folder with ``KUBECONFIG`` set,
``fault`` goes through ``kubetui.faults``, and ``wait`` polls a check until it
passes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubetui.client.base import Client
from kubetui.cmdutil import kubectl_path
from kubetui.lessons.checks import CheckContext, evaluate_one, run_command
from kubetui.lessons.format import Action

log = logging.getLogger(__name__)

DEFAULT_WAIT = 60.0


class ActionError(Exception):
    """A setup/cleanup/solution action failed; the message has its output."""


@dataclass
class LabEnv:
    """One cluster as the lessons engine sees it."""

    client: Client
    state_dir: Path
    kubeconfig: Path
    provider_name: str = "simulated"
    cluster_name: str = "default"
    # the provider object when the cluster runs in this process (simulated node faults need it)
    provider: Any = None
    namespace: str = "default"
    kubectl: str = ""
    # what the cluster was started with (None: unknown, not checked)
    scheduler_profile: str | None = None
    nodes: int | None = None
    control_planes: int | None = None
    store: str | None = None

    def __post_init__(self) -> None:
        self.kubectl = self.kubectl or kubectl_path()

    @classmethod
    def from_state_dir(cls, state_dir: Path, client: Client | None = None, provider: Any = None) -> "LabEnv":
        from kubetui.cluster import ClusterSettings
        settings = ClusterSettings.load(state_dir)
        kubeconfig = state_dir / "kubeconfig"
        if settings is None or not kubeconfig.exists():
            raise ActionError(f"no cluster at {state_dir}: start one with `kubetui up --headless`")
        if client is None:
            from kubetui.client.http import HTTPClient
            client = HTTPClient.from_kubeconfig(kubeconfig)
        return cls(client, state_dir, kubeconfig, settings.provider, settings.name, provider,
                   scheduler_profile=settings.scheduler_profile, nodes=settings.nodes,
                   control_planes=settings.control_planes, store=settings.store)

    def unmet_needs(self, lesson) -> str | None:
        """Why this cluster cannot run ``lesson`` (with the command that makes one that can), or None."""
        need = lesson.cluster
        fix = []
        if need.provider != "any" and need.provider != self.provider_name:
            fix.append(f"--provider {need.provider}")
        elif "docker" in lesson.requires and self.provider_name != "docker":
            fix.append("--provider docker")
        elif "pods" in lesson.requires and self.provider_name == "simulated":
            fix.append("--provider local (or docker): simulated nodes run no containers")
        if need.scheduler_profile and self.scheduler_profile and need.scheduler_profile != self.scheduler_profile:
            fix.append(f"--scheduler-profile {need.scheduler_profile}")
        if self.nodes is not None and self.nodes < need.nodes:
            fix.append(f"--nodes {need.nodes}")
        if need.store != "any" and self.store is not None and self.store != need.store:
            fix.append(f"--store {need.store}")
        if self.control_planes is not None and self.control_planes < need.control_planes:
            fix.append(f"--control-planes {need.control_planes}")
        if not fix:
            return None
        if (need.store != "any" and self.store not in (None, need.store)) or \
                (self.control_planes is not None and self.control_planes < need.control_planes):
            # a cluster's store is not switched by `up` (kubetui store migrate does it), and its control
            # planes are set when it is created: a cluster of the right shape beside this one
            name = "ha" if need.control_planes > 1 else "etcd"
            provider = "local" if need.control_planes > 1 else (need.provider if need.provider != "any" else "")
            flags = " ".join(f for f in (f"--provider {provider}" if provider else "", f"--nodes {need.nodes}",
                                         f"--store {need.store}" if need.store != "any" else "",
                                         f"--control-planes {need.control_planes}" if need.control_planes > 1
                                         else "") if f)
            return (f"lesson {lesson.id} needs a cluster started with {', '.join(fix)}: start one beside "
                    f"{self.cluster_name!r} with `kubetui --name {name} up {flags}`, then "
                    f"`kubetui --name {name} lessons start {lesson.id}`")
        return (f"lesson {lesson.id} needs a cluster started with {', '.join(fix)}: "
                f"stop this one and run `kubetui --name {self.cluster_name} up {' '.join(f.split(' (')[0] for f in fix)}`")

    def shell_vars(self) -> dict[str, str]:
        """What a lesson's shell sees: KUBECONFIG, and kubectl/kubetui on PATH, aimed at this cluster."""
        bins = [str(Path(self.kubectl).parent), str(Path(sys.executable).parent)]
        return {"KUBECONFIG": str(self.kubeconfig), "KUBETUI_STATE_DIR": str(self.state_dir),
                "PATH": os.pathsep.join([*dict.fromkeys(bins), os.environ.get("PATH", "")])}

    def check_context(self, since: float | None = None, cwd: Path | None = None,
                      since_rv: int | None = None) -> CheckContext:
        return CheckContext(self.client, self.kubeconfig, self.kubectl, self.namespace, self.shell_vars(),
                            since, cwd, since_rv)

    def fault_context(self):
        from kubetui.faults import FaultContext
        return FaultContext(self.client, self.state_dir, self.provider_name, self.cluster_name, self.kubeconfig,
                            self.kubectl, self.provider, self.namespace)


async def run_action(action: Action, env: LabEnv, lesson_dir: Path, *, timeout: float = 120.0) -> str:
    """Run one action; returns its output, raises ``ActionError`` on failure."""
    ctx = env.check_context(cwd=lesson_dir)
    if action.kind in ("apply", "delete"):
        value = action.value
        verb = ["apply"] if action.kind == "apply" else ["delete", "--ignore-not-found", "--wait=false"]
        stdin = None
        if isinstance(value, (dict, list)) or (isinstance(value, str) and "\n" in value):
            docs = value if isinstance(value, list) else [value]
            text = value if isinstance(value, str) else yaml.safe_dump_all(docs)
            stdin, target = text.encode(), ["-f", "-"]
        else:
            target = ["-f", str(lesson_dir / str(value))]
        argv = [env.kubectl, f"--kubeconfig={env.kubeconfig}", *verb, *target]
        code, out = await run_command(argv, ctx, timeout, stdin=stdin)
        if code != 0:
            raise ActionError(f"kubectl {verb[0]} {' '.join(target)} failed (exit {code}): {out.strip()[-400:]}")
        return out
    if action.kind == "shell":
        script = "set -eo pipefail\n" + str(action.value)
        code, out = await run_command(["bash", "-c", script], ctx, timeout)
        if code != 0:
            raise ActionError(f"shell action (line {action.line}) failed (exit {code}): {out.strip()[-400:]}")
        return out
    if action.kind == "fault":
        from kubetui.faults import FaultError, FaultLog, inject, revert
        v = action.value
        try:
            if v.get("revert"):
                which = str(v["revert"])
                done = [await revert(env.fault_context(), r.id) for r in reversed(FaultLog(env.state_dir).active())
                        if which in ("all", r.name, r.id)]
                return "reverted " + (", ".join(f"{r.name} on {r.target}" for r in done) or "nothing")
            rec = await inject(env.fault_context(), str(v["name"]), v.get("target"), v.get("seed"))
        except FaultError as e:
            raise ActionError(str(e)) from None
        return f"injected {rec.name} on {rec.target} (id {rec.id}, seed {rec.seed})"
    if action.kind == "wait":
        check = action.value
        limit = check.timeout or DEFAULT_WAIT
        result = await wait_for_check(check, ctx, limit)
        if not result.passed:
            raise ActionError(f"waited {limit:.0f}s for {check.describe()}: {result.detail}")
        return result.detail
    raise ActionError(f"unknown action {action.kind!r}")


async def wait_for_check(check, ctx: CheckContext, timeout: float, interval: float = 0.25):
    """Poll one check until it passes or ``timeout`` seconds pass (bounded in time)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await evaluate_one(check, ctx)
        if result.passed or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(interval)


async def run_actions(actions: list[Action], env: LabEnv, lesson_dir: Path) -> list[str]:
    return [await run_action(a, env, lesson_dir) for a in actions]
