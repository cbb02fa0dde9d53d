"""A kubeconfig user's ``as``/``as-groups`` (client-go's impersonation) become Impersonate-* headers."""

from __future__ import annotations

import yaml

from kubetui.client.http import HTTPClient
from kubetui.client.kubeconfig import load_kubeconfig, write_kubeconfig


async def test_as_and_as_groups_are_sent_as_impersonation_headers(tmp_path):
    path = write_kubeconfig(tmp_path / "kc", "x", "https://127.0.0.1:1", None, "tok")
    data = yaml.safe_load(path.read_text())
    data["users"][0]["user"].update({"as": "kubetui:drill", "as-groups": ["system:masters", "team"]})
    path.write_text(yaml.safe_dump(data))
    cfg = load_kubeconfig(path)
    assert cfg.impersonation_headers() == [("Impersonate-User", "kubetui:drill"),
                                           ("Impersonate-Group", "system:masters"), ("Impersonate-Group", "team")]
    client = HTTPClient.from_kubeconfig(path)
    try:
        headers = client._sess().headers
        assert headers.getall("Impersonate-Group") == ["system:masters", "team"]
        assert headers["Impersonate-User"] == "kubetui:drill" and headers["Authorization"] == "Bearer tok"
    finally:
        await client.close()
    plain = write_kubeconfig(tmp_path / "plain", "x", "https://127.0.0.1:1", None, "tok")
    assert load_kubeconfig(plain).impersonation_headers() == []
