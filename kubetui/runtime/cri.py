"""The container runtime interface the kubelet drives (upstream: the CRI, ``k8s.io/cri-api``).

A real kubelet never starts processes itself: it asks a runtime (containerd,
CRI-O) over gRPC to ``RunPodSandbox`` (the pod's shared network/IPC/UTS
"box"), then ``CreateContainer``/``StartContainer`` for each container in it,
and reads back ``ContainerStatus``. kubetui keeps the same verbs as an async
Python interface, with two implementations:

- ``process.ProcessRuntime``: containers are plain subprocesses (local
  provider; no isolation, no root needed);
- ``isolated.IsolatedRuntime``: each pod in its own network, mount, UTS and
  PID namespaces and cgroup (inside Docker node containers).

Standard library only: this package runs inside the node.
"""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass, field
from typing import AsyncIterator

# Container states, as the CRI names them (ContainerState enum).
CREATED = "CONTAINER_CREATED"
RUNNING = "CONTAINER_RUNNING"
EXITED = "CONTAINER_EXITED"
UNKNOWN = "CONTAINER_UNKNOWN"


class RuntimeError_(Exception):
    """A runtime call failed; ``reason`` is what the kubelet shows (e.g. ``ErrImagePull``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ImagePullError(RuntimeError_):
    def __init__(self, message: str) -> None:
        super().__init__("ErrImagePull", message)


class NotFound(RuntimeError_):
    def __init__(self, message: str) -> None:
        super().__init__("NotFound", message)


def dial_error(network: str, address: str, exc: BaseException) -> str:
    """A failed connect worded as Go's ``net.Dial`` (``dial tcp4 127.0.0.1:80: connect: connection refused``),
    which is what containerd puts in a port-forward error."""
    if isinstance(exc, TimeoutError):
        return f"dial {network} {address}: i/o timeout"
    err = getattr(exc, "errno", None)
    why = os.strerror(err).lower() if err else str(exc)
    return f"dial {network} {address}: connect: {why}"


def port_forward_error(netns: str, sandbox_id: str, port: int, ipv4: str, ipv6: str | None) -> str:
    """containerd's wording when nothing listens on ``port`` in the pod (``sandbox_portforward_linux.go``)."""
    return (f"failed to execute portforward in network namespace {_go_quote(netns)}: failed to connect to "
            f"localhost:{port} inside namespace {_go_quote(sandbox_id)}, IPv4: {ipv4} IPv6 {ipv6 or ''} ")


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Mount:
    """A volume mount: ``host_path`` (on the node) appears at ``container_path``."""

    container_path: str
    host_path: str
    readonly: bool = False


@dataclass
class PodSandboxConfig:
    """What ``RunPodSandbox`` needs (CRI ``PodSandboxConfig``)."""

    name: str
    namespace: str
    uid: str
    hostname: str = ""
    host_network: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    # cgroup limits for the whole pod (sum of container limits); 0 = none
    memory_limit_bytes: int = 0
    cpu_millicores: int = 0
    dns_servers: list[str] = field(default_factory=list)
    dns_searches: list[str] = field(default_factory=list)
    # the whole /etc/resolv.conf the kubelet computed for the pod (dnsPolicy, dnsConfig);
    # when set it wins over dns_servers/dns_searches (CRI ``DNSConfig``, rendered)
    resolv_conf: str = ""
    #: whose PID namespace the containers are in (CRI ``NamespaceOption.pid``): ``CONTAINER`` each its
    #: own, ``POD`` one for the pod (``shareProcessNamespace``: the pause process is its PID 1),
    #: ``NODE`` the node's (``hostPID``)
    pid_mode: str = "CONTAINER"


@dataclass
class ContainerConfig:
    """What ``CreateContainer`` needs (CRI ``ContainerConfig``)."""

    name: str
    image: str
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    memory_limit_bytes: int = 0
    cpu_millicores: int = 0
    stdin: bool = False
    #: ``tty: true``: the main process runs on a pseudo-terminal (``runtime.tty``)
    tty: bool = False
    # how many times the kubelet has (re)created this container in the pod
    attempt: int = 0
    # securityContext (CRI ``LinuxContainerSecurityContext``): the container's, else the pod's
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool = False
    read_only_root_filesystem: bool = False
    #: an ephemeral container's ``targetContainerName``, resolved: it joins that container's PID
    #: namespace (CRI ``NamespaceOption{pid: TARGET, target_id}``), so ``ps`` shows its processes
    target_container_id: str = ""


@dataclass
class PodSandbox:
    id: str
    config: PodSandboxConfig
    ip: str
    state: str = "SANDBOX_READY"   # or SANDBOX_NOTREADY
    created_at: float = 0.0


@dataclass
class ContainerStatus:
    """What ``ContainerStatus`` answers (CRI ``ContainerStatus``)."""

    id: str
    name: str
    sandbox_id: str
    image: str
    state: str
    attempt: int = 0
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    # "Completed", "Error", "OOMKilled" once exited
    reason: str = ""
    message: str = ""
    log_path: str = ""
    pid: int = 0


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass
class Usage:
    """Resource usage of a container or pod (CRI ``ContainerStats``)."""

    # cumulative CPU time in nanoseconds, sampled at ``timestamp``
    cpu_usage_core_nanoseconds: int = 0
    memory_working_set_bytes: int = 0
    timestamp: float = 0.0


