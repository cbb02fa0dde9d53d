"""The node agents' real clock lives in their shared base: ``kubetui.agent.clock``."""

from kubetui.agent.clock import RealClock  # noqa: F401
