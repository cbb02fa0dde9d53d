"""BusyBox's applets for the built-in ``busybox`` image (upstream: the ``busybox`` image's ``/bin``).

The real ``busybox`` image is one static binary and a link per applet
(``/bin/sh``, ``/bin/wget``, ``/bin/nslookup``, ...): its ``sh`` is BusyBox
ash (``[[ ]]``, ``$((6*7))``), its ``wget`` knows ``--post-data``.
On Docker nodes the ``busybox`` image is a real image with its own root
filesystem (``imagebuild`` makes its layer from this module's pieces: the
applet list, :data:`WGET_TIMEOUT`). Where a node has no image store (the
local provider, or a node image without built-in images), a busybox
container sees the node's (or host's) files, and this module gives it the
part learners notice: a directory of applet links to the node's BusyBox
binary, which the runtime puts **first on PATH for containers of the
busybox image only**. Other images, and the node itself, keep Debian's
``dash`` and tools (BusyBox's ``ip`` applet has no ``netns``, for one).

One exception: Debian 12's BusyBox is built without ``FEATURE_WGET_TIMEOUT``,
and its ``wget -T 3`` (which lessons and tutorials use) crashes with a
segmentation fault (measured; Debian fixed it in ``1:1.36.1-5``). When
``wget --help`` lists no ``-T``, the ``wget`` link is a few lines of BusyBox
sh (found first on PATH: Debian's dynamic build, unlike ``busybox-static``,
does not run its applets before searching PATH) that turn ``-T N`` / ``--timeout=N`` into ``timeout N`` around BusyBox's
own ``wget`` (:data:`WGET_TIMEOUT`).

Where the node has no BusyBox (the local provider on a host without it),
:func:`install` returns ``None`` and busybox containers run the node's own
tools, as before, with the runtime's small ``wget`` shim.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

#: where Debian's busybox-static (and busybox) put the binary
CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


#: ``wget`` for a BusyBox without -T support: -T N becomes BusyBox's ``timeout N`` (see above)
WGET_TIMEOUT = r"""#!{bb} sh
# kubetui: this BusyBox's wget has no -T (and crashes on it): -T N runs it under `timeout N`.
t=
n=$#
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n-1))
  case $a in
    -T|--timeout) t=$1; shift; n=$((n-1)); continue ;;
    -T*) t=${{a#-T}}; continue ;;
    --timeout=*) t=${{a#--timeout=}}; continue ;;
  esac
  set -- "$@" "$a"
done
[ -n "$t" ] && exec {bb} timeout "$t" {bb} wget "$@"
exec {bb} wget "$@"
"""


def find() -> str | None:
    """The node's BusyBox binary, or ``None``."""
    for p in CANDIDATES:
        if os.access(p, os.X_OK):
            return p
    return shutil.which("busybox")


def applets(binary: str) -> list[str]:
    """The applets this BusyBox was built with (``busybox --list``)."""
    r = subprocess.run([binary, "--list"], capture_output=True, text=True, timeout=10)
    return [a for a in r.stdout.split() if a and "/" not in a] if r.returncode == 0 else []


def _wget_has_timeout(binary: str) -> bool:
    r = subprocess.run([binary, "wget", "--help"], capture_output=True, text=True, timeout=10)
    return "-T SEC" in r.stdout + r.stderr


def install(bin_dir: Path, binary: str | None = None) -> Path | None:
    """Link every applet of the node's BusyBox into ``bin_dir``; ``None`` if there is no BusyBox.

    BusyBox picks the applet by the name it is run as (``argv[0]``), so a
    symlink per applet is the whole "installation", as ``busybox --install -s`` does.
    """
    binary = binary or find()
    if not binary:
        return None
    names = applets(binary)
    if "sh" not in names:
        log.warning("%s has no sh applet: busybox containers use the node's tools", binary)
        return None
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        link = bin_dir / name
        if link.is_symlink() and os.readlink(link) == binary:
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(binary)
    if "wget" in names and "timeout" in names and not _wget_has_timeout(binary):
        (bin_dir / "wget").unlink()
        (bin_dir / "wget").write_text(WGET_TIMEOUT.format(bb=binary))
        (bin_dir / "wget").chmod(0o755)
    log.info("busybox image: %d applets of %s in %s", len(names), binary, bin_dir)
    return bin_dir
