"""Encryption at rest: how kube-apiserver keeps Secrets unreadable in etcd.

Upstream: ``staging/src/k8s.io/apiserver/pkg/server/options/encryptionconfig``
(reading ``--encryption-provider-config``), ``pkg/storage/value/transformer.go``
(prefix transformers: the first provider writes, every provider may read),
``pkg/storage/value/encrypt/aes`` (AES-GCM) and ``pkg/storage/etcd3/store.go``
(the transformer runs on every value read from or written to etcd).

By default Kubernetes stores a Secret exactly as the API returns it: its
``data`` is base64, which is an *encoding*, not encryption: anyone who can
read etcd's files can read every password. With an EncryptionConfiguration::

    apiVersion: apiserver.config.k8s.io/v1
    kind: EncryptionConfiguration
    resources:
      - resources: [secrets]
        providers:
          - aesgcm: {keys: [{name: key1, secret: <base64 of 32 random bytes>}]}
          - identity: {}

the API server serializes the whole Secret, encrypts it with the first
provider's first key, and stores ``k8s:enc:aesgcm:v1:key1:`` + nonce +
ciphertext. The storage key (``/registry/secrets/default/db``) is the
authenticated data, so a ciphertext cannot be moved under another name. On
read, each provider is tried in order: a value written with an older key, or
in plaintext before encryption was turned on (``identity``), still reads,
and is *stale*: the next write re-encrypts it with the current key.

kubetui's store holds JSON objects, so an encrypted Secret is stored as a
small envelope: the etcd key's name and namespace, the resourceVersion the
store stamps, and the prefixed ciphertext (binary part in base64)::

    {"apiVersion": "v1", "kind": "Secret",
     "metadata": {"name": "db", "namespace": "default", "resourceVersion": "42"},
     "ciphertext": "k8s:enc:aesgcm:v1:key1:Zm9vYmFy..."}

``EncryptingStore`` wraps a ``kubetui.store.Store`` for the registry and
decrypts on every get, range, write result and watch event, so everything
above the storage layer sees plain Secrets; ``kubetui store get`` and the
TUI's store view read the raw store and show the envelope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubetui.api.errors import InternalError
from kubetui.api.resources import resource_for
from kubetui.store import KeyNotFound, KeyValue, RevisionMismatch, StoreEvent
from kubetui.store.kv import encode_value, stamped

log = logging.getLogger(__name__)

Obj = dict[str, Any]

CONFIG_FILE = "encryption-config.yaml"
API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
ENVELOPE_FIELD = "ciphertext"
ENC_PREFIX = "k8s:enc:"
_NONCE_SIZE = 12  # AES-GCM's standard 96-bit nonce, as upstream uses
_KEY_NAME = re.compile(r"^key(\d+)$")


class TransformError(Exception):
    """A stored value no configured provider can read (upstream's transformer errors)."""


# ------------------------------------------------------------------ providers


class IdentityTransformer:
    """``identity: {}``: values stored as they are (Kubernetes' default)."""

    prefix = ""

    def name(self) -> str:
        return "identity"

    def encrypt(self, plaintext: bytes, key: str) -> str:
        raise AssertionError("identity stores plaintext; the store writes the object itself")

    def decrypt(self, sealed: str, key: str) -> bytes:
        raise TransformError("identity transformer tried to read encrypted data")


class AESGCMTransformer:
    """``aesgcm`` with one named key: ``k8s:enc:aesgcm:v1:<name>:`` + nonce + ciphertext."""

    def __init__(self, key_name: str, secret: bytes) -> None:
        if len(secret) not in (16, 24, 32):
            raise ValueError(f"aesgcm key {key_name!r} must be 16, 24 or 32 bytes, got {len(secret)}")
        self.key_name = key_name
        self.prefix = f"{ENC_PREFIX}aesgcm:v1:{key_name}:"
        self._aead = AESGCM(secret)

    def name(self) -> str:
        return f"aesgcm/{self.key_name}"

    def encrypt(self, plaintext: bytes, key: str) -> str:
        nonce = os.urandom(_NONCE_SIZE)
        sealed = nonce + self._aead.encrypt(nonce, plaintext, key.encode())
        return self.prefix + base64.b64encode(sealed).decode()

    def decrypt(self, sealed: str, key: str) -> bytes:
        try:
            raw = base64.b64decode(sealed[len(self.prefix):], validate=True)
        except (binascii.Error, ValueError):
            raise TransformError("the ciphertext is not valid base64") from None
        if len(raw) < _NONCE_SIZE + 16:
            raise TransformError("the stored data was shorter than the required size")
        try:
            return self._aead.decrypt(raw[:_NONCE_SIZE], raw[_NONCE_SIZE:], key.encode())
        except InvalidTag:
            raise TransformError("cipher: message authentication failed") from None


Transformer = IdentityTransformer | AESGCMTransformer


@dataclass
class ResourceEncryption:
    """One ``resources[]`` entry: store-key prefixes and their providers, in order."""

    prefixes: tuple[str, ...]
    transformers: list[Transformer]

    def covers(self, key: str) -> bool:
        return key.startswith(self.prefixes)

    def overlaps(self, prefix: str) -> bool:
        return any(p.startswith(prefix) or prefix.startswith(p) for p in self.prefixes)


# ---------------------------------------------------------------- config file


def new_key() -> str:
    """A fresh 32-byte AES key, base64-encoded (``head -c 32 /dev/urandom | base64``)."""
    return base64.b64encode(os.urandom(32)).decode()


def default_config(resources: Iterable[str] = ("secrets",)) -> Obj:
    """The EncryptionConfiguration ``up --encrypt-secrets`` writes: AES-GCM key1, then identity."""
    return {"apiVersion": API_VERSION, "kind": KIND, "resources": [{
        "resources": list(resources),
        "providers": [{"aesgcm": {"keys": [{"name": "key1", "secret": new_key()}]}}, {"identity": {}}],
    }]}


def write_config(path: Path, config: Obj) -> None:
    """Write the file atomically with mode 0600: it holds the keys to every Secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def ensure_config(path: Path) -> Obj:
    """Load the file, creating it with a new key first if it is missing."""
    if not path.exists():
        write_config(path, default_config())
        log.info("wrote %s: Secrets are now encrypted at rest with AES-GCM key1", path)
    return load_config(path)


def load_config(path: Path) -> Obj:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"cannot read encryption configuration {path}: {e}") from None
    parse_config(config)  # refuse a bad file early, with the field that is wrong
    return config


def _key_prefixes(resources: list[Any], where: str) -> tuple[str, ...]:
    prefixes = []
    for i, name in enumerate(resources):
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}.resources[{i}]: must be a resource name such as secrets")
        try:
            r = resource_for(name)
        except KeyError:
            raise ValueError(f"{where}.resources[{i}]: unknown resource {name!r}") from None
        prefixes.append(r.key("", None))  # /registry/secrets/
    return tuple(prefixes)


def parse_config(config: Any) -> list[ResourceEncryption]:
    """Turn an EncryptionConfiguration into transformers; ``ValueError`` names the bad field."""
    if not isinstance(config, dict) or config.get("kind") != KIND:
        raise ValueError(f"kind: must be {KIND}")
    if config.get("apiVersion") != API_VERSION:
        raise ValueError(f"apiVersion: must be {API_VERSION}")
    out = []
    for i, entry in enumerate(config.get("resources") or []):
        where = f"resources[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be an object")
        prefixes = _key_prefixes(entry.get("resources") or [], where)
        if not prefixes:
            raise ValueError(f"{where}.resources: Required value")
        transformers: list[Transformer] = []
        for j, provider in enumerate(entry.get("providers") or []):
            p = f"{where}.providers[{j}]"
            if not isinstance(provider, dict) or len(provider) != 1:
                raise ValueError(f"{p}: exactly one provider type must be specified")
            (kind, body), = provider.items()
            if kind == "identity":
                transformers.append(IdentityTransformer())
            elif kind == "aesgcm":
                keys = (body or {}).get("keys") or []
                if not keys:
                    raise ValueError(f"{p}.aesgcm.keys: Required value")
                for k, item in enumerate(keys):
                    try:
                        secret = base64.b64decode(str(item.get("secret", "")), validate=True)
                        transformers.append(AESGCMTransformer(str(item["name"]), secret))
                    except (binascii.Error, KeyError, ValueError, AttributeError) as e:
                        raise ValueError(f"{p}.aesgcm.keys[{k}]: {e}") from None
            else:
                raise ValueError(f"{p}: unsupported provider {kind!r} (kubetui supports aesgcm and identity)")
        if not transformers:
            raise ValueError(f"{where}.providers: Required value")
        out.append(ResourceEncryption(prefixes, transformers))
    return out


def rotated_config(config: Obj, still_used: set[str] = frozenset()) -> tuple[Obj, str]:
    """The configuration after one rotation, and the new key's name.

    The new key goes first (it encrypts every write from now on); the key
    that was first stays second, for reading anything not yet rewritten;
    older keys are dropped unless ``still_used`` (key names some stored value
    still needs) says otherwise. identity stays where it was.
    """
    config = json.loads(json.dumps(config))
    new_name = ""
    for entry in config.get("resources") or []:
        providers = entry.get("providers") or []
        gcm = next((p["aesgcm"] for p in providers if "aesgcm" in p), None)
        if gcm is None:
            gcm = {"keys": []}
            providers.insert(0, {"aesgcm": gcm})
        keys = gcm.get("keys") or []
        numbers = [int(m.group(1)) for k in keys if (m := _KEY_NAME.match(str(k.get("name"))))]
        new_name = f"key{max(numbers, default=0) + 1}"
        kept = keys[:1] + [k for k in keys[1:] if k.get("name") in still_used]
        gcm["keys"] = [{"name": new_name, "secret": new_key()}] + kept
        # AES-GCM must be the first provider for new writes to be encrypted.
        providers.sort(key=lambda p: 0 if "aesgcm" in p else 1)
        entry["providers"] = providers
    return config, new_name


def key_name_of(value: Obj) -> str:
    """Which provider wrote a raw store value: ``aesgcm/key2`` or ``identity``."""
    sealed = value.get(ENVELOPE_FIELD) if isinstance(value, dict) else None
    if not isinstance(sealed, str):
        return "identity"
    parts = sealed.split(":")
    return f"{parts[2]}/{parts[4]}" if len(parts) > 5 and sealed.startswith(ENC_PREFIX) else "unknown"


# -------------------------------------------------------------- the wrapper


class EncryptingStore:
    """A ``Store`` as the registry sees it: covered keys encrypted on write, decrypted on read.

    Everything else (revision, count, history, checkpoint, close...) is the
    wrapped store's, unchanged: the raw history still shows the envelopes.
    """

    def __init__(self, store: Any, config_path: Path | None = None, *,
                 resources: list[ResourceEncryption] | None = None) -> None:
        self.store = store
        self.config_path = config_path
        self._config_digest = ""
        self.resources: list[ResourceEncryption] = resources or []
        if config_path is not None:
            self.reload()
        self._cache: dict[str, tuple[int, KeyValue]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    # --- configuration ---

    def reload(self) -> bool:
        """Read the configuration file again if it changed (upstream's automatic reload)."""
        assert self.config_path is not None
        data = self.config_path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._config_digest:
            return False
        self.resources = parse_config(yaml.safe_load(data))
        self._config_digest = digest
        self._cache = {}
        log.info("encryption configuration loaded from %s: %s", self.config_path, self.describe())
        return True

    def describe(self) -> str:
        return "; ".join(",".join(r.prefixes) + " -> " + ", ".join(t.name() for t in r.transformers)
                         for r in self.resources)

    def _entry(self, key: str) -> ResourceEncryption | None:
        for r in self.resources:
            if r.covers(key):
                return r
        return None

    # --- transforming one value ---

    def seal(self, key: str, value: Obj) -> Obj:
        """What the store holds for ``value`` under ``key`` (upstream ``TransformToStorage``)."""
        entry = self._entry(key)
        if entry is None or isinstance(entry.transformers[0], IdentityTransformer):
            return value
        plain = dict(value)
        meta = dict(plain.get("metadata") or {})
        meta.pop("resourceVersion", None)  # the store stamps it; upstream stores it empty too
        plain["metadata"] = meta
        sealed = entry.transformers[0].encrypt(encode_value(plain), key)
        envelope_meta = {k: meta[k] for k in ("name", "namespace") if k in meta}
        return {"apiVersion": value.get("apiVersion"), "kind": value.get("kind"),
                "metadata": envelope_meta, ENVELOPE_FIELD: sealed}

    def open_value(self, key: str, value: Obj) -> tuple[Obj, bool]:
        """``(object, stale)`` for a stored value (upstream ``TransformFromStorage``).

        Raises ``InternalError`` with upstream's wording when no provider can read it.
        """
        entry = self._entry(key)
        sealed = value.get(ENVELOPE_FIELD) if isinstance(value, dict) else None
        if not isinstance(sealed, str):
            # Plaintext: written before encryption was configured.
            if entry is None:
                return value, False
            if not any(isinstance(t, IdentityTransformer) for t in entry.transformers):
                raise _transform_error(key, "no matching prefix found")
            return value, not isinstance(entry.transformers[0], IdentityTransformer)
        if entry is None:
            raise _transform_error(key, "identity transformer tried to read encrypted data")
        last: TransformError | None = None
        for i, t in enumerate(entry.transformers):
            if t.prefix and not sealed.startswith(t.prefix):
                continue
            try:
                plain = t.decrypt(sealed, key)
            except TransformError as e:
                # Upstream skips identity's complaint and reports the real decryption error.
                if t.prefix:
                    last = e
                continue
            obj = json.loads(plain)
            rv = (value.get("metadata") or {}).get("resourceVersion")
            if rv is not None:
                obj = stamped(obj, int(rv))
            return obj, i != 0
        raise _transform_error(key, str(last) if last else "no matching prefix found")

    def _open_kv(self, kv: KeyValue | None, *, copy: bool) -> KeyValue | None:
        if kv is None or self._entry(kv.key) is None:
            return kv
        hit = self._cache.get(kv.key)
        if hit is None or hit[0] != kv.mod_revision:
            obj, _ = self.open_value(kv.key, kv.value)
            opened = KeyValue(kv.key, obj, kv.create_revision, kv.mod_revision, kv.version)
            if kv.version:  # a live value (not a deletion's last state): worth caching
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[kv.key] = (kv.mod_revision, opened)
        else:
            opened = hit[1]
        return opened.fresh() if copy else opened

    def _covered(self, prefix: str) -> bool:
        return any(r.overlaps(prefix) for r in self.resources)

    # --- the Store interface the registry uses ---

    def get(self, key: str, *, copy: bool = True) -> KeyValue | None:
        if self._entry(key) is None:
            return self.store.get(key, copy=copy)
        return self._open_kv(self.store.get(key, copy=False), copy=copy)

    def range(self, prefix: str, *, copy: bool = True) -> list[KeyValue]:
        if not self._covered(prefix):
            return self.store.range(prefix, copy=copy)
        return [self._open_kv(kv, copy=copy) for kv in self.store.range(prefix, copy=False)]  # type: ignore[misc]

    async def create(self, key: str, value: Obj) -> KeyValue:
        kv = await self.store.create(key, self.seal(key, value))
        return self._written(kv, value)

    async def update(self, key: str, value: Obj, expected_mod_revision: int | None = None) -> KeyValue:
        kv = await self.store.update(key, self.seal(key, value), expected_mod_revision=expected_mod_revision)
        return self._written(kv, value)

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> KeyValue:
        kv = await self.store.delete(key, expected_mod_revision=expected_mod_revision)
        return self._open_kv(kv, copy=False)  # type: ignore[return-value]

    def _written(self, kv: KeyValue, value: Obj) -> KeyValue:
        if self._entry(kv.key) is None:
            return kv
        # The caller wrote ``value``: hand it back stamped, without decrypting what we just sealed.
        return KeyValue(kv.key, None, kv.create_revision, kv.mod_revision, kv.version,
                        raw=encode_value(stamped(value, kv.mod_revision)))

    def watch(self, prefix: str, after_revision: int) -> Any:
        w = self.store.watch(prefix, after_revision)
        return _DecryptingWatch(self, w) if self._covered(prefix) else w

    # --- rotation ---

    async def rewrite_stale(self) -> int:
        """Re-encrypt every value not written with the current first provider; how many were rewritten.

        This is upstream's "read and write back every Secret"
        (``kubectl get secrets -A -o json | kubectl replace -f -``) done at the
        storage level: each rewrite is a real store write, so the object's
        resourceVersion changes and watchers see MODIFIED.
        """
        rewritten = 0
        for entry in self.resources:
            for prefix in entry.prefixes:
                for kv in self.store.range(prefix, copy=False):
                    rewritten += await self._rewrite_one(kv.key)
        if rewritten:
            log.info("re-encrypted %d stored value(s) with the current key", rewritten)
        return rewritten

    async def _rewrite_one(self, key: str) -> int:
        for _ in range(16):
            kv = self.store.get(key, copy=False)
            if kv is None:
                return 0
            obj, stale = self.open_value(key, kv.value)
            if not stale:
                return 0
            try:
                await self.store.update(key, self.seal(key, obj), expected_mod_revision=kv.mod_revision)
                return 1
            except RevisionMismatch:
                continue  # written meanwhile (and so already re-encrypted): look again
            except KeyNotFound:
                return 0
        return 0

    def keys_in_use(self) -> set[str]:
        """Names of the keys (``key1``...) that stored values were encrypted with."""
        used = set()
        for entry in self.resources:
            for prefix in entry.prefixes:
                for kv in self.store.range(prefix, copy=False):
                    name = key_name_of(kv.value)
                    if name.startswith("aesgcm/"):
                        used.add(name.split("/", 1)[1])
        return used

    async def watch_config(self, clock: Any, interval: float = 2.0) -> None:
        """Poll the configuration file; on a change, load it and re-encrypt what is stale.

        kube-apiserver does this with ``--encryption-provider-config-automatic-reload``
        (it polls about once a minute); ``kubetui store rotate-key`` relies on it
        while a cluster runs.
        """
        while True:
            await clock.sleep(interval)
            try:
                if self.reload():
                    await self.rewrite_stale()
            except Exception:  # noqa: BLE001 - keep the old configuration and try again
                log.exception("reloading encryption configuration %s", self.config_path)


class _DecryptingWatch:
    """A store watch whose events carry decrypted values (the raw one stays untouched)."""

    def __init__(self, owner: EncryptingStore, inner: Any) -> None:
        self.owner = owner
        self.inner = inner

    def __aiter__(self) -> AsyncIterator[StoreEvent]:
        return self

    async def __anext__(self) -> StoreEvent:
        while True:
            ev = await self.inner.__anext__()
            try:
                return StoreEvent(ev.type, self.owner._open_kv(ev.kv, copy=False),  # type: ignore[arg-type]
                                  self.owner._open_kv(ev.prev_kv, copy=False), ev.revision)
            except InternalError as e:
                # Upstream sends the watcher an error event; the value stays unreadable
                # to gets and lists too, which report the same error.
                log.error("watch on %s: %s", ev.kv.key, e)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _transform_error(key: str, why: str) -> InternalError:
    return InternalError(f'Internal error occurred: unable to transform key "{key}": {why}')
