"""Pod and workload faults, all through the API or the real kubectl (so any provider).

- ``pod-kill``: delete one pod (seeded choice among those matching a selector),
  as ``kube-monkey`` does. Its ReplicaSet replaces it: self-healing to watch.
  Nothing to revert (the controller already did).
- ``probe-break``: make a pod's probe fail from inside the container
  (``kubectl exec``). An ``exec`` probe that reads a file (``cat /tmp/healthy``,
  the Kubernetes docs' liveness example) loses that file; an ``httpGet`` probe on
  ``kubetui/hello`` gets its marker file created - ``$KUBETUI_UNHEALTHY_FILE``,
  by default ``/tmp/kubetui-unhealthy-<pod name>`` - which that workload answers
  with 500 on ``/healthz`` (see ``kubetui.workloads.hello``). The command runs in
  the container, so it sees the container's own ``KUBETUI_UNHEALTHY_FILE``.
  Revert undoes it.
- ``cpu-hog`` / ``mem-hog``: a ``kubetui/cpuhog`` / ``kubetui/memhog`` pod pinned
  to a node (``spec.nodeName``) with no limits: a noisy neighbour. Revert deletes it.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from typing import Any

from kubetui.api import errors
from kubetui.faults.base import Fault, FaultContext, FaultError, FaultRecord
from kubetui.faults.nodes import NodeFault

#: the file ``kubetui/hello`` checks on every ``/healthz`` (500 while it exists), unless
#: the container sets ``KUBETUI_UNHEALTHY_FILE``; per pod, as pods on a local node share /tmp
HELLO_UNHEALTHY_FILE = "/tmp/kubetui-unhealthy-{pod}"
FAULT_LABEL = "kubetui.dev/fault"


async def _pods(ctx: FaultContext, target: str | None) -> list[dict[str, Any]]:
    """``target``: a pod name, ``pod/NAME``, a label selector (``app=web``), or None (every pod)."""
    if target and "=" not in target:
        name = target.split("/", 1)[1] if target.startswith(("pod/", "pods/")) else target
        try:
            return [await ctx.client.get("pods", name, ctx.namespace)]
        except errors.NotFound:
            raise FaultError(f"no pod {name!r} in namespace {ctx.namespace}") from None
    lst = await ctx.client.list("pods", ctx.namespace, label_selector=target or None)
    return [p for p in lst.get("items") or [] if not p["metadata"].get("deletionTimestamp")]


class PodFault(Fault):
    target_kind = "pod"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        pods = await _pods(ctx, target)
        names = sorted(p["metadata"]["name"] for p in pods if (p.get("status") or {}).get("phase") != "Succeeded")
        if not names:
            raise FaultError(f"{self.name}: no pod matches {target or 'anything'} in namespace {ctx.namespace}")
        return names


class PodKill(PodFault):
    name = "pod-kill"
    summary = "delete a pod (seeded choice among those matching --target SELECTOR): watch it being replaced"
    reverts = "nothing to undo: its controller already made a new pod"

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        pod = await ctx.client.delete("pods", target, ctx.namespace)
        return {"uid": pod["metadata"].get("uid"), "namespace": ctx.namespace}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        return None


def hello_marker(pod_name: str) -> str:
    """The shell word naming kubetui/hello's marker file inside the container.

    >>> hello_marker("web-1")
    '"${KUBETUI_UNHEALTHY_FILE:-/tmp/kubetui-unhealthy-web-1}"'
    """
    if not re.fullmatch(r"[a-z0-9.-]*", pod_name):     # a pod name is a DNS subdomain: nothing to quote
        raise FaultError(f"unexpected pod name {pod_name!r}")
    return '"${KUBETUI_UNHEALTHY_FILE:-' + HELLO_UNHEALTHY_FILE.format(pod=pod_name) + '}"'


def probe_plan(pod: dict[str, Any]) -> tuple[str, str, str] | None:
    """(container, break command, restore command) for the pod's first probe we know how to break.

    >>> probe_plan({"spec": {"containers": [{"name": "c", "image": "busybox",
    ...     "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}}}]}})
    ('c', 'rm -f /tmp/healthy', 'touch /tmp/healthy')
    """
    for c in (pod.get("spec") or {}).get("containers") or []:
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(kind)
            if not probe:
                continue
            cmd = (probe.get("exec") or {}).get("command") or []
            text = " ".join(cmd)
            m = re.search(r"(?:cat|test -[ef]|ls)\s+(/\S+)", text)
            if m:
                f = shlex.quote(m.group(1))
                return c["name"], f"rm -f {f}", f"touch {f}"
            if probe.get("httpGet") and str(c.get("image", "")).startswith("kubetui/hello"):
                marker = hello_marker((pod.get("metadata") or {}).get("name") or "")
                return c["name"], f"touch {marker}", f"rm -f {marker}"
    return None


async def _kubectl_exec(ctx: FaultContext, pod: str, container: str, script: str) -> None:
    argv = [ctx.kubectl]
    if ctx.kubeconfig:
        argv.append(f"--kubeconfig={ctx.kubeconfig}")
    argv += ["exec", "-n", ctx.namespace, pod, "-c", container, "--", "sh", "-c", script]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    if proc.returncode != 0:
        raise FaultError(f"kubectl exec into pod/{pod} failed: {out.decode(errors='replace').strip()[:200]}")


class ProbeBreak(PodFault):
    name = "probe-break"
    summary = "make a pod's liveness/readiness probe fail from inside its container (kubectl exec)"
    reverts = "make the probe pass again"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        pods = await _pods(ctx, target)
        names = sorted(p["metadata"]["name"] for p in pods
                       if probe_plan(p) and (p.get("status") or {}).get("phase") == "Running")
        if not names:
            raise FaultError(f"{self.name}: no Running pod with a probe kubetui can break matches "
                             f"{target or 'anything'} (an exec probe reading a file, or kubetui/hello's httpGet)")
        return names

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        pod = await ctx.client.get("pods", target, ctx.namespace)
        plan = probe_plan(pod)
        assert plan is not None
        container, brk, restore = plan
        await _kubectl_exec(ctx, target, container, brk)
        return {"container": container, "restore": restore, "namespace": ctx.namespace}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        try:
            await _kubectl_exec(ctx, record.target, record.data["container"], record.data["restore"])
        except FaultError:
            # A liveness failure restarts the container: the new one starts healthy, nothing to undo.
            pass


class Hog(NodeFault):
    """A pod with no limits pinned to a node."""

    image = ""

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": f"{self.name}-", "labels": {FAULT_LABEL: self.name}},
            "spec": {"nodeName": target, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "hog", "image": self.image}]},
        }
        created = await ctx.client.create("pods", pod, ctx.namespace)
        return {"pod": created["metadata"]["name"], "namespace": ctx.namespace}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        try:
            await ctx.client.delete("pods", record.data["pod"], record.data["namespace"], grace_period_seconds=0)
        except errors.NotFound:
            pass


class CPUHog(Hog):
    name = "cpu-hog"
    image = "kubetui/cpuhog:latest"
    summary = "run a CPU-burning pod (no limits) on a node: a noisy neighbour (kubectl top)"
    reverts = "delete the hog pod"


class MemHog(Hog):
    name = "mem-hog"
    image = "kubetui/memhog:latest"
    summary = "run a memory-eating pod (no limits) on a node: memory pressure on the node"
    reverts = "delete the hog pod"


class NotYet(Fault):
    """A fault whose machinery does not exist in kubetui yet: refuses with the reason."""

    def __init__(self, name: str, summary: str, why: str) -> None:
        self.name, self.summary, self.why = name, summary, why
        self.reverts = "-"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        raise FaultError(f"{self.name} is not available yet: {self.why}")

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        raise FaultError(f"{self.name} is not available yet: {self.why}")

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        raise FaultError(f"{self.name} is not available yet: {self.why}")
