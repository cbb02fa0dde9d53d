"""The kubelet's image decisions, as pure functions (upstream: ``pkg/kubelet/images/image_manager.go``,
``image_gc_manager.go``, ``k8s.io/client-go/util/flowcontrol/backoff.go``).

Before each container start the kubelet's image manager decides, from the
container's ``imagePullPolicy``, whether the image is on the node, and the
image's pull backoff, one of:

==================  =======================  =========================================
policy              image on the node        action
==================  =======================  =========================================
Never               yes                      use it ("already present on machine")
Never               no                       ErrImageNeverPull (no pull, no backoff)
IfNotPresent        yes                      use it
IfNotPresent        no                       pull (unless backing off: ImagePullBackOff)
Always              yes or no                pull (unless backing off: ImagePullBackOff)
==================  =======================  =========================================

An unset policy defaults as the API server's defaulting does: ``Always``
for ``:latest`` or no tag, else ``IfNotPresent``. kubetui's built-in images
(``kubetui/hello``, ``busybox``, ...) are *pinned*, as a runtime's sandbox
image is: part of the node, never pulled, never garbage collected.

Image garbage collection (``realImageGCManager.GarbageCollect``): when the
image filesystem is at or above ``imageGCHighThresholdPercent`` (85) used,
free enough to get down to ``imageGCLowThresholdPercent`` (80), deleting
the least recently used images that no container uses, are not pinned, and
were first seen more than ``imageMinimumGCAge`` (2 min) ago.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

from dataclasses import dataclass

ALWAYS, IF_NOT_PRESENT, NEVER = "Always", "IfNotPresent", "Never"

# actions
USE_PRESENT = "UsePresent"
PULL = "Pull"
BACK_OFF = "ImagePullBackOff"
NEVER_PULL = "ErrImageNeverPull"

# upstream's kubelet defaults (KubeletConfiguration)
GC_HIGH_THRESHOLD_PERCENT = 85
GC_LOW_THRESHOLD_PERCENT = 80
GC_MIN_AGE_SECONDS = 120.0
GC_PERIOD_SECONDS = 300.0
#: nodeStatusMaxImages: the Node reports at most this many images, the largest first
NODE_STATUS_MAX_IMAGES = 50
#: MaxNamesPerImageInNodeStatus: each image lists at most this many names
MAX_NAMES_PER_IMAGE = 5


def default_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged image, else ``IfNotPresent`` (a digest counts as a tag).

    >>> default_pull_policy("nginx"), default_pull_policy("nginx:1.27"), default_pull_policy("nginx:latest")
    ('Always', 'IfNotPresent', 'Always')
    """
    if "@" in image:
        return IF_NOT_PRESENT
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.rsplit(":", 1)[1] == "latest":
        return ALWAYS
    return IF_NOT_PRESENT


def normalize(image: str) -> str:
    """The fully qualified reference containerd reports (``docker/distribution``'s ``ParseNormalizedNamed``).

    >>> normalize("nginx"), normalize("kubetui/hello:1"), normalize("registry.k8s.io/pause:3.9")
    ('docker.io/library/nginx:latest', 'docker.io/kubetui/hello:1', 'registry.k8s.io/pause:3.9')
    >>> normalize("localhost:5000/app@sha256:abc")
    'localhost:5000/app@sha256:abc'
    """
    ref = image.strip()
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    first, _, rest = ref.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        domain, path = "docker.io", ref
    else:
        domain, path = first, rest
    if domain in ("index.docker.io", "docker.io"):
        domain = "docker.io"
        if "/" not in path:
            path = "library/" + path
    name, tag = path, ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = path.rsplit(":", 1)
    out = f"{domain}/{name}"
    if tag:
        out += f":{tag}"
    elif not digest:
        out += ":latest"
    if digest:
        out += f"@{digest}"
    return out


def familiar(ref: str) -> str:
    """The short form Docker prints (``docker.io/library/nginx:1.27`` -> ``nginx:1.27``).

    >>> familiar("docker.io/library/nginx:1.27"), familiar("docker.io/kubetui/hello:1"), familiar("quay.io/a/b:1")
    ('nginx:1.27', 'kubetui/hello:1', 'quay.io/a/b:1')
    """
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


