"""The detail view's Access tab: which ``kubectl auth can-i --list`` it runs for which object."""

from kubetui.tui.access import access_commands


def test_a_service_account_is_impersonated_in_its_namespace():
    sa = {"kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "team"}}
    assert access_commands(sa) == [("ServiceAccount team/robot", [
        "auth", "can-i", "--list", "--as", "system:serviceaccount:team:robot", "-n", "team"])]


def test_each_binding_subject_gets_its_own_question():
    rb = {"kind": "RoleBinding", "metadata": {"name": "devs", "namespace": "team"}, "subjects": [
        {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "ServiceAccount", "name": "ci"},  # namespace defaults to the binding's
        {"kind": "ServiceAccount", "name": "x", "namespace": "other"}]}
    assert access_commands(rb) == [
        ("user alice", ["auth", "can-i", "--list", "--as", "alice", "-n", "team"]),
        ("a member of group devs", ["auth", "can-i", "--list", "--as", "kubetui:member-of-devs",
                                    "--as-group", "devs", "-n", "team"]),
        ("ServiceAccount team/ci", ["auth", "can-i", "--list", "--as", "system:serviceaccount:team:ci", "-n", "team"]),
        ("ServiceAccount other/x", ["auth", "can-i", "--list", "--as", "system:serviceaccount:other:x", "-n", "team"]),
    ]
    crb = {"kind": "ClusterRoleBinding", "metadata": {"name": "root"}, "subjects": [{"kind": "User", "name": "r"}]}
    assert access_commands(crb) == [("user r", ["auth", "can-i", "--list", "--as", "r", "-n", "default"])]
    assert access_commands({"kind": "Pod", "metadata": {"name": "p"}}) == []
