"""kubetui's subcommands (kubectl's ``pkg/cmd``): one module per command group.

Each module exposes ``register(subparsers)``; ``kubetui.cli`` lists them in
``COMMAND_MODULES``. They sit above every other package (they wire clusters,
lessons, faults and the TUI together), so nothing but ``kubetui.cli`` imports
them; what they share with the rest lives in ``kubetui.cmdutil``.
"""
