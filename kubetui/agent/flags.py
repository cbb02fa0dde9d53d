"""The node agents' command-line flags (upstream: the kubelet's and kube-proxy's ``pflag`` sets).

A small parser with ``argparse``'s interface and wording, for the subset the
agents use: long flags taking a value (``--flag value``, ``--flag=value``),
with a default, ``type``, ``choices``, ``required``, aliases (``dest``) and
``store_true`` switches; ``-h``/``--help``; on a bad flag, argparse's message
and exit status 2. No abbreviations and no positional arguments.

Why not argparse: it is the agents' only use of it, and an ``ArgumentParser``
translates its messages through ``gettext``; the module costs every node's
agents' process ~0.25 MiB for as long as it runs (issue 18: idle memory per
node). Standard library only, like every node agent.
"""

from __future__ import annotations

import sys


class Flags:
    """The parsed flags as attributes (``args.api_server``), like ``argparse.Namespace``."""

    def __init__(self, **values) -> None:
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Flags) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Flags({', '.join(f'{k}={v!r}' for k, v in sorted(vars(self).items()))})"


class _Flag:
    def __init__(self, names: tuple[str, ...], dest: str, default, type_, choices, required: bool,
                 switch: bool, help_: str) -> None:
        self.names, self.dest, self.default, self.type, self.choices = names, dest, default, type_, choices
        self.required, self.switch, self.help = required, switch, help_

    @property
    def label(self) -> str:
        return "/".join(self.names)


class FlagParser:
    """``argparse.ArgumentParser``'s ``add_argument`` and ``parse_args`` for long flags."""

    def __init__(self, prog: str, description: str = "") -> None:
        self.prog, self.description = prog, description
        self._flags: list[_Flag] = []
        self._by_name: dict[str, _Flag] = {}

    def add_argument(self, *names: str, dest: str | None = None, default=None, type=None,  # noqa: A002
                     choices=None, required: bool = False, action: str | None = None, help: str = "") -> None:  # noqa: A002
        if action not in (None, "store_true") or not all(n.startswith("--") for n in names):
            raise ValueError(f"{names}: only --long flags, taking a value or store_true")
        switch = action == "store_true"
        flag = _Flag(names, dest or names[0][2:].replace("-", "_"), False if switch else default, type,
                     tuple(choices) if choices else None, required, switch, help)
        self._flags.append(flag)
        for n in names:
            self._by_name[n] = flag

    def format_usage(self) -> str:
        parts = []
        for f in self._flags:
            one = f.names[0] if f.switch else f"{f.names[0]} {f.dest.upper()}"
            parts.append(one if f.required else f"[{one}]")
        return f"usage: {self.prog} [-h] {' '.join(parts)}\n"

    def format_help(self) -> str:
        lines = [self.format_usage().rstrip(), ""]
        if self.description:
            lines += [self.description, ""]
        lines += ["options:", "  -h, --help  show this help message and exit"]
        for f in self._flags:
            value = "" if f.switch else " " + (f"{{{','.join(map(str, f.choices))}}}" if f.choices else f.dest.upper())
            lines.append(f"  {', '.join(n + value for n in f.names)}  {f.help}".rstrip())
        return "\n".join(lines) + "\n"

    def error(self, message: str):
        sys.stderr.write(self.format_usage() + f"{self.prog}: error: {message}\n")
        raise SystemExit(2)

    def _convert(self, flag: _Flag, text: str):
        value = text
        if flag.type is not None:
            try:
                value = flag.type(text)
            except (TypeError, ValueError):
                self.error(f"argument {flag.label}: invalid {getattr(flag.type, '__name__', repr(flag.type))} "
                           f"value: {text!r}")
        if flag.choices is not None and value not in flag.choices:
            self.error(f"argument {flag.label}: invalid choice: {value!r} "
                       f"(choose from {', '.join(map(repr, flag.choices))})")
        return value

    def parse_args(self, argv: list[str] | None = None) -> Flags:
        argv = sys.argv[1:] if argv is None else list(argv)
        values = {f.dest: f.default for f in self._flags}
        seen: set[str] = set()
        unknown: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg in ("-h", "--help"):
                sys.stdout.write(self.format_help())
                raise SystemExit(0)
            name, eq, text = arg.partition("=")
            flag = self._by_name.get(name) if name.startswith("--") else None
            if flag is None:
                unknown.append(arg)
                continue
            if flag.switch:
                if eq:
                    self.error(f"argument {flag.label}: ignored explicit argument {text!r}")
                values[flag.dest] = True
            else:
                if not eq:
                    if i >= len(argv) or (argv[i].startswith("--") and argv[i] != "--"):
                        self.error(f"argument {flag.label}: expected one argument")
                    text = argv[i]
                    i += 1
                values[flag.dest] = self._convert(flag, text)
            seen.add(flag.dest)
        missing = [f.label for f in self._flags if f.required and f.dest not in seen]
        if missing:
            self.error(f"the following arguments are required: {', '.join(missing)}")
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return Flags(**values)
