"""A runtime that isolates each pod like runc does (upstream: containerd + runc + the bridge CNI plugin).

Inside a node container (root, see ``docs`` node-internals), every pod gets:

- its own **network namespace** ``kt-<sandbox>``, joined to the node's
  bridge (``cni0``, gateway = first address of the pod CIDR) by a veth pair,
  with its own IP: what the ``bridge`` CNI plugin sets up (with ``hairpinMode``:
  a pod may be its own Service's endpoint);
- its own **cgroup** ``kubepods/<sandbox>`` (cgroup v1: memory, cpu,
  cpuacct, pids; v2: one unified directory), each container in a child
  cgroup with its limits: ``memory.limit_in_bytes`` (a real OOM kill,
  reported as ``OOMKilled``) and ``cpu.cfs_quota_us = millicores * 100``;
- for each container, new **mount, UTS and PID namespaces** (``unshare``):
  its hostname is the pod name, volumes are bind mounts at their paths,
  ``/proc`` shows only its own processes;
- for each container of an image in the node's store (``imagestore``:
  the built-in images baked into the node image, and what ``kubetui image
  load`` brought), its **own root filesystem**: an overlay of the image's
  layers with a writable layer of its own, entered with ``pivot_root`` by
  ``containerinit`` (``imagecontainers`` is this runtime's part of it,
  ``imagerun`` prepares a container, ``rootfs`` decides its mounts).

Where a node has no image store (a node image without baked images, or this
runtime run directly on a host by the tests), a built-in image name falls
back to kubetui's programs on the node's own root filesystem, with a private
``/tmp``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

from kubetui.runtime import busybox, imagerun, imagestore, netlink, shims, zygote
from kubetui.runtime.cgroups import CGROUP_ROOT, Cgroup, cgroup_v2
from kubetui.runtime.imagecontainers import ImageContainers
from kubetui.runtime import tty as ptyexec
from kubetui.runtime.cri import (EXITED, RUNNING, ContainerConfig, ExecProcess, PodSandbox,
                                 PodSandboxConfig, RuntimeError_, Usage,
                                 dial_error, port_forward_error)
from kubetui.runtime.process import FailedExec, ProcessRuntime, SubprocessExec, _Container
from kubetui.runtime.procfs import kill_group

log = logging.getLogger(__name__)

NETNS_DIR = netlink.NETNS_DIR   # where a pod's network namespace is pinned (as `ip netns add` does)


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError_("FailedCreatePodSandBox", f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


class IsolatedRuntime(ImageContainers, ProcessRuntime):
    TTY_CONTROLLING = False   # setsid --ctty inside the namespaces (``_wrap``), as for exec -it
    name = "kubetui-isolated"
    version = "0.1.0"
    limitations = ("no default capability set, seccomp or AppArmor profile, and /proc is not masked: a "
                   "container's root has the node's capabilities",
                   "containers share the node's /dev/pts (their terminals are opened on the node) and "
                   "see no /sys/fs/cgroup of their own")

    #: pods on other nodes are reached through routes the kubelet keeps (kubelet/network.py)
    routes_pods = True

    #: volumes are bind-mounted into each container's mount namespace, tmpfs ones included
    supports_tmpfs = True

    def __init__(self, root_dir, *, node_name: str, pod_cidr: str | None = "10.244.0.0/24",
                 node_ip: str = "127.0.0.1", bridge: str = "cni0", netns_prefix: str = "kt-",
                 cgroup_parent: str = "kubepods", cluster_cidr: str = "10.244.0.0/16", clock=None,
                 image_root=None, builtin_images_root: str | None = imagestore.BUILTIN_ROOT,
                 state_dir=None) -> None:
        super().__init__(root_dir, node_name=node_name, pod_cidr=pod_cidr, node_ip=node_ip, clock=clock,
                         state_dir=state_dir)
        # the node's images: on the kubelet's volume beside this runtime's directory, over the
        # read-only store of built-in images baked into the node image
        base = imagestore.ImageStore(builtin_images_root, readonly=True) \
            if builtin_images_root and os.path.isdir(builtin_images_root) else None
        self.images = imagestore.ImageStore(image_root or self.root.parent / "images", base=base)
        #: what the kubelet's image manager reads (kubelet/images.py ``NodeImages``)
        self.image_store = self.images
        self._tools = imagerun.find_tools()
        self._prepared: dict[str, imagerun.Prepared] = {}
        self._forks = zygote.ForkServer(imagerun.INIT)      # starts image containers (zygote.py)
        self._pauses: dict[str, asyncio.Future] = {}        # each pod's pause process (starting), by sandbox id
        self._sync_fds: dict[str, int] = {}
        self.bridge = bridge
        self.netns_prefix = netns_prefix
        self.cgroup_parent = cgroup_parent
        self.cluster_cidr = cluster_cidr
        self.gateway = str(next(self.network.hosts())) if self.network is not None else ""
        self._oom_before: dict[str, int] = {}
        self._target_pidns: dict[str, str] = {}             # ephemeral containers' target's PID namespace
        self._started = False

    # -- node setup and cleanup ------------------------------------------------
    async def start(self) -> None:
        (self.root / "pods").mkdir(parents=True, exist_ok=True)
        shims.install(self._bin_dir, with_hostname=False)
        # BusyBox's applets for the busybox image; its `hostname` is right here (a UTS namespace)
        self._busybox_dir = busybox.install(self.root / "busybox" / "bin")
        self.cleanup_leftovers()
        self._started = True
        if self.network is not None:
            self._setup_bridge()

    async def set_pod_cidr(self, cidr: str) -> None:
        await super().set_pod_cidr(cidr)
        self.gateway = str(next(self.network.hosts()))
        if self._started:
            await asyncio.to_thread(self._setup_bridge)

    def _setup_bridge(self) -> None:
        """The node's pod bridge, gateway = first address of the podCIDR (what the bridge CNI plugin does)."""
        if _run("ip", "link", "show", self.bridge, check=False).returncode != 0:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "replace", f"{self.gateway}/{self.network.prefixlen}", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
        self._ensure_masquerade()

    def _ensure_masquerade(self) -> None:
        """Pod traffic leaving the cluster network goes out as the node (the bridge plugin's ``ipMasq``).

        A pod talking to another pod keeps its own address (no NAT inside the
        cluster CIDR); a pod talking to anything else (the API server on the
        Docker network's gateway) is masqueraded, since nothing outside the
        nodes has a route back to 10.244.0.0/16. kind's kindnet/ip-masq-agent
        does the same.
        """
        rule = ["POSTROUTING", "-s", str(self.network), "!", "-d", self.cluster_cidr, "-m", "comment",
                "--comment", "kubetui: pod traffic leaving the cluster network", "-j", "MASQUERADE"]
        if shutil.which("iptables") is None:
            log.warning("no iptables on this node: pods cannot reach addresses outside %s", self.cluster_cidr)
            return
        if _run("iptables", "-t", "nat", "-C", *rule, check=False).returncode != 0:
            r = _run("iptables", "-t", "nat", "-A", *rule, check=False)
            if r.returncode != 0:
                log.warning("cannot add the pod masquerade rule: %s", r.stderr.strip())

    def cleanup_leftovers(self) -> int:
        n = super().cleanup_leftovers()
        # the writable layers of a killed kubelet's containers (their mounts went with their namespaces)
        for cdir in (self.images.containers_dir(), self._containers_state()):
            if cdir.is_dir():
                for d in cdir.iterdir():
                    shutil.rmtree(d, ignore_errors=True)
        for ns in _run("ip", "netns", "list", check=False).stdout.split("\n"):
            name = ns.split(" ")[0]
            if name.startswith(self.netns_prefix):
                _run("ip", "netns", "del", name, check=False)
                n += 1
        # The pods of a killed kubelet left their MACs in the bridge's neighbour table.
        _run("ip", "neigh", "flush", "dev", self.bridge, check=False)
        Cgroup(self.cgroup_parent).remove()
        return n

    def teardown_node_network(self) -> None:
        _run("ip", "link", "del", self.bridge, check=False)

    # -- sandboxes -------------------------------------------------------------
    def _netns(self, sid: str) -> str:
        return f"{self.netns_prefix}{sid[:12]}"

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> PodSandbox:
        sb = await super().run_pod_sandbox(config)
        # The pod's cgroup is made in a worker thread (with its network), not on the event loop:
        # a cgroup mkdir waits for cgroup_mutex, which each container's cgroup.procs write holds
        # across an RCU grace period; in a burst that stalled every pod's coroutine (up to 0.2 s).
        def make_cgroup() -> None:
            Cgroup(f"{self.cgroup_parent}/{sb.id[:12]}").create(config.memory_limit_bytes, config.cpu_millicores)
        if not config.host_network:
            ns, veth = self._netns(sb.id), f"veth{sb.id[:8]}"

            # What the bridge CNI plugin does, over netlink from this process (as the plugin
            # does): no `ip` processes, which were most of a pod's start-up cost.
            def plumb() -> None:
                try:
                    netlink.plumb_pod(ns, veth, self.bridge, sb.ip, self.network.prefixlen, self.gateway)
                except OSError as e:
                    raise RuntimeError_("FailedCreatePodSandBox", f"pod network {ns}: {e}") from e
                make_cgroup()
            try:
                await asyncio.to_thread(plumb)
            except RuntimeError_:
                _run("ip", "netns", "del", ns, check=False)
                await super().remove_pod_sandbox(sb.id)
                raise
        else:
            await asyncio.to_thread(make_cgroup)
        # The pod's pause process (upstream's infra container): it sleeps in the pod's network
        # namespace, so the node's `ps` shows every pod by name and `nsenter -t PID -n` enters it.
        # Nothing waits for it: the pod's network is pinned by a bind mount, not by this process.
        self._pauses[sb.id] = asyncio.ensure_future(self._pause(sb, config))
        d = self._state_dir(sb.id)
        if config.resolv_conf:
            (d / "resolv.conf").write_text(config.resolv_conf)
        elif config.dns_servers:
            (d / "resolv.conf").write_text("".join(f"nameserver {s}\n" for s in config.dns_servers)
                                           + (f"search {' '.join(config.dns_searches)}\n" if config.dns_searches else "")
                                           + "options ndots:5\n")
        return sb

    async def _pause(self, sb: PodSandbox, config: PodSandboxConfig) -> "zygote.InitProcess | None":
        try:
            pause = await self._forks.pause([self._tools["sleep"], f"/pause hostname {config.hostname or config.name}",
                                             "infinity"], None if config.host_network else str(NETNS_DIR / self._netns(sb.id)),
                                            new_pid_ns=config.pid_mode == "POD")
            self._record(sb.id, "pause", pause.pid)
            return pause
        except OSError as e:        # the pod works without it: nothing is held by it here
            log.warning("no pause process for pod %s/%s: %s", config.namespace, config.name, e)
            return None

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        await super().stop_pod_sandbox(sandbox_id)
        started = self._pauses.pop(sandbox_id, None)
        pause = await started if started is not None else None
        if pause is not None:
            # its group, or the process itself when it has not called setsid yet (a pod deleted
            # the moment its sandbox was made): otherwise the wait below never ended
            kill_group(pause.pid, signal.SIGKILL)
            await pause.wait()

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self._sandboxes.get(sandbox_id)
        gone = [cid for cid, c in self._containers.items() if c.sandbox.id == sandbox_id]
        await super().remove_pod_sandbox(sandbox_id)
        for cid in gone:
            self._forget_rootfs(cid)
        if sb and not sb.config.host_network:
            _run("ip", "netns", "del", self._netns(sandbox_id), check=False)
            # Forget the pod's MAC: the next pod given this IP has another one, and a
            # stale neighbour entry would blackhole its traffic (probes time out) for minutes.
            if sb.ip:
                _run("ip", "neigh", "del", sb.ip, "dev", self.bridge, check=False)
        Cgroup(f"{self.cgroup_parent}/{sandbox_id[:12]}").remove()

    # -- containers ------------------------------------------------------------
    def _cgroup(self, c: _Container) -> Cgroup:
        return Cgroup(f"{self.cgroup_parent}/{c.sandbox.id[:12]}/{c.config.name}-{c.config.attempt}")

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        img = self._image(config.image)
        if img is not None:
            return await self._create_from_image(sandbox_id, config, img)
        cid = await super().create_container(sandbox_id, config)
        c = self._containers[cid]
        cg = self._cgroup(c)
        cg.create(config.memory_limit_bytes, config.cpu_millicores)
        c.argv = self._wrap(c, cg)
        c.env.pop("KUBETUI_MOUNTS", None)      # volumes really are at their paths here
        c.env["KUBETUI_MOUNTS"] = "{}"
        return cid

    def _wrap(self, c: _Container, cg: Cgroup) -> list[str]:
        """The steps runc does, in as few processes as we can (each one costs every pod start
        a few ms of CPU): enter the pod's netns (``nsenter``), make new mount, UTS and PID
        namespaces (``unshare``, which also makes every mount private), then one shell joins
        the container's cgroup, sets the hostname, makes every mount with one ``mount -a``
        over the container's own fstab, and execs the command."""
        sb = c.sandbox
        resolv = self._state_dir(sb.id) / "resolv.conf"
        fstab = self._state_dir(sb.id) / f"{c.config.name}-{c.config.attempt}.fstab"
        # A file (a subPath of one ConfigMap key) is bound onto a file: those come after the fstab,
        # whose X-mount.mkdir would make the mount point a directory.
        files = [m for m in c.config.mounts if os.path.isfile(m.host_path)]
        dirs = [m for m in c.config.mounts if m not in files]
        fstab.write_text(container_fstab(
            dirs, str(resolv) if resolv.exists() else None,
            # A private /tmp, unless something the container needs lives under /tmp, which
            # the tmpfs would hide: a volume, or its program itself (kubetui run from a
            # checkout under /tmp, as in a CI clone; never the case in a node image).
            private_tmp=not any(_under(p, "/tmp") for p in [
                *_host_paths_needed(c), *([str(self._busybox_dir)] if self._busybox_dir else [])]),
            own_sysfs=not sb.config.host_network))
        hostname = imagerun.uts_hostname(sb)
        # The shell runs in the node's /sys until `mount -a` mounts the pod's own, so the cgroup
        # is joined first; writing 0 to cgroup.procs moves the writer (the PID is 1 in here).
        # `hostname` as a shell function: no process, and `ps` on the node still names the pod.
        inner = [*(f"echo 0 > {shlex.quote(p)}" for p in cg.procs_files()),
                 'hostname() { echo "$1" > /proc/sys/kernel/hostname; }',   # this UTS namespace's
                 f"hostname {shlex.quote(hostname)}",
                 f"mount -a -T {shlex.quote(str(fstab))}",
                 *(file_mount_script(m) for m in files)]
        if c.cwd and c.config.working_dir:
            inner.append(f"cd {shlex.quote(c.config.working_dir)}")
        inner.append('exec "$@"')
        argv = c.argv
        if c.env.get("PATH") != self._spawn_env(c).get("PATH"):
            # the plumbing (and setsid) run with the node's tools; the command finds the
            # container's (a busybox container's PATH starts with BusyBox's applets: sh is ash)
            argv = ["env", f"PATH={c.env['PATH']}", *argv]
        netns = [] if sb.config.host_network else ["nsenter", f"--net={NETNS_DIR}/{self._netns(sb.id)}"]
        return [*netns, "unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc",
                "sh", "-c", "; ".join(inner), "sh",
                *(ptyexec.in_container_session(argv) if c.config.tty else argv)]

    def _spawn_env(self, c) -> dict[str, str]:
        if c.id in self._prepared:
            return c.env        # every node tool is run by its absolute path: the image's PATH stays
        # nsenter, unshare, sh, mount are the node's, whatever the container's PATH says
        # (BusyBox has applets of those names, with other options)
        return {**c.env, "PATH": os.pathsep.join([str(self._bin_dir), os.environ.get("PATH", "/usr/bin:/bin")])}

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        self._oom_before[container_id] = self._cgroup(c).oom_kills()
        prep = self._prepared.get(container_id)
        path = await self._pid_namespace(c)
        if path:
            self._target_pidns[c.id] = path
            if prep is not None:
                prep.argv = imagerun.join_pid_namespace(prep.argv, path, self._tools["nsenter"])
            else:
                c.argv = imagerun.join_pid_namespace(c.argv, path, "nsenter")
        if prep is None:
            return await super().start_container(container_id)
        await self._start_from_image(c, prep)

    async def _pid_namespace(self, c: _Container) -> str:
        """The PID namespace a container joins instead of making its own ("" for its own), as
        containerd reads ``NamespaceOption.pid``: an ephemeral container's target's (``TARGET``),
        the pod's pause process's (``POD``: ``shareProcessNamespace``) or the node's (``NODE``:
        ``hostPID``). nsenter enters it for unshare's children, so the container's processes see
        (and can signal) the others there, and the /proc it mounts shows them."""
        if c.config.target_container_id:
            target = self._containers.get(c.config.target_container_id)
            pid = self._init_pid(target) if target is not None and target.state == RUNNING else None
            if pid is None:
                raise RuntimeError_("StartError", f"failed to start containerd task \"{c.config.name}\": the target "
                                                  "container is not running: cannot join its PID namespace")
            return f"/proc/{pid}/ns/pid"
        mode = c.sandbox.config.pid_mode
        if mode == "NODE":
            return f"/proc/{os.getpid()}/ns/pid"
        if mode == "POD":
            started = self._pauses.get(c.sandbox.id)
            pause = await started if started is not None else None
            if pause is None:
                raise RuntimeError_("StartError", f"failed to start containerd task \"{c.config.name}\": the pod's "
                                                  "pause process (its shared PID namespace) is not running")
            return f"/proc/{pause.pid}/ns/pid"
        return ""

    def _on_exit(self, c: _Container) -> None:
        # The kernel's OOM killer acted in this container's cgroup: that is what
        # ended it (unshare may not relay the SIGKILL faithfully), as containerd reports.
        if self._cgroup(c).oom_kills() > self._oom_before.get(c.id, 0):
            c.exit_code, c.reason = 137, "OOMKilled"
        self._image_exit(c)

    async def remove_container(self, container_id: str) -> None:
        await super().remove_container(container_id)
        self._target_pidns.pop(container_id, None)
        self._forget_rootfs(container_id)

    def _send_term(self, c: _Container) -> None:
        # SIGTERM goes to the container's PID 1 (as runc does), not to unshare,
        # which would die at once and take the container with it.
        pid = self._init_pid(c)
        if pid is None:
            return super()._send_term(c)
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass

    def _init_pid(self, c: _Container) -> int | None:
        """The container's PID 1 (forked by the zygote, or unshare's child), for nsenter."""
        if not c.proc:
            return None
        if getattr(c.proc, "is_init", False):
            return c.proc.pid
        try:
            for task in os.listdir(f"/proc/{c.proc.pid}/task"):
                kids = Path(f"/proc/{c.proc.pid}/task/{task}/children").read_text().split()
                if kids:
                    return int(kids[0])
        except OSError:
            return None
        return None

    async def exec(self, container_id: str, cmd: list[str], stdin: bool,
                   tty: bool = False) -> ExecProcess:
        c = self._get(container_id)
        pid = self._init_pid(c)
        for _ in range(200):            # just started: unshare has not forked the container's PID 1 yet
            if pid is not None or c.state != RUNNING:
                break
            await asyncio.sleep(0.005)
            pid = self._init_pid(c)
        if c.state != RUNNING or pid is None:
            raise RuntimeError_("ContainerNotRunning", f"container {c.config.name} is not running")
        prep = self._prepared.get(container_id)
        if prep is not None:
            return await self._exec_in_image(c, prep, pid, cmd, stdin, tty)
        join = "; ".join(f"echo $$ > {shlex.quote(p)}" for p in self._cgroup(c).procs_files())
        env = self._spawn_env(c)
        if c.env.get("PATH") != env.get("PATH"):
            cmd = ["env", f"PATH={c.env['PATH']}", *cmd]   # the command finds the container's tools
        argv = ["sh", "-c", f'{join}; exec "$@"', "sh",
                "nsenter", "-t", str(pid), "-n", "-m", "-u", "-p", "--", *cmd]
        if tty:
            # The pty is opened here in the node; the command's session, and the terminal's
            # foreground process groups, live inside the container's PID namespace (setsid
            # after nsenter), and it finds the terminal at /dev/pts/N in its mount namespace.
            argv[-len(cmd):] = ptyexec.in_container_session(cmd)
            try:
                return await ptyexec.spawn(argv, env=env, cwd=c.cwd, controlling=False)
            except OSError as e:
                return FailedExec(f"nsenter failed: {e}\r\n".encode(), channel=1)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, cwd=c.cwd, start_new_session=True)
        except OSError as e:
            return FailedExec(f"nsenter failed: {e}\n".encode())
        return SubprocessExec(proc)

    async def port_forward(self, sandbox_id: str, port: int) -> tuple:
        """Connect to ``localhost:port`` inside the pod's network namespace, as containerd does:
        a helper thread joins the netns (``setns``), makes the socket there (a socket belongs to
        the namespace it was created in for its whole life) and connects; the thread then dies,
        so no other work ever runs in the pod's namespace. IPv4 first, then IPv6."""
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            raise RuntimeError_("PortForwardFailed", f"sandbox {sandbox_id} not found")
        if sb.config.host_network:
            return await super().port_forward(sandbox_id, port)
        path = str(NETNS_DIR / self._netns(sandbox_id))
        result: list = []
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        def work() -> None:
            try:
                result.append(_connect_in_netns(path, port, sb.ip))
            except BaseException as e:  # noqa: BLE001 (handed to the event loop)
                result.append(e)
            loop.call_soon_threadsafe(done.set)
        threading.Thread(target=work, name=f"portforward-{sandbox_id[:8]}-{port}", daemon=True).start()
        await done.wait()
        out = result[0]
        if isinstance(out, str):
            raise RuntimeError_("PortForwardFailed", port_forward_error(path, sandbox_id, port, *out.split("\0")))
        if isinstance(out, BaseException):
            raise RuntimeError_("PortForwardFailed",
                                f"failed to execute portforward in network namespace \"{path}\": {out}")
        return await asyncio.open_connection(sock=out)

    def container_stats(self, container_id: str) -> Usage:
        c = self._get(container_id)
        u = self._cgroup(c).usage() if c.state == RUNNING else Usage()
        u.timestamp = self.clock.time()
        return u

    def pod_stats(self, sandbox_id: str) -> Usage:
        u = Cgroup(f"{self.cgroup_parent}/{sandbox_id[:12]}").usage()
        u.timestamp = self.clock.time()
        return u


