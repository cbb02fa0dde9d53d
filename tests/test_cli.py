"""The CLI contract: every command has --help and fails with one clear line."""

import subprocess
import sys

import pytest

from kubetui.cli import build_parser, main
from kubetui.cmdutil import default_state_dir, resolve_state_dir

COMMANDS = [[], ["up"], ["down"], ["bench"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "kubetui")
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: kubetui" in out


def test_up_help_describes_contract(capsys):
    with pytest.raises(SystemExit):
        main(["up", "--help"])
    out = capsys.readouterr().out
    for opt in ("--name", "--nodes", "--provider", "--state-dir", "--api-port", "--headless",
                "docker", "local", "simulated", "ready <kubeconfig path>"):
        assert opt in out


def test_kubectl_help_is_kubetuis(capsys):
    assert main(["kubectl", "--help"]) == 0
    assert "kubetui kubectl -- --help" in capsys.readouterr().out


def test_kubectl_without_cluster_is_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kubetui", "--state-dir", str(tmp_path / "none"),
                        "kubectl", "get", "pods"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0
    assert "no cluster at" in r.stderr and "kubetui up" in r.stderr


def test_default_state_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_state_dir("lab") == tmp_path / "kubetui" / "lab"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert str(default_state_dir("default")).endswith(".local/share/kubetui/default")


def test_bad_option_exits_nonzero():
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["up", "--provider", "vmware"])
    assert e.value.code == 2


def test_state_dir_from_the_environment(monkeypatch, tmp_path):
    """Lesson shell checks run `kubetui …` with $KUBETUI_STATE_DIR set: it picks the cluster."""
    monkeypatch.setenv("KUBETUI_STATE_DIR", str(tmp_path / "lab"))
    assert resolve_state_dir(build_parser().parse_args(["store", "dump"])) == tmp_path / "lab"
    assert resolve_state_dir(build_parser().parse_args(
        ["--state-dir", str(tmp_path / "x"), "store", "dump"])) == tmp_path / "x"
