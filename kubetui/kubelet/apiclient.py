"""The kubelet's API client lives in the node agents' shared base: ``kubetui.agent.apiclient``."""

from kubetui.agent.apiclient import (MERGE_PATCH, STRATEGIC_MERGE_PATCH, APIClient, APIError,  # noqa: F401
                                     query)