_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):                      # Python 3.12+
        os.setns(fd, _CLONE_NEWNET)
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _connect_in_netns(path: str, port: int, pod_ip: str | None = None):
    """In the calling (throwaway) thread: join the netns at ``path`` and connect to localhost:port.

    kubetui's built-in images bind the pod's own address (they also run on the process runtime,
    where pods share the host's loopback), so after localhost the pod's IP is tried too, still
    inside the pod's namespace. Returns the connected socket, or the dial errors joined by NUL
    (IPv4, IPv6)."""
    target = os.open(path, os.O_RDONLY)        # FileNotFoundError if the pod's netns is gone
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        errs = []
        targets = [(socket.AF_INET, "tcp4", "127.0.0.1", "127.0.0.1:%d"),
                   (socket.AF_INET6, "tcp6", "::1", "[::1]:%d")]
        if pod_ip:
            targets.insert(1, (socket.AF_INET, "tcp4", pod_ip, None))
        for family, network, host, addr in targets:
            try:
                s = socket.socket(family, socket.SOCK_STREAM)
            except OSError as e:
                if addr is not None:
                    errs.append(dial_error(network, addr % port, e))
                continue
            s.settimeout(10)
            try:
                s.connect((host, port))
                s.setblocking(False)
                return s
            except OSError as e:
                s.close()
                if addr is not None:           # the pod-IP attempt is kubetui's extra: not reported
                    errs.append(dial_error(network, addr % port, e))
        return "\0".join(errs)
    finally:
        try:
            _setns(own)             # back home; the thread ends anyway
        finally:
            os.close(own)
            os.close(target)


