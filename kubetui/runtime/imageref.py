"""Image references as containerd names them (upstream: ``github.com/distribution/reference``'s
``ParseNormalizedNamed`` and ``FamiliarString``): ``nginx`` is ``docker.io/library/nginx:latest``.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import re

from kubetui.runtime.imagearchive import ImageStoreError

DEFAULT_REGISTRY = "docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


# -- references ---------------------------------------------------------------------------
def normalize(ref: str) -> str:
    """A reference as containerd names it (docker's normalisation).

    >>> normalize("nginx")
    'docker.io/library/nginx:latest'
    >>> normalize("kubetui/hello:1")
    'docker.io/kubetui/hello:1'
    >>> normalize("localhost:5000/app")
    'localhost:5000/app:latest'
    >>> normalize("nginx@sha256:" + "a" * 64)
    'docker.io/library/nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    """
    ref = ref.strip()
    if not ref or any(c.isspace() for c in ref):
        raise ImageStoreError(f"invalid reference format: {ref!r}")
    name, at, digest = ref.partition("@")
    if at and not _DIGEST.match(digest):
        raise ImageStoreError(f"invalid reference format: {ref!r}")
    first, slash, rest = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        domain, path = DEFAULT_REGISTRY, name
    else:
        domain, path = first, rest
    if domain in ("index.docker.io",):
        domain = DEFAULT_REGISTRY
    tag = ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not tag:
            raise ImageStoreError(f"invalid reference format: {ref!r}")
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = "library/" + path
    if path != path.lower():
        raise ImageStoreError(f"invalid reference format: repository name must be lowercase: {ref!r}")
    if not re.fullmatch(r"[a-z0-9]+(?:[._-]+[a-z0-9]+|__)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*", path) \
            or (tag and not re.fullmatch(r"[\w][\w.-]{0,127}", tag)):
        raise ImageStoreError(f"invalid reference format: {ref!r}")
    if at:
        return f"{domain}/{path}" + (f":{tag}" if tag else "") + f"@{digest}"
    return f"{domain}/{path}:{tag or 'latest'}"


def familiar(ref: str) -> str:
    """The short spelling people type: ``docker.io/library/nginx:latest`` -> ``nginx:latest``."""
    if ref.startswith("docker.io/library/"):
        return ref[len("docker.io/library/"):]
    if ref.startswith("docker.io/"):
        return ref[len("docker.io/"):]
    return ref
