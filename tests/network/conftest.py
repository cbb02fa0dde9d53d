"""The Docker cluster fixture of tests/nodes, shared with the networking acceptance tests."""

from tests.nodes.conftest import docker_cluster  # noqa: F401 - re-exported pytest fixture
