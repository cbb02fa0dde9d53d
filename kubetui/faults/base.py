"""Fault injection: the interface, seeded target choice, and the record of active faults.

Upstream has no single counterpart: it is what chaos tools (Chaos Mesh,
LitmusChaos, kube-monkey) and a teacher pulling a cable do. Every fault is
reversible and acts from *outside* the control plane, as a teacher would:
through the API (``Client``), the real kubectl, Docker labels, or the local
kubelets' pid files in the cluster's state directory. Simulated nodes, which
live inside the control plane's process, are reached through their Node
objects too: the ``kubetui.dev/fault`` annotation, which that process watches.

Seeded: ``--seed 7`` picks the same target from the same candidates for a
whole class (``random.Random("node-pause:7").choice(sorted(candidates))``).
Active faults are kept in ``<state>/faults/active.json`` and every inject and
revert is appended to ``<state>/faults/log.jsonl``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubetui.client.base import Client

log = logging.getLogger(__name__)


class FaultError(Exception):
    """A fault that cannot be injected or reverted here; the message says why and what to do."""


@dataclass
class FaultContext:
    """Where a fault acts: the cluster's API and state dir, and how its nodes run."""

    client: Client
    state_dir: Path
    provider_name: str                  # docker / local / simulated (from cluster.json)
    cluster_name: str = "default"
    kubeconfig: Path | None = None
    kubectl: str = "kubectl"
    # The in-process provider when the cluster runs in this process (TUI, `lessons test`);
    # no fault needs it any more (simulated nodes are reached by annotation), kept for callers.
    provider: Any = None
    namespace: str = "default"


@dataclass
class FaultRecord:
    id: str
    name: str
    target: str
    seed: int
    injected_at: float
    data: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def choose(name: str, candidates: list[str], seed: int) -> str:
    """The seeded choice: the same seed and candidates give the same target everywhere.

    >>> choose("pod-kill", ["web-b", "web-a", "web-c"], 1) == choose("pod-kill", ["web-c", "web-a", "web-b"], 1)
    True
    """
    if not candidates:
        raise FaultError(f"{name}: no target to choose from")
    return random.Random(f"{name}:{seed}").choice(sorted(candidates))


class Fault(ABC):
    """One kind of fault. ``inject`` returns what ``revert`` needs (kept in the record)."""

    name: str = "?"
    #: "node" or "pod": what ``--target`` names
    target_kind: str = "node"
    summary: str = ""
    #: what reverting does, in one sentence
    reverts: str = ""

    @abstractmethod
    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        """Names this fault could hit; ``target`` is a name or (for pods) a label selector."""

    @abstractmethod
    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        ...

    @abstractmethod
    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        ...

    def describe(self, target: str) -> str:
        return f"{self.name} on {self.target_kind} {target}"


class FaultLog:
    """``<state>/faults/``: ``active.json`` (what is injected now) and ``log.jsonl`` (append-only history)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "faults"

    def active(self) -> list[FaultRecord]:
        try:
            data = json.loads((self.dir / "active.json").read_text())
        except (OSError, ValueError):
            return []
        return [FaultRecord(**r) for r in data]

    def _save(self, records: list[FaultRecord]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "active.json.tmp"
        tmp.write_text(json.dumps([asdict(r) for r in records], indent=2) + "\n")
        os.replace(tmp, self.dir / "active.json")

    def append(self, event: str, record: FaultRecord) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        line = {"t": time.time(), "event": event, **asdict(record)}
        with open(self.dir / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def add(self, record: FaultRecord) -> None:
        self._save([*self.active(), record])
        self.append("inject", record)

    def remove(self, record: FaultRecord) -> None:
        self._save([r for r in self.active() if r.id != record.id])
        self.append("revert", record)

    def find(self, ref: str) -> FaultRecord:
        records = self.active()
        hits = [r for r in records if r.id == ref or r.id.startswith(ref)]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            known = ", ".join(f"{r.id} ({r.name} {r.target})" for r in records) or "none"
            raise FaultError(f"no active fault {ref!r} (active: {known})")
        raise FaultError(f"{ref!r} matches {len(hits)} faults: give more of the id")


def new_id() -> str:
    return uuid.uuid4().hex[:8]