def _fstab_field(text: str) -> str:
    """A path as fstab(5) spells it: whitespace and backslashes as octal escapes."""
    return "".join(f"\\{ord(ch):03o}" if ch in " \t\n\\" else ch for ch in text)


def container_fstab(mounts: list, resolv_conf: str | None, private_tmp: bool, own_sysfs: bool) -> str:
    """The container's mounts as an fstab, for one ``mount -a -T`` (in order). For example a pod
    with cluster DNS, a read-only volume at /data and another at /tmp/cache::

        kubetui-sysfs /sys sysfs rw,nosuid,nodev,noexec 0 0           (its own netns' devices)
        /var/lib/kubelet/pods/<uid>/volumes/data /data none bind,ro,X-mount.mkdir 0 0
        /var/lib/kubetui/runtime/pods/<sandbox>/resolv.conf /etc/resolv.conf none bind 0 0
        kubetui-tmp /tmp tmpfs rw,nosuid,nodev 0 0                    (a private /tmp)
        /var/lib/kubelet/pods/<uid>/volumes/cache /tmp/cache none bind,X-mount.mkdir 0 0

    Mounts into /tmp come after its tmpfs (which would hide them), the others before it
    (so their sources may be under /tmp). The pseudo-filesystems get a source of their
    own, or ``mount -a`` would take the node's /sys or /tmp for them, already mounted.
    """
    def bind(src: str, dst: str, readonly: bool = False, mkdir: bool = True) -> str:
        opts = "bind" + (",ro" if readonly else "") + (",X-mount.mkdir" if mkdir else "")
        return f"{_fstab_field(src)} {_fstab_field(dst)} none {opts} 0 0"

    lines = ["kubetui-sysfs /sys sysfs rw,nosuid,nodev,noexec 0 0"] if own_sysfs else []
    def in_tmp(m) -> bool:
        return private_tmp and _under(m.container_path, "/tmp")

    lines += [bind(m.host_path, m.container_path, m.readonly) for m in mounts if not in_tmp(m)]
    if resolv_conf:
        lines.append(bind(resolv_conf, "/etc/resolv.conf", mkdir=False))
    if private_tmp:
        lines.append("kubetui-tmp /tmp tmpfs rw,nosuid,nodev 0 0")
    lines += [bind(m.host_path, m.container_path, m.readonly) for m in mounts if in_tmp(m)]
    return "".join(line + "\n" for line in lines)


