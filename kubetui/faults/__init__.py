"""Fault injection for lessons and teachers (``kubetui fault …``): seeded, recorded, reversible.

Public API (used by the lessons engine, the CLI and the TUI)::

    from kubetui.faults import FAULTS, FaultContext, inject, revert, revert_all, FaultLog, FaultError
    ctx = FaultContext(client, state_dir, provider_name="simulated")
    record = await inject(ctx, "node-pause", target="node-2", seed=7)   # FaultRecord (id, target, seed)
    await revert(ctx, record.id)
    FaultLog(state_dir).active()                                        # what is injected now

``context_for_state_dir(state_dir, client=None)`` builds a context for a
cluster running in another process (``kubetui up --headless``), from its
``cluster.json`` and kubeconfig.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from kubetui.cmdutil import kubectl_path
from kubetui.faults.base import Fault, FaultContext, FaultError, FaultLog, FaultRecord, choose, new_id
from kubetui.faults.controlplane import (ControlPlaneNodeKill, ControlPlaneNodePause, EtcdMemberKill, EtcdQuorumLoss,
                                        LeaderKill)
from kubetui.faults.nodes import KubeletStop, NodeKill, NodePartition, NodePause
from kubetui.faults.pods import CPUHog, MemHog, PodKill, ProbeBreak
from kubetui.faults.services import ControlPlaneRestart, DNSBreak, KubeProxyStop

FAULTS: dict[str, Fault] = {f.name: f for f in (
    NodeKill(), NodePause(), NodePartition(), KubeletStop(),
    KubeProxyStop(), DNSBreak(),
    PodKill(), ProbeBreak(), CPUHog(), MemHog(),
    ControlPlaneRestart(),
    ControlPlaneNodeKill(), ControlPlaneNodePause(), EtcdMemberKill(), EtcdQuorumLoss(), LeaderKill(),
)}

__all__ = ["FAULTS", "Fault", "FaultContext", "FaultError", "FaultLog", "FaultRecord", "inject", "revert",
           "revert_all", "context_for_state_dir"]


def get_fault(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise FaultError(f"unknown fault {name!r} (faults: {', '.join(FAULTS)})") from None


async def inject(ctx: FaultContext, name: str, target: str | None = None, seed: int | None = None) -> FaultRecord:
    """Choose a target (seeded), inject, and record it. Without a seed one is drawn and recorded."""
    fault = get_fault(name)
    if seed is None:
        seed = random.SystemRandom().randrange(1, 1_000_000)
    chosen = choose(name, await fault.candidates(ctx, target), seed)
    data: dict[str, Any] = await fault.inject(ctx, chosen)
    record = FaultRecord(new_id(), name, chosen, seed, time.time(), data, fault.describe(chosen))
    FaultLog(ctx.state_dir).add(record)
    return record


async def revert(ctx: FaultContext, ref: str) -> FaultRecord:
    log = FaultLog(ctx.state_dir)
    record = log.find(ref)
    await get_fault(record.name).revert(ctx, record)
    log.remove(record)
    return record


async def revert_all(ctx: FaultContext) -> list[FaultRecord]:
    """Revert every active fault, newest first."""
    done = []
    for record in reversed(FaultLog(ctx.state_dir).active()):
        done.append(await revert(ctx, record.id))
    return done


def context_for_state_dir(state_dir: Path, client: Any = None, *, provider: Any = None,
                          namespace: str = "default") -> FaultContext:
    """A context for the cluster at ``state_dir`` (its kubeconfig, provider and name from cluster.json)."""
    from kubetui.cluster import ClusterSettings

    settings = ClusterSettings.load(state_dir)
    if settings is None:
        raise FaultError(f"no cluster at {state_dir}: start one with `kubetui up`")
    kubeconfig = state_dir / "kubeconfig"
    if client is None:
        from kubetui.client.http import HTTPClient
        client = HTTPClient.from_kubeconfig(kubeconfig)
    return FaultContext(client=client, state_dir=state_dir, provider_name=settings.provider,
                        cluster_name=settings.name, kubeconfig=kubeconfig, kubectl=kubectl_path(),
                        provider=provider, namespace=namespace)
