"""A container's first moments, inside its namespaces (upstream: runc's ``init``, ``libcontainer/rootfs_linux.go``).

The isolated runtime starts every container of an image as (``--exec PID SPEC -- CMD``
is ``kubectl exec``, :func:`exec_in`)::

    nsenter --net=<pod netns> unshare --mount --uts --pid --fork \\
        python3 -I -S containerinit.py --hostname <pod> <spec.marshal> <sync fd>

so this runs as PID 1 of a new PID namespace, in new mount and UTS
namespaces. From the spec the kubelet wrote (``rootfs.py`` decided it all), it:

1. joins the container's cgroup (so everything it does is charged there);
2. sets the hostname (the pod's name: its own UTS namespace);
3. mounts the overlay root filesystem (image layers below, the container's
   upper directory on top), then ``/proc``, ``/dev`` (a tmpfs with the
   usual device nodes and links), ``/dev/pts``, ``/dev/shm``, ``/sys``
   read-only, the ``/etc`` files and the volumes inside it;
4. makes the root read-only for ``readOnlyRootFilesystem``;
5. ``pivot_root`` into it and detaches the node's old root, so nothing of
   the node stays visible (what ``chroot`` would not guarantee);
6. drops to the container's user and groups, enters its working directory
   (made if missing, as runc does) and execs the command, found on the
   container's own ``PATH`` in the container's own files.

The spec comes as ``marshal`` data (the same interpreter wrote it; ``json`` would cost a start
several milliseconds of imports); ``config.json`` beside it is the same, for people to read.
A failure before the exec is written to the spec's ``error_file`` and ends
with exit code 128, which the runtime reports as ``StartError`` worded as
containerd and runc word it. Run by path with ``-I -S``: it imports nothing
but the standard library (a few milliseconds of a container's start).
"""

import _signal
import ctypes
import errno
import fcntl
import marshal
import os
import stat
import sys
import termios

# Everything is imported above: after pivot_root the node's standard library is out of sight.

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine, 155)
SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)
CLONE_PARENT, SIGCHLD = 0x8000, 17

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
           ("tty", 5, 0))
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    pass


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(e)}")


def mount(source, target, fstype, flags, data, what=None):
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None),
           what or f"mount {source} on {target}")


def setup(spec):
    for f in spec.get("cgroup_procs", []):
        with open(f, "w") as fh:
            fh.write("0")
    name = spec["hostname"].encode()
    _check(_libc.sethostname(name, len(name)), "sethostname")
    root = spec["overlay"]["merged"]
    mount(None, "/", None, MS_REC | MS_PRIVATE, None, "make / private")
    ov = spec["overlay"]
    mount("overlay", root, "overlay", 0,
          f"lowerdir={':'.join(ov['lower'])},upperdir={ov['upper']},workdir={ov['work']}",
          "mount the container's root filesystem (overlay)")
    for source, target, fstype, flags, data, readonly, is_file in spec["mounts"]:
        dst = root + target
        if not os.path.lexists(dst):
            # only inside the container's own /dev tmpfs: the runtime made every other mount point
            if is_file:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.close(os.open(dst, os.O_CREAT | os.O_WRONLY, 0o644))
            else:
                os.makedirs(dst, exist_ok=True)
        if fstype:
            mount(source, dst, fstype, flags, data, f"mount {fstype} on {target}")
        else:
            mount(source, dst, None, flags | MS_BIND, None, f"bind {source} on {target}")
            if readonly:
                mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | (flags & MS_REC), None,
                      f"make {target} read-only")
        if target == "/dev":
            _populate_dev(dst)
    if spec.get("readonly_root"):
        mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None, "make the root filesystem read-only")
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the node's root")
    os.chdir("/")


