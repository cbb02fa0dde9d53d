"""``kubetui image build|save|load``: the node image (kind's ``build node-image`` / ``load``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kubetui.cmdutil import CLIError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="build, save or load the node image",
                       description="The node image: a minimal Debian with python3 and kubetui's node agent. "
                                   "Built offline with debootstrap when no registry is reachable; tagged by a "
                                   "hash of its inputs, built once and reused.")
    isub = p.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    b = isub.add_parser("build", help="build the node image if missing (about a minute the first time)")
    b.add_argument("--force", action="store_true", help="rebuild the agent layer even if present")
    b.set_defaults(func=_build)
    s = isub.add_parser("save", help="write the node image to a file to hand to a class")
    s.add_argument("file", type=Path)
    s.set_defaults(func=_save)
    ld = isub.add_parser("load", help="load a node image saved with `kubetui image save`")
    ld.add_argument("file", type=Path)
    ld.set_defaults(func=_load)


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


def _load(args: argparse.Namespace) -> int:
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.image import ImageError, load_image
    if not args.file.exists():
        raise CLIError(f"{args.file}: no such file")
    try:
        tags = load_image(args.file, docker_client())
    except ImageError as e:
        raise CLIError(str(e)) from None
    print("loaded " + ", ".join(tags))
    return 0
