"""Example container images built offline from Debian packages (no registry), cached like the node image.

Two images a learner (and the tests) can ``kubetui image load`` into a cluster:

- ``imghost/busybox``: ``FROM scratch`` with Debian's ``busybox-static``
  (one static binary, its applets as symlinks): a real BusyBox in about 2 MB.
- ``imghost/nginx``: a ``debootstrap --variant=minbase --include=nginx-light``
  root filesystem (``docker import``), with a Dockerfile on top setting what
  an image's configuration says: ``CMD``, ``EXPOSE``, ``ENV``, ``WORKDIR``
  and ``USER`` (``www-data``, listening on 8080, so the runtime has to honour
  the image's user).

Each is tagged by a hash of its recipe and built once per machine (the
debootstrap takes a minute or two; after that a build is a cache hit).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
import docker.errors

from kubetui.providers.docker.image import SUITE, ImageError, Progress, _noop, debian_mirror, image_exists

BUSYBOX_REPO = "imghost/busybox"
NGINX_REPO = "imghost/nginx"
NGINX_ROOT_REPO = "imghost/nginx-rootfs"

BUSYBOX_RECIPE = "busybox-static bookworm scratch v1"
NGINX_ROOT_RECIPE = f"debootstrap minbase {SUITE} nginx-light strip v1"

NGINX_CONF = """\
# kubetui's example nginx: runs as www-data (the image's USER), so it listens on 8080 and keeps
# its pid and temporary files in /tmp. Errors go to the container's stderr: `error_log stderr`
# writes to file descriptor 2; reopening /dev/stderr would fail for a non-root user (the pipe the
# runtime created belongs to root), which is also why the access log is off.
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    server {
        listen 8080;
        root /var/www/html;
        location / { index index.html; }
    }
}
"""

NGINX_DOCKERFILE = """\
FROM {root}
COPY nginx.conf /etc/nginx/nginx.conf
COPY index.html /var/www/html/index.html
RUN chown -R www-data:www-data /var/log/nginx /var/lib/nginx
ENV NGINX_VERSION=1.22.1 GREETING=hello
WORKDIR /var/www/html
EXPOSE 8080
USER www-data
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
"""

INDEX_HTML = "<h1>hello from nginx-light, an image built from Debian packages</h1>\n"

BUSYBOX_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
CMD ["sh"]
"""


def _tag(repo: str, version: str, *parts: str) -> str:
    h = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]
    return f"{repo}:{version}-{h}"


def busybox_tag() -> str:
    return _tag(BUSYBOX_REPO, "1.35", BUSYBOX_RECIPE, BUSYBOX_DOCKERFILE)


def nginx_root_tag() -> str:
    return _tag(NGINX_ROOT_REPO, SUITE, NGINX_ROOT_RECIPE)


def nginx_tag() -> str:
    return _tag(NGINX_REPO, "1.22", NGINX_ROOT_RECIPE, NGINX_DOCKERFILE, NGINX_CONF, INDEX_HTML)


def _build(client: docker.DockerClient, tag: str, files: dict[str, bytes | Path]) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            if isinstance(data, Path):
                tar.add(str(data), arcname=name)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    try:
        client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True,
                            labels={"io.kubetui.image": "example"})
    except docker.errors.BuildError as e:
        raise ImageError(f"building {tag} failed: {e}") from e


