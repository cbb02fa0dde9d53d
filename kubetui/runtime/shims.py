"""Tiny stand-ins for tools tutorials expect inside a busybox container.

Real busybox ships ``wget``, ``hostname`` and friends. A kubetui container
runs the node's own tools (``sh``, ``sleep``, ``cat`` come from the node's
coreutils); when the node lacks ``wget`` this directory, placed last on
``PATH``, provides a minimal one in Python. The process runtime (no UTS
namespace) also puts first a ``hostname`` that prints ``$HOSTNAME`` (the pod
name), which is what ``hostname`` answers in a real pod.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

WGET = r'''
"""wget shim (kubetui): wget [-q] [-O FILE|-] [-T SECONDS] [--spider] URL"""
import sys, urllib.request, urllib.error
args, out, timeout, spider, quiet, url = sys.argv[1:], None, 10.0, False, False, None
i = 0
while i < len(args):
    a = args[i]
    if a.startswith("--"):
        key, _, val = a[2:].partition("=")
        if key == "spider": spider = True
        elif key == "quiet": quiet = True
        elif key in ("timeout", "output-document"):
            if not val:
                i += 1; val = args[i]
            if key == "timeout": timeout = float(val)
            else: out = val
    elif a.startswith("-") and len(a) > 1:
        j = 1
        while j < len(a):
            ch = a[j]
            if ch == "q": quiet = True
            elif ch in "OT":
                val = a[j + 1:]
                if not val:
                    i += 1; val = args[i]
                if ch == "O": out = val
                else: timeout = float(val)
                break
            j += 1
    else:
        url = a
    i += 1
if not url:
    print("wget: missing URL", file=sys.stderr); sys.exit(1)
if "://" not in url:
    url = "http://" + url
try:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body = r.read()
except urllib.error.HTTPError as e:
    print(f"wget: server returned error: HTTP/1.1 {e.code} {e.reason}", file=sys.stderr); sys.exit(8)
except Exception as e:
    print(f"wget: can't connect to remote host: {getattr(e, 'reason', e)}", file=sys.stderr); sys.exit(1)
if spider:
    sys.exit(0)
if out in (None, ""):
    out = url.rstrip("/").rsplit("/", 1)[-1] or "index.html"
    if "://" in out or not out: out = "index.html"
if out == "-":
    sys.stdout.buffer.write(body)
else:
    with open(out, "wb") as f:
        f.write(body)
    if not quiet:
        print(f"saving to '{out}'", file=sys.stderr)
'''

HOSTNAME = r'''
"""hostname shim (kubetui process runtime): the pod's name, as its UTS namespace would say."""
import os, sys
print(os.environ.get("HOSTNAME", "localhost"))
'''


def _write(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n{body.lstrip()}")
    os.chmod(path, 0o755)


def install(bin_dir: Path, *, with_hostname: bool) -> None:
    """Write the shims into ``bin_dir`` (``wget`` only if the node has none)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    if shutil.which("wget") is None:
        _write(bin_dir / "wget", WGET)
    if with_hostname:
        _write(bin_dir / "hostname", HOSTNAME)
