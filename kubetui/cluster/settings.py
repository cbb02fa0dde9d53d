"""A cluster's settings and how its nodes are provided (kind's cluster config).

What ``kubetui up`` was asked for is kept in ``<state>/cluster.json``, so the
next ``up`` brings back the same cluster (idempotent) unless flags change it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from kubetui.clock import Clock
from kubetui.providers.base import ClusterConfig, Provider
from kubetui.statedir import SETTINGS_FILE
from kubetui.timings import PRESETS, Timings

Progress = Callable[[str, str], None]

DEFAULT_API_PORT = 6443
#: where the built-in ingress controller listens on 127.0.0.1 (unprivileged; kind maps 80/443 instead)
DEFAULT_INGRESS_HTTP_PORT = 8080
DEFAULT_INGRESS_HTTPS_PORT = 8443


@dataclass
class ClusterSettings:
    """What ``kubetui up`` was asked for, kept in ``<state>/cluster.json``."""

    name: str = "default"
    provider: str = "local"
    nodes: int = 3
    api_port: int = DEFAULT_API_PORT
    scheduler_profile: str = "default"
    timings: str = "lab"
    node_cpus: float = 2.0
    node_memory: str = "2Gi"
    insecure_http: bool = False
    encrypt_secrets: bool = False
    #: the ingress controller's ports, kept like api_port: a taken one is replaced by a free one, then remembered
    ingress_http_port: int = DEFAULT_INGRESS_HTTP_PORT
    ingress_https_port: int = DEFAULT_INGRESS_HTTPS_PORT
    #: ``--audit-policy-file``: a copy kept in the state dir (empty: the built-in policy)
    audit_policy_file: str = ""
    #: ``--store``: ``tinydb`` (``<state>/store/``) or ``etcd`` (a member in ``<state>/etcd/``);
    #: switched only by ``kubetui store migrate``
    store: str = "tinydb"
    #: ``--control-planes N``: control-plane nodes, each an etcd member, API server, scheduler and
    #: controller manager (N > 1 needs ``--store etcd`` and the local provider; cluster/ha.py)
    control_planes: int = 1

    @classmethod
    def load(cls, state_dir: Path) -> "ClusterSettings | None":
        p = state_dir / SETTINGS_FILE
        if not p.exists():
            return None
        data = json.loads(p.read_text())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / (SETTINGS_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, state_dir / SETTINGS_FILE)

    @property
    def timing_preset(self) -> Timings:
        return PRESETS[self.timings]


def settings_from_args(args: Any, state_dir: Path) -> ClusterSettings:
    """Flags given now win; otherwise what the cluster was created with; otherwise defaults."""
    s = ClusterSettings.load(state_dir) or ClusterSettings(name=getattr(args, "name", None) or "default")
    if getattr(args, "provider", None):
        s.provider = args.provider
    elif ClusterSettings.load(state_dir) is None:
        s.provider = default_provider()
    for attr in ("nodes", "api_port", "control_planes"):
        v = getattr(args, attr, None)
        if v is not None:
            setattr(s, attr, v)
    for attr in ("scheduler_profile", "timings", "node_cpus", "node_memory"):
        v = getattr(args, attr, None)
        if v is not None:
            setattr(s, attr, v)
    s.insecure_http = bool(getattr(args, "insecure_http", False))
    if getattr(args, "encrypt_secrets", False):
        s.encrypt_secrets = True  # once on, it stays on (cluster.json)
    store = getattr(args, "store", None)
    if store and store != s.store:
        if ClusterSettings.load(state_dir) is not None and store_holds_data(state_dir, s.store):
            raise StoreSwitchRefused(
                f"cluster {s.name!r} keeps its objects in {s.store}; `--store {store}` would start it empty. "
                f"Copy them first: kubetui store migrate --to {store}")
        s.store = store
    if getattr(args, "audit_policy_file", None):
        s.audit_policy_file = str(Path(args.audit_policy_file).resolve())
    return s


class StoreSwitchRefused(ValueError):
    """``--store`` asked for another backend than the one holding the cluster's objects."""


def store_holds_data(state_dir: Path, backend: str) -> bool:
    """Whether ``backend`` has files in ``state_dir`` (``store/`` for TinyDB, ``etcd/`` for etcd)."""
    d = state_dir / ("etcd" if backend == "etcd" else "store")
    return d.is_dir() and any(d.iterdir())


def default_provider() -> str:
    """docker when an engine answers, else local (said once, by the caller)."""
    from kubetui.providers.docker import docker_available  # loads Docker's SDK: only when asked
    return "docker" if docker_available() else "local"


def make_provider(settings: ClusterSettings, state_dir: Path, *, client=None, clock: Clock | None = None,
                  progress: Progress | None = None) -> Provider:
    config = ClusterConfig(name=settings.name, state_dir=state_dir, nodes=settings.nodes,
                           node_cpus=settings.node_cpus, node_memory=settings.node_memory,
                           timings=settings.timing_preset)
    if settings.provider == "docker":
        from kubetui.providers.docker import DockerProvider
        return DockerProvider(config, progress=progress)
    if settings.provider == "local":
        from kubetui.providers.local import LocalProvider
        return LocalProvider(config)
    if settings.provider == "simulated":
        from kubetui.providers.simulated import SimulatedProvider
        return SimulatedProvider(config, client, clock or Clock())
    raise ValueError(f"unknown provider {settings.provider!r}")


def node_names(n: int) -> list[str]:
    return [f"node-{i}" for i in range(1, n + 1)]