def file_mount_script(m) -> str:
    """Shell that binds one file onto a file, creating the empty mount point first (as runc does).

    >>> from kubetui.runtime.cri import Mount
    >>> file_mount_script(Mount("/etc/app.conf", "/v/app.conf", True))
    '[ -e /etc/app.conf ] || { mkdir -p /etc && : > /etc/app.conf; }; mount -o bind,ro /v/app.conf /etc/app.conf'
    """
    dst, src = shlex.quote(m.container_path), shlex.quote(m.host_path)
    parent = shlex.quote(os.path.dirname(m.container_path) or "/")
    return (f"[ -e {dst} ] || {{ mkdir -p {parent} && : > {dst}; }}; "
            f"mount -o bind{',ro' if m.readonly else ''} {src} {dst}")


def _host_paths_needed(c: "_Container") -> list[str]:
    """Host paths a container reads: its volumes, its program and its PYTHONPATH."""
    paths = [m.host_path for m in c.config.mounts]
    paths += [a for a in c.argv if a.startswith("/")]
    paths += [p for p in c.env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return paths


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def available() -> tuple[bool, str]:
    """Can this machine run the isolated runtime? (root, ip, unshare, nsenter, cgroups)"""
    if os.geteuid() != 0:
        return False, "needs root"
    for tool in ("ip", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            return False, f"needs {tool}"
    if not (cgroup_v2() or (CGROUP_ROOT / "memory").exists()):
        return False, "no cgroup memory controller"
    return True, ""


__all__ = ["IsolatedRuntime", "available", "EXITED"]
