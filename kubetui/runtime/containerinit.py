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


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "--exec":
        exec_in(int(args[1]), args[2], args[4:])                 # --exec PID SPEC -- CMD...
    if args[0] == "--hostname":
        # the pod's name, also on the command line so that `ps` on the node says whose container this is
        args = args[2:]
    main(args[0], int(args[1]) if len(args) > 1 else None)