def build_busybox(client: docker.DockerClient, progress: Progress = _noop) -> str:
    """``imghost/busybox``: Debian's busybox-static, FROM scratch. Seconds, once."""
    tag = busybox_tag()
    if image_exists(client, tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="kubetui-imghost-busybox-") as tmp:
        pkg = _busybox_static(Path(tmp), progress)
        root = Path(tmp) / "rootfs"
        (root / "bin").mkdir(parents=True)
        shutil.copy2(pkg / "bin" / "busybox", root / "bin" / "busybox")
        applets = subprocess.run([str(root / "bin" / "busybox"), "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        for a in applets:
            if a != "busybox":
                (root / "bin" / a).symlink_to("busybox")
        for d in ("tmp", "etc", "root"):
            (root / d).mkdir()
        (root / "tmp").chmod(0o1777)
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        (root / "etc" / "os-release").write_text('PRETTY_NAME="BusyBox 1.35.0 (Debian busybox-static, FROM scratch)"\n'
                                                 "ID=busybox\n")
        progress("busybox", f"docker build {tag} (FROM scratch)")
        _build(client, tag, {"Dockerfile": BUSYBOX_DOCKERFILE.encode(), "rootfs": root})
    return tag


def _busybox_static(tmp: Path, progress: Progress) -> Path:
    """A folder holding Debian's busybox-static package's files: ``apt-get download`` (seconds) where
    apt's package lists are there, else a debootstrap that includes it (a minute, from the mirror)."""
    progress("busybox", "fetching Debian's busybox-static package (apt-get download)")
    r = subprocess.run(["apt-get", "download", "busybox-static"], cwd=tmp, capture_output=True, text=True)
    debs = list(tmp.glob("busybox-static_*.deb"))
    if r.returncode == 0 and debs:
        pkg = tmp / "pkg"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(pkg)], check=True)
        return pkg
    if not shutil.which("debootstrap"):
        raise ImageError(f"apt-get download busybox-static failed ({(r.stderr or r.stdout).strip()[-200:]}) and "
                         "there is no debootstrap to fetch it with")
    mirror = debian_mirror()
    progress("debootstrap", f"no apt package lists here: a minimal {SUITE} with busybox-static from {mirror}")
    root = tmp / "debootstrap"
    r = subprocess.run(["debootstrap", "--variant=minbase", "--include=busybox-static", SUITE, str(root), mirror],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise ImageError(f"debootstrap failed (is {mirror} reachable?): {(r.stdout + r.stderr).strip()[-300:]}")
    return root


def build_nginx(client: docker.DockerClient, progress: Progress = _noop) -> str:
    """``imghost/nginx``: a debootstrap root with nginx-light, ``docker import``, then its configuration."""
    tag = nginx_tag()
    if image_exists(client, tag):
        return tag
    root_tag = nginx_root_tag()
    if not image_exists(client, root_tag):
        if not shutil.which("debootstrap"):
            raise ImageError("building the example nginx image needs debootstrap: `apt-get install debootstrap`")
        mirror = debian_mirror()
        with tempfile.TemporaryDirectory(prefix="kubetui-imghost-nginx-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            progress("debootstrap", f"a minimal Debian {SUITE} with nginx-light from {mirror} (a minute or two, once)")
            r = subprocess.run(["debootstrap", "--variant=minbase", "--include=nginx-light", SUITE, str(rootfs),
                                mirror], capture_output=True, text=True)
            if r.returncode != 0:
                tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
                raise ImageError(f"debootstrap failed (is {mirror} reachable?): {' | '.join(tail)}")
            for sub in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                        "usr/share/info", "usr/share/locale"):
                d = rootfs / sub
                if d.is_dir():
                    for child in d.iterdir():
                        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
            progress("import", f"docker import of the root filesystem as {root_tag}")
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            imp = subprocess.run(["docker", "import", "-", root_tag], stdin=tar.stdout, capture_output=True, text=True)
            tar.wait()
            if imp.returncode != 0:
                raise ImageError(f"docker import failed: {imp.stderr.strip()}")
    progress("nginx", f"docker build {tag} (CMD, EXPOSE, ENV, WORKDIR, USER on the imported root)")
    _build(client, tag, {"Dockerfile": NGINX_DOCKERFILE.format(root=root_tag).encode(),
                         "nginx.conf": NGINX_CONF.encode(), "index.html": INDEX_HTML.encode()})
    return tag


#: the names lessons use: each example image is also tagged without its recipe hash
STABLE = {"busybox": f"{BUSYBOX_REPO}:1.35", "nginx": f"{NGINX_REPO}:1.22"}


def build_examples(client: docker.DockerClient, progress: Progress = _noop) -> dict[str, str]:
    """Both example images, built if missing and tagged with their stable names; name -> stable tag."""
    out = {}
    for name, build in (("busybox", build_busybox), ("nginx", build_nginx)):
        tag = build(client, progress)
        repo, version = STABLE[name].split(":")
        client.images.get(tag).tag(repo, version)
        out[name] = STABLE[name]
    return out


def build_bench_image(client: docker.DockerClient, megabytes: int = 50) -> str:
    """``imghost/bench``: FROM scratch with one incompressible file of ``megabytes`` MB (the load benchmark)."""
    tag = f"imghost/bench:{megabytes}mb"
    if image_exists(client, tag):
        return tag
    import random
    rnd = random.Random(megabytes)                 # the same bytes every time: a reproducible image
    blob = rnd.randbytes(megabytes * 1_000_000)
    _build(client, tag, {"Dockerfile": b"FROM scratch\nCOPY blob /blob\nCMD [\"/blob\"]\n", "blob": blob})
    return tag