class ExecProcess(abc.ABC):
    """A streaming exec session (what the CRI ``Exec`` streaming server carries)."""

    @abc.abstractmethod
    async def write_stdin(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def close_stdin(self) -> None: ...

    @abc.abstractmethod
    def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """(1, stdout bytes) / (2, stderr bytes) chunks until both streams end."""

    @abc.abstractmethod
    async def wait(self) -> int: ...

    @abc.abstractmethod
    async def kill(self) -> None: ...

    async def resize(self, width: int, height: int) -> None:
        """The client's terminal changed size (TTY sessions only; others ignore it)."""


class RuntimeService(abc.ABC):
    """The CRI's RuntimeService (plus the image check of its ImageService)."""

    #: shown in Node.status.nodeInfo.containerRuntimeVersion as ``name://version``
    name = "kubetui"
    version = "0.1.0"

    async def start(self) -> None:
        """Prepare the runtime and remove what a killed node left behind."""

    async def close(self) -> None:
        """Release runtime resources (does not stop pods)."""

    # -- images ------------------------------------------------------------
    @abc.abstractmethod
    def pull_image(self, image: str) -> str:
        """Resolve an image (there is no registry: the built-in catalogue). Returns the imageID.

        Raises ``ImagePullError`` whose message lists the images available.
        """

    def image_status(self, image: str):
        """The image ``image`` names on this node (CRI ``ImageStatus``): an object with ``id``,
        ``refs``, ``size``, ``layers`` and ``config`` (``imagestore.Image``), or ``None``."""
        return None

    def list_images(self) -> list:
        """Every image this node holds (CRI ``ListImages``), as ``imagestore.Image`` objects."""
        return []

    # -- sandboxes ---------------------------------------------------------
    @abc.abstractmethod
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> PodSandbox: ...

    @abc.abstractmethod
    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Kill every container left in the sandbox (no grace) and tear down its network."""

    @abc.abstractmethod
    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...

    @abc.abstractmethod
    def list_pod_sandboxes(self) -> list[PodSandbox]: ...

    # -- containers --------------------------------------------------------
    @abc.abstractmethod
    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...

    @abc.abstractmethod
    async def start_container(self, container_id: str) -> None: ...

    @abc.abstractmethod
    async def stop_container(self, container_id: str, timeout: float) -> None:
        """SIGTERM, wait up to ``timeout`` seconds (on the injected clock), then SIGKILL."""

    @abc.abstractmethod
    async def remove_container(self, container_id: str) -> None: ...

    @abc.abstractmethod
    def container_status(self, container_id: str) -> ContainerStatus: ...

    @abc.abstractmethod
    def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    @abc.abstractmethod
    async def wait_container(self, container_id: str) -> None:
        """Return when the container has exited."""

    # -- exec, logs, stats -------------------------------------------------
    @abc.abstractmethod
    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> ExecResult: ...

    @abc.abstractmethod
    async def exec(self, container_id: str, cmd: list[str], stdin: bool,
                   tty: bool = False) -> ExecProcess:
        """Start ``cmd`` in the container; with ``tty`` on a pseudo-terminal (``runtime.tty``)."""

    def container_stdin(self, container_id: str) -> "ExecProcess | None":
        """The main process's input for CRI ``Attach`` (``write_stdin``/``close_stdin``/``resize``).

        Only containers created with ``stdin`` keep one (a pipe, or the pty's master end
        with ``tty``); ``None`` otherwise.
        """
        return None

    async def port_forward(self, sandbox_id: str, port: int) -> tuple:
        """Connect to ``port`` inside the pod's network namespace (CRI ``PortForward``).

        Returns an asyncio ``(StreamReader, StreamWriter)`` pair; raises ``RuntimeError_``
        (reason ``PortForwardFailed``) worded as containerd words a refused connection.
        """
        raise RuntimeError_("PortForwardFailed", "this container runtime cannot forward ports")

    @abc.abstractmethod
    def container_stats(self, container_id: str) -> Usage: ...

    def pod_stats(self, sandbox_id: str) -> Usage:
        """Sum of the pod's running containers (a cgroup runtime reads the pod cgroup instead)."""
        total = Usage()
        for c in self.list_containers(sandbox_id):
            if c.state == RUNNING:
                u = self.container_stats(c.id)
                total.cpu_usage_core_nanoseconds += u.cpu_usage_core_nanoseconds
                total.memory_working_set_bytes += u.memory_working_set_bytes
                total.timestamp = u.timestamp
        return total

    #: what the runtime cannot do, said once in the node's logs and in Node annotations
    limitations: tuple[str, ...] = ()

    #: True when pods get real addresses on a bridge, so the node must route to other nodes' pods
    routes_pods: bool = False

    #: True when containers see the node's mounts through bind mounts, so the kubelet may back an
    #: ``emptyDir: {medium: Memory}`` (and Secret volumes) with a tmpfs it mounts on the node
    supports_tmpfs: bool = False

    #: the addresses pods get (a /24 of the cluster CIDR), or None until the kubelet sets it
    pod_cidr: str | None = None

    async def set_pod_cidr(self, cidr: str) -> None:
        """Give pods addresses from ``cidr`` from now on (CRI ``UpdateRuntimeConfig``)."""
