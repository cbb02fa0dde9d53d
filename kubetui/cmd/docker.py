"""``kubetui image build|save``: the node image (kind's ``build node-image``); ``load``/``ls`` are ``cmd/images.py``."""

from __future__ import annotations

import argparse
from pathlib import Path

from kubetui.cmdutil import CLIError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="the node image (build, save) and container images on the nodes (load, ls)",
                       description="build/save: the node image, a minimal Debian with python3 and kubetui's node "
                                   "agent, built offline with debootstrap when no registry is reachable; tagged by "
                                   "a hash of its inputs, built once and reused. load/ls: container images in the "
                                   "nodes' image stores (kind load docker-image).")
    isub = p.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    b = isub.add_parser("build", help="build the node image if missing (about a minute the first time)")
    b.add_argument("--force", action="store_true", help="rebuild the agent layer even if present")
    b.set_defaults(func=_build)
    s = isub.add_parser("save", help="write the node image to a file to hand to a class "
                                     "(load it with `kubetui image load --node-image FILE`)")
    s.add_argument("file", type=Path)
    s.set_defaults(func=_save)
    from kubetui.cmd.images import register_actions
    register_actions(isub)


def _progress():
    from rich.console import Console
    console = Console(stderr=True)
    return lambda phase, detail: console.print(f"[bold cyan]{phase:>12}[/] {detail}")


def _build(args: argparse.Namespace) -> int:
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.image import ImageError, build_node_image
    try:
        tag = build_node_image(docker_client(), _progress(), force=args.force)
    except ImageError as e:
        raise CLIError(str(e)) from None
    print(tag)
    return 0


def _save(args: argparse.Namespace) -> int:
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.image import ImageError, save_image
    try:
        tag = save_image(args.file, docker_client())
    except ImageError as e:
        raise CLIError(str(e)) from None
    print(f"saved {tag} to {args.file}")
    return 0


def load_node_image(file: Path) -> int:
    """``kubetui image load --node-image FILE``: a node image from ``kubetui image save``, into this engine."""
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.image import ImageError, load_image
    if not file.exists():
        raise CLIError(f"{file}: no such file")
    try:
        tags = load_image(file, docker_client())
    except ImageError as e:
        raise CLIError(str(e)) from None
    print("loaded " + ", ".join(tags))
    return 0