@dataclass(frozen=True)
class PullDecision:
    """What the image manager does before a container start, and why (the event it records)."""

    action: str
    event_type: str = ""
    event_reason: str = ""
    message: str = ""

    @property
    def error(self) -> str:
        """The container's waiting reason when it cannot start (``""`` when it can go on)."""
        return self.action if self.action in (BACK_OFF, NEVER_PULL) else ""


def decide_pull(image: str, policy: str, present: bool, pinned: bool, in_backoff: bool) -> PullDecision:
    """Upstream ``EnsureImageExists`` up to the pull: ``shouldPullImage``, then the backoff check.

    >>> decide_pull("nginx", "IfNotPresent", True, False, False).message
    'Container image "nginx" already present on machine'
    >>> decide_pull("nginx", "Never", False, False, False).action
    'ErrImageNeverPull'
    >>> decide_pull("nginx", "Always", True, False, True).message
    'Back-off pulling image "nginx"'
    """
    policy = policy or default_pull_policy(image)
    if pinned:
        present = True
    if pinned or policy == NEVER or (policy == IF_NOT_PRESENT and present):
        if present:
            return PullDecision(USE_PRESENT, "Normal", "Pulled",
                                f'Container image "{image}" already present on machine')
        return PullDecision(NEVER_PULL, "Warning", "ErrImageNeverPull",
                            f'Container image "{image}" is not present with pull policy of Never')
    if in_backoff:
        return PullDecision(BACK_OFF, "Normal", "BackOff", f'Back-off pulling image "{image}"')
    return PullDecision(PULL, "Normal", "Pulling", f'Pulling image "{image}"')


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String()`` prints it after ``Truncate(time.Millisecond)``.

    >>> go_duration(2.1), go_duration(0.0456), go_duration(75.25), go_duration(0)
    ('2.1s', '45ms', '1m15.25s', '0s')
    """
    ms = int(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    minutes, ms = divmod(ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def pulled_message(image: str, pull_seconds: float, total_seconds: float, size: int) -> str:
    """The ``Pulled`` event after a pull, worded as upstream's kubelet (1.30+).

    >>> pulled_message("nginx", 2.1, 2.1, 187000)
    'Successfully pulled image "nginx" in 2.1s (2.1s including waiting). Image size: 187000 bytes.'
    """
    return (f'Successfully pulled image "{image}" in {go_duration(pull_seconds)} '
            f"({go_duration(total_seconds)} including waiting). Image size: {size} bytes.")


class PullBackoff:
    """Per ``<pod uid>_<image>`` pull backoff (``flowcontrol.Backoff``: 10 s doubling to 5 min upstream).

    ``in_backoff_since_update(key, now)`` is upstream's ``IsInBackOffSinceUpdate``:
    a pull that failed at ``t`` blocks the next one until ``t + backoff``. An
    entry untouched for twice the cap starts over at the initial delay.
    """

    def __init__(self, initial: float, cap: float) -> None:
        self.initial = initial
        self.cap = cap
        self.entries: dict[str, tuple[float, float]] = {}    # key -> (backoff, last update)

    def _expired(self, now: float, last: float) -> bool:
        return now - last > 2 * self.cap

    def next(self, key: str, now: float) -> float:
        backoff, last = self.entries.get(key, (0.0, 0.0))
        if key not in self.entries or self._expired(now, last):
            backoff = self.initial
        else:
            backoff = min(backoff * 2, self.cap)
        self.entries[key] = (backoff, now)
        return backoff

    def remaining(self, key: str, now: float) -> float:
        if key not in self.entries:
            return 0.0
        backoff, last = self.entries[key]
        return max(0.0, backoff - (now - last))

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        return self.remaining(key, now) > 0

    def gc(self, now: float) -> None:
        for k in [k for k, (_b, last) in self.entries.items() if self._expired(now, last)]:
            del self.entries[k]

    def forget(self, prefix: str) -> None:
        for k in [k for k in self.entries if k.startswith(prefix)]:
            del self.entries[k]


# -- Node.status.images -------------------------------------------------------------

@dataclass(frozen=True)
class ImageRecord:
    """One image on the node, as the CRI's ``ListImages`` reports it."""

    id: str                                 # sha256:... (the config digest)
    repo_tags: tuple[str, ...] = ()         # docker.io/library/nginx:1.27
    repo_digests: tuple[str, ...] = ()      # docker.io/library/nginx@sha256:...
    size: int = 0
    pinned: bool = False


