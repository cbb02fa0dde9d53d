"""``kubetui web``: the same TUI, served to a browser on localhost with textual-serve.

Each browser tab runs ``python -m kubetui --kubeconfig FILE`` as its own
process behind a websocket (textual-serve); the page renders it with
xterm.js. Everything the page needs ships in the textual-serve package: the
page template used here is textual-serve's own minus its Google Fonts link
(the bundled Roboto Mono is used instead), so no CDN is contacted, plus a
script that puts the keyboard on the terminal as soon as it exists: keys work
on load, without a click first.
"""

from __future__ import annotations

import argparse
import logging
import re
import shlex
import sys
import tempfile
from pathlib import Path

from kubetui.cmdutil import CLIError, resolve_state_dir
from kubetui.statedir import KUBECONFIG_FILE, running_pid

log = logging.getLogger(__name__)

DEFAULT_PORT = 8000
_FONTS_LINK = re.compile(r'\s*<link\s+rel="stylesheet"\s+href="https://fonts\.googleapis\.com[^>]*/>', re.S)
_LOCAL_FONT = """
    <style>
      @font-face { font-family: "Roboto Mono"; src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf"); }
    </style>"""


#: xterm.js reads keys from a hidden textarea; focus it once the app draws (and after the page regains focus).
_FOCUS_TERMINAL = """
    <script>
      (function () {
        function focusTerminal() {
          const input = document.querySelector("#terminal textarea.xterm-helper-textarea");
          if (input && document.activeElement !== input) { input.focus({preventScroll: true}); }
          return Boolean(input);
        }
        let tries = 0;
        const timer = setInterval(function () {
          if ((focusTerminal() && document.body.classList.contains("-first-byte")) || ++tries > 300) {
            clearInterval(timer);
          }
        }, 50);
        window.addEventListener("focus", focusTerminal);
      })();
    </script>
  </body>"""


def offline_templates(dest: Path | None = None) -> Path:
    """A templates directory with textual-serve's page, minus any request off this machine."""
    import textual_serve

    src = Path(textual_serve.__file__).parent / "templates" / "app_index.html"
    html = src.read_text()
    html, n = _FONTS_LINK.subn(_LOCAL_FONT, html, count=1)
    if n == 0 and "fonts.googleapis.com" in html:
        raise RuntimeError("textual-serve's template changed: cannot remove its Google Fonts link")
    html, n = re.subn(r"\s*</body>", _FOCUS_TERMINAL.replace("\\", "\\\\"), html, count=1)
    if n == 0:
        raise RuntimeError("textual-serve's template changed: no </body> to add the focus script before")
    dest = dest or Path(tempfile.mkdtemp(prefix="kubetui-web-"))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "app_index.html").write_text(html)
    return dest


def app_command(kubeconfig: Path) -> str:
    """The command textual-serve runs for each browser session."""
    return shlex.join([sys.executable, "-m", "kubetui", "--kubeconfig", str(kubeconfig)])


def serve(kubeconfig: Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve the TUI until interrupted."""
    import textual_serve
    from textual_serve.server import Server

    statics = Path(textual_serve.__file__).parent / "static"
    server = Server(app_command(kubeconfig), host=host, port=port, title="kubetui",
                    statics_path=statics, templates_path=offline_templates())
    log.info("kubetui web on http://%s:%s", host, port)
    server.serve()


def cmd_web(args: argparse.Namespace) -> int:

    if getattr(args, "kubeconfig", None):
        kubeconfig = Path(args.kubeconfig)
    else:
        state_dir = resolve_state_dir(args)
        if running_pid(state_dir) is None:
            raise CLIError(f"no cluster is running at {state_dir}: start one with `kubetui up` "
                           "(or pass --kubeconfig FILE)")
        kubeconfig = state_dir / KUBECONFIG_FILE
    if not kubeconfig.exists():
        raise CLIError(f"kubeconfig not found: {kubeconfig}")
    print(f"kubetui web: http://127.0.0.1:{args.port}  (Ctrl+C stops)", flush=True)
    serve(kubeconfig, port=args.port)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("web", help="serve the TUI to a browser on localhost",
                              description="Serve the kubetui TUI to a browser on 127.0.0.1 (textual-serve). "
                                          "Attaches to a running cluster (`kubetui up`), found by --name or --state-dir.")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (default: %(default)s)")
    p.add_argument("--kubeconfig", metavar="FILE", default=argparse.SUPPRESS,
                   help="the cluster's kubeconfig (default: the running cluster's state dir)")
    p.add_argument("--name", default=argparse.SUPPRESS, help="cluster name (default: default)")
    p.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS, help="the cluster's state dir")
    p.set_defaults(func=cmd_web)


if __name__ == "__main__":  # python -m kubetui.tui.web KUBECONFIG [PORT]
    logging.basicConfig(level=logging.INFO)
    serve(Path(sys.argv[1]), port=int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_PORT)