def _populate_dev(dev):
    """runc's default devices, made on the container's own /dev tmpfs."""
    old = os.umask(0)
    try:
        for name, major, minor in DEVICES:
            os.mknod(f"{dev}/{name}", 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        for name, target in DEV_LINKS:
            os.symlink(target, f"{dev}/{name}")
        for d in ("pts", "shm"):
            os.mkdir(f"{dev}/{d}", 0o755)
    finally:
        os.umask(old)


def become_user(spec):
    cwd = spec.get("cwd") or "/"
    try:
        os.makedirs(cwd, exist_ok=True)
    except OSError:
        pass
    os.setgroups(sorted(set([spec.get("gid", 0), *spec.get("groups", [])])))
    os.setgid(spec.get("gid", 0))
    os.setuid(spec.get("uid", 0))
    try:
        os.chdir(cwd)
    except OSError as e:
        raise SetupError(f"chdir to cwd (\"{cwd}\") set in config.json failed: {e.strerror.lower()}") from None


def execvp(argv, env):
    """``execvp`` on the container's PATH, in the container's files (``os.execvpe`` would import
    modules that are no longer reachable). The first error that is not "not here" wins, as in Go's
    ``exec.LookPath``, which runc uses."""
    if "/" in argv[0]:
        os.execve(argv[0], argv, env)
    first = None
    for d in (env.get("PATH") or "").split(":"):
        try:
            os.execve(os.path.join(d or ".", argv[0]), argv, env)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            if first is None:
                first = e
    raise first or FileNotFoundError(errno.ENOENT, "not found")


def _default_signals():
    for sig in (_signal.SIGPIPE, getattr(_signal, "SIGXFSZ", None)):
        if sig is not None:
            _signal.signal(sig, _signal.SIG_DFL)


def main(path, sync_fd=None):
    if sync_fd is not None:
        # the runtime waits for a byte on this pipe, written right before the exec (or for its end,
        # when this process and unshare, which holds a copy, are gone); the command never inherits it
        os.set_inheritable(sync_fd, False)
    with open(path, "rb") as f:
        spec = marshal.load(f)
    # opened now: the file is on the node, out of sight after pivot_root (and closed by a
    # successful exec: Python's descriptors are close-on-exec)
    err_fd = os.open(spec["error_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) \
        if spec.get("error_file") else None

    def fail(msg, code=128):
        if err_fd is not None:
            os.write(err_fd, msg.encode())
        sys.stderr.write(msg + "\n")
        os._exit(code)
    try:
        setup(spec)
    except (SetupError, OSError) as e:
        fail(f"error mounting the container's root filesystem: {e}")
    try:
        become_user(spec)
    except (SetupError, OSError) as e:
        fail(str(e))
    if spec.get("tty"):
        try:
            os.setsid()
        except OSError:
            pass
        try:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        except OSError:
            pass
    argv = spec["argv"]
    # Python starts with SIGPIPE (and SIGXFSZ) ignored; an ignored signal stays ignored across exec,
    # so the command gets the defaults back, as subprocess's restore_signals does
    _default_signals()
    if sync_fd is not None:
        os.write(sync_fd, b"\0")
    try:
        execvp(argv, dict(os.environ))
    except OSError as e:
        # runc's words (containerd prefixes them), as `kubectl describe` shows them
        if e.errno == errno.ENOENT and "/" not in argv[0]:
            why = "executable file not found in $PATH"
        elif e.errno == errno.ENOENT:
            why = "no such file or directory"
        else:
            why = (e.strerror or str(e)).lower()
        fail(f'exec: "{argv[0]}": {why}')


CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID = 0x20000, 0x4000000, 0x40000000, 0x20000000


def exec_in(pid, spec_path, argv):
    """``kubectl exec`` (runc exec): join the container's cgroup and namespaces, become its user
    with its groups, start in its working directory, run ``argv``; exit with its exit code."""
    with open(spec_path, "rb") as f:
        spec = marshal.load(f)
    for p in spec.get("cgroup_procs", []):
        with open(p, "w") as fh:
            fh.write("0")
    fds = [(os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY), flag)
           for ns, flag in (("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET), ("pid", CLONE_NEWPID),
                            ("mnt", CLONE_NEWNS))]
    cwd = os.open(f"/proc/{pid}/cwd", os.O_RDONLY)
    for fd, flag in fds:
        _check(_libc.setns(fd, flag), "setns")
        os.close(fd)
    os.fchdir(cwd)           # setns(mnt) put us at the container's root; its PID 1's cwd is here
    os.close(cwd)
    child = os.fork()        # a new PID namespace applies to children only
    if child == 0:
        try:
            os.setgroups(sorted(set([spec.get("gid", 0), *spec.get("groups", [])])))
            os.setgid(spec.get("gid", 0))
            os.setuid(spec.get("uid", 0))
            _default_signals()
            execvp(argv, dict(os.environ))
        except OSError as e:
            why = "executable file not found in $PATH" if e.errno == errno.ENOENT and "/" not in argv[0] \
                else (e.strerror or str(e)).lower()
            sys.stderr.write(f'OCI runtime exec failed: exec failed: unable to start container process: '
                             f'exec: "{argv[0]}": {why}: unknown\n')
            sys.stderr.flush()
            os._exit(126 if e.errno == errno.EACCES else 127)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


# -- the fork server (zygote) -----------------------------------------------------------------
# Starting ``python3`` for every container costs ~10 ms of CPU (the interpreter, then ctypes), more
# than everything else a container's start does. Like Android's zygote, one interpreter with this
# module loaded stays up beside the kubelet (``--zygote FD``) and forks each container from
# itself. The runtime (``kubetui.runtime.zygote``) sends a request on a SOCK_SEQPACKET socket with
# the container's stdout, stderr and sync pipe as SCM_RIGHTS descriptors. The zygote clones the
# container's PID 1 into a new PID namespace as its own parent's child (``CLONE_PARENT``): the
# runtime's process waits for it (it is also a child subreaper, as containerd's shim is, for the
# cases that go through a middle process). No process stays per container (``unshare --fork``
# stayed as the PID 1's parent before), and the zygote itself ends when the runtime closes its
# socket after a few idle seconds: ~3 MiB of an idle node.

def _container_init(req, fds):
    """In the forked child, PID 1 of its new PID namespace: the rest of ``nsenter --net=… unshare
    --mount --uts``, then :func:`main` (which never returns)."""
    os.setsid()                              # its own process group: the runtime kills the group
    out, err, sync = fds
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    for fd in (null, out, err):
        os.close(fd)
    if req.get("netns"):
        fd = os.open(req["netns"], os.O_RDONLY)
        _check(_libc.setns(fd, CLONE_NEWNET), "setns " + req["netns"])
        os.close(fd)
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare")
    os.environ.clear()
    os.environ.update(req["env"])
    try:
        os.chdir(req.get("cwd") or "/")
    except OSError:
        pass
    main(req["spec"], sync)


def _pause(req):
    """In the forked child: the pod's pause process, in the pod's network namespace."""
    os.setsid()
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if req.get("netns"):
        fd = os.open(req["netns"], os.O_RDONLY)
        _check(_libc.setns(fd, CLONE_NEWNET), "setns " + req["netns"])
    _default_signals()
    os.execv(req["pause"][0], req["pause"][1:])     # [program, argv[0] (its name on ps), args...]


def _fork_container(req):
    """Fork the container's PID 1 in a new PID namespace (a pause process: in the node's) as a
    child of the zygote's parent, the runtime's process: 0 in the child, its PID (in the node's PID
    namespace) in the zygote. So the zygote holds no container: the runtime waits for them and can
    let the zygote end when no container has started for a while (an idle node keeps no second
    interpreter).

    ``clone(CLONE_PARENT | CLONE_NEWPID)`` does it in one step; an ephemeral container joining
    its target's PID namespace (``req["pidns"]``), or a machine without the syscall's number here,
    goes through :func:`_fork_through_middle` instead."""
    if SYS_CLONE is None or req.get("pidns"):
        return _fork_through_middle(req)
    # a pause process stays in the node's PID namespace, unless the pod shares one (``newpid``:
    # ``shareProcessNamespace``, where the pause process is its PID 1, as upstream's /pause)
    return _clone_parent(0 if "pause" in req and not req.get("newpid") else CLONE_NEWPID)


def _clone_parent(flags):
    """``fork()`` whose child is this process's parent's child (``CLONE_PARENT``), with the
    interpreter's own before and after hooks, as ``os.fork()`` runs them (``PyOS_BeforeFork`` and
    ``PyOS_AfterFork_Child``/``_Parent``: the C API for processes cloned by other means). The zygote
    has one thread, so nothing else holds a lock at the clone."""
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _libc.syscall(SYS_CLONE, ctypes.c_long(flags | CLONE_PARENT | SIGCHLD), ctypes.c_long(0),
                        ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise SetupError(f"clone: {os.strerror(err)}")
    return pid


def _fork_through_middle(req):
    """The same through a middle process that ends at once: it enters the PID namespace
    (``setns`` or ``unshare(CLONE_NEWPID)``: both apply to its children only), forks the container's
    process into it, writes its PID and exits. The orphan goes to the nearest child subreaper
    above, the runtime's process (``PR_SET_CHILD_SUBREAPER``, set by ``zygote.ForkServer``)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    middle = os.fork()
    if middle == 0:
        os.close(r)
        try:
            if req.get("pidns"):
                fd = os.open(req["pidns"], os.O_RDONLY | os.O_CLOEXEC)
                _check(_libc.setns(fd, CLONE_NEWPID), "setns " + req["pidns"])
                os.close(fd)
            elif "pause" not in req or req.get("newpid"):
                _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
            pid = os.fork()
        except (OSError, SetupError) as e:
            os.write(w, b"E" + str(e).encode())
            os._exit(0)
        if pid == 0:
            os.close(w)
            return 0                         # the container's PID 1 goes on in the zygote's loop
        os.write(w, str(pid).encode())
        os._exit(0)
    os.close(w)
    data = b""
    try:
        while True:
            chunk = os.read(r, 512)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
        os.waitpid(middle, 0)
    if data.startswith(b"E") or not data:
        raise SetupError(data[1:].decode(errors="replace") or "fork: the middle process ended without a PID")
    return int(data)


def _reply(sock, msg):
    try:
        sock.send(marshal.dumps(msg))
        return True
    except OSError:                          # the runtime went away
        return False


def zygote(sock_fd):
    """Serve fork requests on ``sock_fd`` until the runtime closes it (when it has started no
    container for a while, or stops). The containers it forked are not its children (see
    :func:`_fork_container`): they stay when it ends."""
    import _socket              # not socket: its enum and selectors imports cost the zygote ~1 MB for good
    sock = _socket.socket(fileno=sock_fd)
    fd_size = _socket.CMSG_SPACE(3 * 4)
    while True:
        try:
            msg, anc, _, _ = sock.recvmsg(65536, fd_size, _socket.MSG_CMSG_CLOEXEC)
        except InterruptedError:
            continue
        if not msg:
            return                           # the runtime closed the socket; the containers stay
        fds = [int.from_bytes(d[i:i + 4], sys.byteorder) for lvl, typ, d in anc
               if lvl == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS for i in range(0, len(d), 4)]
        req = marshal.loads(msg)
        try:
            pid, error = _fork_container(req), ""
        except (OSError, SetupError) as e:
            pid, error = -1, str(e)
        if pid == 0:
            try:
                sock.close()
                if "pause" in req:
                    _pause(req)
                _container_init(req, fds)
            except BaseException as e:  # noqa: BLE001 - the forked child never returns to the loop
                os.write(2, f"container init: {e}\n".encode())
            os._exit(128)
        for f in fds:
            os.close(f)
        if not _reply(sock, {"id": req["id"], "pid": pid, "error": error}):
            return


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "--zygote":
        zygote(int(args[1]))
        sys.exit(0)
    if args[0] == "--exec":
        exec_in(int(args[1]), args[2], args[4:])                 # --exec PID SPEC -- CMD...
    if args[0] == "--hostname":
        # the pod's name, also on the command line so that `ps` on the node says whose container this is
        args = args[2:]
    main(args[0], int(args[1]) if len(args) > 1 else None)