def node_status_images(images: list[ImageRecord], max_images: int = NODE_STATUS_MAX_IMAGES) -> list[dict]:
    """``Node.status.images``: names (digests first, then tags, as the kubelet's setter orders them), size,
    the largest images first, at most ``max_images`` (upstream ``nodestatus.Images``, nodeStatusMaxImages).

    >>> node_status_images([ImageRecord("sha256:1", ("docker.io/library/a:1",), ("docker.io/library/a@sha256:d",), 5),
    ...                     ImageRecord("sha256:2", ("docker.io/library/b:1",), (), 9)], 1)
    [{'names': ['docker.io/library/b:1'], 'sizeBytes': 9}]
    """
    out = []
    for img in sorted(images, key=lambda i: -i.size):
        names = list(dict.fromkeys([*img.repo_digests, *img.repo_tags]))[:MAX_NAMES_PER_IMAGE]
        if not names:
            continue
        out.append({"names": names, "sizeBytes": img.size})
        if max_images >= 0 and len(out) >= max_images:
            break
    return out


# -- image garbage collection ----------------------------------------------------------

@dataclass(frozen=True)
class GCImage:
    id: str
    size: int
    first_detected: float
    last_used: float
    in_use: bool = False
    pinned: bool = False


@dataclass(frozen=True)
class GCPlan:
    """``amount_to_free`` bytes (0: under the high threshold) by deleting ``delete`` (ids, oldest use first)."""

    usage_percent: int
    amount_to_free: int
    delete: tuple[str, ...]
    freed: int

    @property
    def failed_message(self) -> str:
        """Upstream's FreeDiskSpaceFailed message when the eligible images are not enough ("" when they are)."""
        if self.freed >= self.amount_to_free:
            return ""
        return (f"Failed to garbage collect required amount of images. Attempted to free {self.amount_to_free} "
                f"bytes, but only found {self.freed} bytes eligible to free.")


def plan_image_gc(images: list[GCImage], capacity: int, available: int, now: float,
                  high: int = GC_HIGH_THRESHOLD_PERCENT, low: int = GC_LOW_THRESHOLD_PERCENT,
                  min_age: float = GC_MIN_AGE_SECONDS) -> GCPlan:
    """Which images to delete now (upstream ``GarbageCollect`` + ``freeSpace``).

    Example: a 100 GB filesystem with 10 GB available is 90 % used, over the
    high threshold of 85 %; the kubelet frees ``100 * (100 - 80) / 100 - 10 =
    10`` GB, deleting unused images least recently used first until that much is freed.

    >>> imgs = [GCImage("a", 6, 0, 50), GCImage("b", 6, 0, 10), GCImage("c", 6, 0, 5, in_use=True)]
    >>> plan_image_gc(imgs, capacity=100, available=10, now=1000)
    GCPlan(usage_percent=90, amount_to_free=10, delete=('b', 'a'), freed=12)
    """
    if capacity <= 0:
        return GCPlan(0, 0, (), 0)
    usage = 100 - int(available * 100 / capacity)
    if usage < high:
        return GCPlan(usage, 0, (), 0)
    amount = capacity * (100 - low) // 100 - available
    freed, chosen = 0, []
    for img in sorted(images, key=lambda i: (i.last_used, i.first_detected)):
        if freed >= amount:
            break
        if img.in_use or img.pinned or now - img.first_detected < min_age:
            continue
        chosen.append(img.id)
        freed += img.size
    return GCPlan(usage, amount, tuple(chosen), freed)
