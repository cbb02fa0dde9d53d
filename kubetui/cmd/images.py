"""``kubetui image load NAME...|--archive FILE`` and ``kubetui image ls``: container images on the nodes.

kind's ``kind load docker-image`` / ``kind load image-archive``, and what
``crictl images`` shows on each node. The transport is
``kubetui/providers/docker/images.py``; this module parses and prints.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir
from kubetui.statedir import SETTINGS_FILE


def register_actions(isub: argparse._SubParsersAction) -> None:
    """Add ``load`` and ``ls`` to ``kubetui image`` (whose ``build``/``save`` are the node image's)."""
    ld = isub.add_parser(
        "load", help="copy images from this machine's Docker engine into every node (kind load docker-image)",
        description="Copy images into every node of the cluster: `docker save` once, then into each node's "
                    "image store at once. Pods then run them without a registry (a tag other than :latest, or "
                    "imagePullPolicy: IfNotPresent, keeps the kubelet from trying to pull).")
    ld.add_argument("images", nargs="*", metavar="NAME[:TAG]", help="images on this machine's Docker engine")
    ld.add_argument("--archive", type=Path, metavar="FILE.tar", help="a `docker save` or OCI image archive")
    ld.add_argument("--nodes", metavar="N1,N2", help="only these nodes (default: all)")
    ld.add_argument("--node-image", type=Path, metavar="FILE",
                    help="instead: load a node image saved with `kubetui image save` into this machine's engine")
    add_cluster_selector(ld)
    ld.set_defaults(func=cmd_load)
    ex = isub.add_parser("examples", help="build example images from Debian packages, no registry needed "
                                           "(imghost/busybox:1.35, imghost/nginx:1.22)",
                         description="Builds two images on this machine's Docker engine from Debian packages only: "
                                     "busybox-static FROM scratch, and nginx-light on a debootstrap root (a minute "
                                     "or two the first time, then cached). Load them with `kubetui image load`.")
    ex.set_defaults(func=cmd_examples)
    ls = isub.add_parser("ls", help="the images each node holds (NODE, IMAGE, ID, SIZE)")
    ls.add_argument("-o", "--output", choices=("table", "json"), default="table")
    add_cluster_selector(ls)
    ls.set_defaults(func=cmd_ls)


def _cluster(args: argparse.Namespace) -> tuple[str, object]:
    """The cluster's name and a Docker client, or CLIError saying why not."""
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.image import ImageError
    state = resolve_state_dir(args)
    # cluster.json read directly: importing kubetui.cluster would load the whole control plane (a second)
    try:
        settings = json.loads((state / SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        settings = {}
    name = settings.get("name") or getattr(args, "name", None) or "default"
    provider = settings.get("provider", "docker")
    if provider != "docker":
        raise CLIError(f"cluster {name!r} runs on the {provider} provider, whose nodes run kubetui's "
                       "built-in programs only: images need `kubetui up --provider docker`")
    try:
        return name, docker_client()
    except ImageError as e:
        raise CLIError(str(e)) from None


def cmd_examples(args: argparse.Namespace) -> int:
    from kubetui.cmd.docker import _progress
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.examples import build_examples
    from kubetui.providers.docker.image import ImageError
    try:
        client = docker_client()
        tags = build_examples(client, _progress())
    except ImageError as e:
        raise CLIError(str(e)) from None
    for tag in tags.values():
        print(tag)
    return 0


def human_size(n: int) -> str:
    """Docker's sizes (decimal units): ``52428800`` -> ``52.4MB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n}B"


def cmd_load(args: argparse.Namespace) -> int:
    if args.node_image:
        from kubetui.cmd.docker import load_node_image
        return load_node_image(args.node_image)
    if bool(args.images) == bool(args.archive):
        raise CLIError("give image names (from this machine's Docker engine) or --archive FILE.tar, one of the two")
    from kubetui.providers.docker.images import DockerEngine, DockerNodes, EngineError, load_archive, load_images
    name, client = _cluster(args)
    transport = DockerNodes(client, name)
    nodes = args.nodes.split(",") if args.nodes else transport.nodes()
    if not nodes:
        raise CLIError(f"cluster {name!r} has no running nodes (start it with `kubetui up --name {name}`)")
    started = time.monotonic()
    try:
        if args.archive:
            if not args.archive.is_file():
                raise CLIError(f"{args.archive}: no such file")
            result = load_archive(transport, args.archive, nodes)
        else:
            result = load_images(DockerEngine(client), transport, args.images, nodes)
    except EngineError as e:
        raise CLIError(str(e)) from None
    finally:
        client.close()
    what = ", ".join(args.images) if args.images else str(args.archive)
    for n in result.nodes:
        if n.error:
            print(f"{n.node}: FAILED: {n.error}")
        else:
            print(f"{n.node}: loaded {what} ({n.seconds:.1f}s)")
    print(f"{human_size(result.bytes)} into {len(result.nodes)} node(s) in {time.monotonic() - started:.1f}s")
    if not result.ok:
        raise CLIError("some nodes did not get the image (see above)")
    return 0


def image_rows(node: str, items: list[dict]) -> list[dict]:
    """One row per image name a node's store holds (``crictl images``: one line per tag)."""
    rows = []
    for it in items:
        names = it.get("names") or it.get("refs") or it.get("repoTags") or ["<none>"]
        image_id = str(it.get("id") or it.get("digest") or "")
        size = int(it.get("size") or it.get("sizeBytes") or it.get("size_bytes") or 0)
        for n in names:
            rows.append({"node": node, "image": n, "id": image_id, "size": size,
                         "builtin": bool(it.get("builtin"))})
    return rows


def cmd_ls(args: argparse.Namespace) -> int:
    from kubetui.providers.docker.images import DockerNodes, EngineError, node_images
    name, client = _cluster(args)
    rows = []
    try:
        transport = DockerNodes(client, name)
        nodes = transport.nodes()

        def one(node: str) -> list[dict]:
            try:
                return image_rows(node, node_images(transport, node))
            except (EngineError, ValueError) as e:
                raise CLIError(f"listing the images of {node} failed: {e}") from None
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
            for part in pool.map(one, nodes):
                rows += part
    finally:
        client.close()
    if args.output == "json":
        print(json.dumps(rows, indent=1))
        return 0
    widths = [max([len(h)] + [len(str(v)) for v in col]) for h, col in
              (("NODE", [r["node"] for r in rows]), ("IMAGE", [r["image"] for r in rows]))]
    print(f"{'NODE':<{widths[0]}}   {'IMAGE':<{widths[1]}}   {'ID':<13}   SIZE")
    for r in rows:
        short = r["id"].split(":", 1)[-1][:13]
        print(f"{r['node']:<{widths[0]}}   {r['image']:<{widths[1]}}   {short:<13}   {human_size(r['size'])}")
    return 0
