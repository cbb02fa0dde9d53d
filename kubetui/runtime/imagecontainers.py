"""Containers of images in the isolated runtime (upstream: containerd's CRI plugin between the kubelet and runc).

The part of :class:`~kubetui.runtime.isolated.IsolatedRuntime` that gives a
container of an image its own root filesystem: the image service over the
node's :mod:`~kubetui.runtime.imagestore` (``ImageStatus``, ``ListImages``,
the "pull" that finds an image on the node), ``CreateContainer`` from an image
(:func:`imagerun.prepare` decides everything: process, mounts, writable
layer), ``StartContainer`` waiting for ``containerinit`` to exec the command,
``StartError`` as runc words it, the writable layer removed with the
container, and ``kubectl exec`` inside the container's own files.

Where a node has no image store of built-in images (``images.base is None``:
a node image without them, or the runtime run on a host by tests), the built-in
names fall back to kubetui's programs on the node's root filesystem
(``IsolatedRuntime._wrap``).

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil

from kubetui.runtime import imagerun, images, imagestore
from kubetui.runtime import tty as ptyexec
from kubetui.runtime.cri import ContainerConfig, ExecProcess, ImagePullError, NotFound, PodSandbox
from kubetui.runtime.netlink import NETNS_DIR
from kubetui.runtime.process import FailedExec, ProcessRuntime, SubprocessExec, _Container

log = logging.getLogger(__name__)


class ImageContainers:
    """Mixed into ``IsolatedRuntime``: expects ``self.images`` (the store), ``self._tools``,
    ``self._prepared`` and ``self._sync_fds`` (dicts by container id), ``self._forks`` (the
    ``zygote.ForkServer``), ``_cgroup`` and ``_netns``."""

    # -- images ----------------------------------------------------------------
    def _image(self, image: str) -> imagestore.Image | None:
        return imagerun.resolve(self.images, image)

    def pull_image(self, image: str) -> str:
        img = self._image(image)
        if img is not None:
            return img.id
        if self.images.base is None:
            return images.resolve(image).image_id   # no image store: kubetui's programs on the node
        have = sorted({imagestore.familiar(r) for i in self.images.list() for r in i.refs})
        raise ImagePullError(
            f'Failed to pull image "{image}": not found on node {self.node_name} (kubetui nodes have no '
            f"registry: `kubetui image load {image}` copies it from your Docker engine); the images "
            f"here are: {', '.join(have)} (busybox with any tag)")

    def image_status(self, image: str) -> imagestore.Image | None:
        return self._image(image)

    def list_images(self) -> list[imagestore.Image]:
        return self.images.list()

    async def _create_from_image(self, sandbox_id: str, config: ContainerConfig, img) -> str:
        """A container with its own root filesystem from ``img`` (``imagerun.prepare``)."""
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            raise NotFound(f"sandbox {sandbox_id} not found")
        cid = secrets.token_hex(32)
        env = self._image_env(sb, config)
        log_path = self._log_path(sandbox_id, config)
        c = _Container(cid, sb, config, log_path, [], {}, str(self._pod_dir(sandbox_id)))
        cg = self._cgroup(c)
        cg.create(config.memory_limit_bytes, config.cpu_millicores)
        netns = None if sb.config.host_network else str(NETNS_DIR / self._netns(sb.id))
        try:
            prep = await asyncio.to_thread(
                imagerun.prepare, self.images, img, cid, sb, config, self._state_dir(sandbox_id), env,
                cg.procs_files(), netns, self._tools, self._containers_state())
        except BaseException:
            shutil.rmtree(self.images.containers_dir() / cid, ignore_errors=True)
            shutil.rmtree(self._containers_state() / cid, ignore_errors=True)
            raise
        c.argv, c.env = prep.argv, prep.process.env
        self._prepared[cid] = prep
        self._containers[cid] = c
        return cid

    def _image_env(self, sb: PodSandbox, config: ContainerConfig) -> dict[str, str]:
        """What the runtime sets in every container (the image's Env goes under it, the pod's over it):
        HOSTNAME as containerd does, and what kubetui's built-in programs read (KUBETUI_*)."""
        env = {"HOSTNAME": sb.config.hostname or sb.config.name,
               "KUBETUI_POD_IP": sb.ip, "KUBETUI_POD_NAME": sb.config.name,
               "KUBETUI_POD_NAMESPACE": sb.config.namespace, "KUBETUI_NODE_NAME": self.node_name,
               "KUBETUI_MOUNTS": "{}"}
        env.update(config.env)
        return env

    async def _start_from_image(self, c: _Container, prep: imagerun.Prepared) -> None:
        """runc's exec fifo, as a pipe: containerinit writes a byte when the container's own root
        filesystem is in place and it execs the command (the pipe ends if it fails first), so
        StartContainer returns once the command runs; an exec (a postStart hook, kubectl exec)
        then never lands in a half-built container."""
        r, w = os.pipe()
        self._sync_fds[c.id] = w
        c.argv = [*prep.argv, str(w)]
        try:
            await ProcessRuntime.start_container(self, c.id)
        finally:
            os.close(w)
            self._sync_fds.pop(c.id, None)
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.add_reader(r, lambda: done.done() or done.set_result(None))
        try:
            await asyncio.wait_for(done, 30)
        except asyncio.TimeoutError:
            log.warning("container %s: no word from containerinit after 30s", c.config.name)
        finally:
            loop.remove_reader(r)
            os.close(r)

    async def _spawn(self, c: _Container):
        """A container of an image is forked by the zygote (``zygote.py``), unless it needs a
        terminal or stdin (those keep the ``nsenter … containerinit`` path, as ``kubectl exec`` does)."""
        prep = self._prepared.get(c.id)
        if prep is None or c.config.tty or c.config.stdin:
            return await ProcessRuntime._spawn(self, c)
        return await self._forks.spawn(str(prep.spec_path), prep.netns, c.env, c.cwd,
                                       self._sync_fds[c.id], pidns=self._target_pidns.get(c.id))

    async def close(self) -> None:
        await super().close()
        self._forks.close()

    def _containers_state(self):
        """Each container's bundle (containerd: ``/run/containerd/.../<id>``): the spec containerinit
        reads, its root filesystem's mount point, its start error; the writable layer stays in the
        image store on the node's disk."""
        return self.state / "containers"

    def _start_fds(self, c: _Container) -> tuple[int, ...]:
        w = self._sync_fds.get(c.id)
        return (w,) if w is not None else ()

    def _image_exit(self, c: _Container) -> None:
        """How a container of an image ended, when containerinit left word of a failure."""
        prep = self._prepared.get(c.id)
        if prep is not None:
            try:
                err = prep.error_file.read_text().strip()
            except OSError:
                err = ""
            if err:
                # containerinit could not set the container up or exec its command: runc's StartError
                c.exit_code, c.reason = 128, "StartError"
                c.message = ("failed to create containerd task: failed to create shim task: OCI runtime "
                             f"create failed: runc create failed: unable to start container process: {err}: unknown")

    def _forget_rootfs(self, container_id: str) -> None:
        """The container's writable layer goes with it; the image's layers stay (shared)."""
        prep = self._prepared.pop(container_id, None)
        if prep is not None:
            shutil.rmtree(prep.dir, ignore_errors=True)
            shutil.rmtree(prep.state, ignore_errors=True)

    async def _exec_in_image(self, c: _Container, prep, pid: int, cmd: list[str], stdin: bool,
                             tty: bool) -> ExecProcess:
        argv = imagerun.exec_argv(self._tools, pid, prep.spec_path, cmd, tty)
        if tty:
            try:
                return await ptyexec.spawn(argv, env=c.env, cwd=c.cwd, controlling=False)
            except OSError as e:
                return FailedExec(f"nsenter failed: {e}\r\n".encode(), channel=1)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=c.env, cwd=c.cwd, start_new_session=True)
        except OSError as e:
            return FailedExec(f"nsenter failed: {e}\n".encode())
        return SubprocessExec(proc)

