"""What process a container of an image runs (upstream: containerd's CRI ``containerSpecOpts`` + runc's user lookup).

An image's config says what to run by default (``Entrypoint``, ``Cmd``,
``Env``, ``WorkingDir``, ``User``); the pod's container spec overrides it,
exactly as Kubernetes documents ("Define a command and arguments for a
container", notes):

===========  ========  ==========================  ================================
command      args      runs                        e.g. Entrypoint [a], Cmd [b]
===========  ========  ==========================  ================================
unset        unset     Entrypoint + Cmd            a b
unset        set       Entrypoint + args           a ARGS
set          unset     command                     COMMAND
set          set       command + args              COMMAND ARGS
===========  ========  ==========================  ================================

The environment is the image's ``Env`` with the pod's on top; the working
directory is the container's ``workingDir``, else the image's, else ``/``;
the user is ``securityContext.runAsUser``/``runAsGroup`` if set, else the
image's ``User`` (``1000``, ``1000:50``, ``nginx``, ``nginx:www``; names are
looked up in the image's own ``/etc/passwd`` and ``/etc/group``, as runc
does), with the supplementary groups ``/etc/group`` gives that user.

Pure: :func:`container_process` takes the image config, the container's
settings and the image's passwd/group text and returns a
:class:`ProcessSpec` or raises :class:`ConfigError` (the reason and message the
kubelet reports). Standard library only: this runs inside the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the PATH containerd gives a container whose image and pod set none (oci.defaultUnixEnv)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ConfigError(Exception):
    """The container cannot be created from this image and spec; ``reason`` is the kubelet's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass
class ProcessSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    uid: int = 0
    gid: int = 0
    groups: list[int] = field(default_factory=list)    # supplementary groups


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


def parse_passwd(text: str | None) -> list[PasswdEntry]:
    out = []
    for line in (text or "").splitlines():
        f = line.split(":")
        if len(f) < 7 or line.startswith("#"):
            continue
        try:
            out.append(PasswdEntry(f[0], int(f[2]), int(f[3]), f[5]))
        except ValueError:
            continue
    return out


def parse_group(text: str | None) -> list[tuple[str, int, list[str]]]:
    """(name, gid, members) per line of an /etc/group."""
    out = []
    for line in (text or "").splitlines():
        f = line.split(":")
        if len(f) < 4 or line.startswith("#"):
            continue
        try:
            out.append((f[0], int(f[2]), [m for m in f[3].split(",") if m]))
        except ValueError:
            continue
    return out


def command_line(entrypoint: list[str] | None, cmd: list[str] | None,
                 command: list[str] | None, args: list[str] | None) -> list[str]:
    """The four combinations of the table above (an empty list counts as unset, as in Kubernetes)."""
    if command:
        return list(command) + list(args or [])
    if args:
        return list(entrypoint or []) + list(args)
    return list(entrypoint or []) + list(cmd or [])


def env_list_to_dict(env: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or []:
        k, _, v = item.partition("=")
        if k:
            out[k] = v
    return out


def resolve_user(user: str, passwd: str | None, group: str | None,
                 run_as_user: int | None = None, run_as_group: int | None = None) -> tuple[int, int, list[int], str]:
    """(uid, gid, supplementary gids, home) for an image's ``User`` and the pod's overrides.

    >>> resolve_user("1000", None, None)
    (1000, 0, [], '/')
    >>> resolve_user("nginx", "root:x:0:0::/root:/bin/sh\\nnginx:x:101:102::/var/www:/bin/false", None)
    (101, 102, [], '/var/www')
    """
    users = parse_passwd(passwd)
    groups = parse_group(group)
    entry: PasswdEntry | None = None
    if run_as_user is not None:
        # runAsUser replaces the image's whole User (its group part too); the gid is that uid's
        # passwd entry's, else 0, as containerd's WithUserID does
        uid = run_as_user
        entry = next((u for u in users if u.uid == uid), None)
        gid = entry.gid if entry else 0
    else:
        name, _, grp = (user or "").partition(":")
        if name == "" or name.isdigit():
            uid = int(name or 0)
            entry = next((u for u in users if u.uid == uid), None)
        else:
            entry = next((u for u in users if u.name == name), None)
            if entry is None:
                raise ConfigError("CreateContainerError",
                                  f"unable to find user {name}: no matching entries in passwd file")
            uid = entry.uid
        gid = entry.gid if entry else 0
        if grp:
            if grp.isdigit():
                gid = int(grp)
            else:
                g = next((g for g in groups if g[0] == grp), None)
                if g is None:
                    raise ConfigError("CreateContainerError",
                                      f"unable to find group {grp}: no matching entries in group file")
                gid = g[1]
    if run_as_group is not None:
        gid = run_as_group
    extra = sorted({g for (_, g, members) in groups if entry and entry.name in members} - {gid})
    return uid, gid, extra, entry.home if entry and entry.home else "/"


def container_process(image_config: dict, *, command: list[str] | None, args: list[str] | None,
                      env: dict[str, str], working_dir: str = "", run_as_user: int | None = None,
                      run_as_group: int | None = None, run_as_non_root: bool = False,
                      passwd: str | None = None, group: str | None = None) -> ProcessSpec:
    """The container's process from the image config (an OCI config's ``config`` object) and its spec.

    ``env`` is everything the kubelet and runtime set (the pod's env, Service variables,
    HOSTNAME, ...): it wins over the image's ``Env``.
    """
    ic = image_config or {}
    argv = command_line(ic.get("Entrypoint"), ic.get("Cmd"), command, args)
    if not argv:
        raise ConfigError("CreateContainerError",
                          "failed to generate container spec: no command specified")
    merged = env_list_to_dict(ic.get("Env"))
    merged.update(env)
    merged.setdefault("PATH", DEFAULT_PATH)
    user = ic.get("User") or ""
    if run_as_non_root and run_as_user is None:
        name = user.partition(":")[0]
        if name and not name.isdigit():
            raise ConfigError("CreateContainerConfigError",
                              f"container has runAsNonRoot and image has non-numeric user ({name}), "
                              f"cannot verify user is non-root")
    uid, gid, groups, home = resolve_user(user, passwd, group, run_as_user, run_as_group)
    if run_as_non_root and uid == 0:
        raise ConfigError("CreateContainerConfigError", "container has runAsNonRoot and image will run as root")
    merged.setdefault("HOME", home)                 # runc: HOME from the user's passwd entry
    cwd = working_dir or ic.get("WorkingDir") or "/"
    return ProcessSpec(argv=argv, env=merged, cwd=cwd, uid=uid, gid=gid, groups=groups)
