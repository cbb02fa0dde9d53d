"""An image's config against the container spec: command/args, env, working dir, user."""

from __future__ import annotations

import pytest

from kubetui.runtime.imageconfig import DEFAULT_PATH, ConfigError, container_process, resolve_user

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nginx:x:101:102:nginx user:/var/cache/nginx:/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
"""
GROUP = """root:x:0:
daemon:x:1:
nginx:x:102:
app:x:1000:
www:x:33:nginx,app
audio:x:29:app
"""

IMAGE = {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"],
         "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "NGINX_VERSION=1.27", "MODE=image"],
         "WorkingDir": "/srv", "User": ""}


# Kubernetes' four combinations (define-command-argument-container, notes), and "empty is unset"
@pytest.mark.parametrize("command,args,argv", [
    (None, None, ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]),
    (None, ["nginx", "-T"], ["/docker-entrypoint.sh", "nginx", "-T"]),
    (["sh", "-c", "sleep 1"], None, ["sh", "-c", "sleep 1"]),
    (["printf"], ["%s", "x"], ["printf", "%s", "x"]),
    ([], [], ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]),
])
def test_command_and_args_against_entrypoint_and_cmd(command, args, argv):
    assert container_process(IMAGE, command=command, args=args, env={}).argv == argv


@pytest.mark.parametrize("config,command,args,argv", [
    ({"Cmd": ["sh"]}, None, ["-c", "true"], ["-c", "true"]),     # busybox: no Entrypoint, args alone
    ({"Entrypoint": ["/bin/app"]}, None, None, ["/bin/app"]),       # Entrypoint without Cmd
    ({"Cmd": ["sh"]}, ["echo"], None, ["echo"]),
])
def test_images_with_only_one_of_entrypoint_and_cmd(config, command, args, argv):
    assert container_process(config, command=command, args=args, env={}).argv == argv


def test_no_command_at_all():
    with pytest.raises(ConfigError, match="no command specified") as e:
        container_process({"Env": ["A=1"]}, command=None, args=None, env={})
    assert e.value.reason == "CreateContainerError"


def test_env_image_under_pod_and_defaults():
    p = container_process(IMAGE, command=None, args=None, env={"MODE": "pod", "HOSTNAME": "web"})
    assert p.env["MODE"] == "pod" and p.env["NGINX_VERSION"] == "1.27" and p.env["HOSTNAME"] == "web"
    assert p.env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert p.env["HOME"] == "/"                      # root, no passwd given
    bare = container_process({"Cmd": ["x"]}, command=None, args=None, env={}, passwd=PASSWD)
    assert bare.env["PATH"] == DEFAULT_PATH and bare.env["HOME"] == "/root"
    assert container_process({"Cmd": ["x"]}, command=None, args=None,
                             env={"PATH": "/opt/bin"}).env["PATH"] == "/opt/bin"


@pytest.mark.parametrize("spec_dir,image_dir,cwd", [("", "/srv", "/srv"), ("/work", "/srv", "/work"), ("", "", "/")])
def test_working_dir(spec_dir, image_dir, cwd):
    assert container_process({"Cmd": ["x"], "WorkingDir": image_dir}, command=None, args=None, env={},
                             working_dir=spec_dir).cwd == cwd


@pytest.mark.parametrize("user,run_as_user,run_as_group,want", [
    ("", None, None, (0, 0, [], "/root")),
    ("1000", None, None, (1000, 1000, [29, 33], "/home/app")),
    ("4242", None, None, (4242, 0, [], "/")),                   # numeric, not in passwd
    ("4242:77", None, None, (4242, 77, [], "/")),
    ("nginx", None, None, (101, 102, [33], "/var/cache/nginx")),
    ("nginx:www", None, None, (101, 33, [], "/var/cache/nginx")),
    ("nginx:5", None, None, (101, 5, [33], "/var/cache/nginx")),
    ("nginx", 1000, None, (1000, 1000, [29, 33], "/home/app")),  # runAsUser replaces the image's User
    ("nginx:www", 4242, None, (4242, 0, [], "/")),
    ("nginx", None, 3000, (101, 3000, [33], "/var/cache/nginx")),
    ("", 0, 0, (0, 0, [], "/root")),
])
def test_user_lookup(user, run_as_user, run_as_group, want):
    assert resolve_user(user, PASSWD, GROUP, run_as_user, run_as_group) == want


@pytest.mark.parametrize("user,message", [
    ("nobody", "unable to find user nobody: no matching entries in passwd file"),
    ("nginx:staff", "unable to find group staff: no matching entries in group file"),
])
def test_unknown_user_or_group(user, message):
    with pytest.raises(ConfigError, match=message):
        container_process({"Cmd": ["x"], "User": user}, command=None, args=None, env={},
                          passwd=PASSWD, group=GROUP)


def test_process_gets_the_users_ids_and_home():
    p = container_process({"Cmd": ["x"], "User": "app"}, command=None, args=None, env={},
                          passwd=PASSWD, group=GROUP)
    assert (p.uid, p.gid, p.groups, p.env["HOME"]) == (1000, 1000, [29, 33], "/home/app")


@pytest.mark.parametrize("user,run_as_user,message", [
    ("", None, "image will run as root"),
    ("0", None, "image will run as root"),
    ("nginx", None, "image has non-numeric user \\(nginx\\), cannot verify user is non-root"),
    ("1000", 0, "image will run as root"),
])
def test_run_as_non_root(user, run_as_user, message):
    with pytest.raises(ConfigError, match=message) as e:
        container_process({"Cmd": ["x"], "User": user}, command=None, args=None, env={}, passwd=PASSWD,
                          run_as_user=run_as_user, run_as_non_root=True)
    assert e.value.reason == "CreateContainerConfigError"


def test_run_as_non_root_allows_a_numeric_non_root_user():
    p = container_process({"Cmd": ["x"], "User": "nginx"}, command=None, args=None, env={}, passwd=PASSWD,
                          run_as_user=101, run_as_non_root=True)
    assert p.uid == 101
