"""The cluster's certificate authority and the API server's serving certificate.

In Kubernetes, kubeadm creates these under ``/etc/kubernetes/pki`` (upstream:
``cmd/kubeadm/app/phases/certs``): a self-signed CA (``ca.crt``/``ca.key``)
and ``apiserver.crt`` signed by it, whose Subject Alternative Names list every
address clients dial. kubectl trusts the CA through the kubeconfig's
``certificate-authority-data`` and so accepts the server's certificate.

kubetui keeps the same file names under ``<state>/pki/`` and reuses them on
the next start, unless the serving certificate no longer covers the addresses
asked for (a node network appeared) or is about to expire.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

CA_DAYS = 3650          # kubeadm: the CA lives 10 years
SERVING_DAYS = 365      # kubeadm: leaf certificates live 1 year
RENEW_BEFORE_DAYS = 30  # regenerate a serving cert this close to expiry


@dataclass(frozen=True)
class ClusterPKI:
    """Paths of the four PEM files, and the SANs the serving cert covers."""

    dir: Path
    sans: tuple[str, ...]

    @property
    def ca_crt(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def apiserver_crt(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def apiserver_key(self) -> Path:
        return self.dir / "apiserver.key"

    def ca_pem(self) -> bytes:
        return self.ca_crt.read_bytes()

    def server_ssl_context(self) -> ssl.SSLContext:
        """The TLS context the API server listens with."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.apiserver_crt, self.apiserver_key)
        # --client-ca-file: a client certificate is optional, but one given must be the CA's
        # (upstream's tls.VerifyClientCertIfGiven); its CN/O name the user (auth.py).
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(cadata=self.ca_pem().decode())
        return ctx

    def issue_client_cert(self, user: str, groups: tuple[str, ...] | list[str], *, days: int = 365,
                          now: float | None = None) -> tuple[bytes, bytes, int]:
        """A client certificate signed by the cluster CA: CN=user, O=each group (as kubeadm's
        ``kubeconfig user``). Returns (cert PEM, key PEM, serial)."""
        ca_cert, ca_key = _load_pair(self.ca_crt, self.ca_key)
        if ca_cert is None:
            raise ValueError(f"no cluster CA in {self.dir}")
        when = _dt.datetime.fromtimestamp(now, _dt.timezone.utc) if now else _dt.datetime.now(_dt.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        subject = x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups),
                             x509.NameAttribute(NameOID.COMMON_NAME, user)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(when - _dt.timedelta(minutes=5))
            .not_valid_after(when + _dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem, serial

    def client_ssl_context(self) -> ssl.SSLContext:
        """A context that trusts only this cluster's CA (what a kubeconfig gives)."""
        return ssl.create_default_context(cadata=self.ca_pem().decode())


def ensure_pki(state_dir: str | os.PathLike[str], cluster_name: str = "kubetui",
               extra_sans: tuple[str, ...] | list[str] = (), *, now: float | None = None) -> ClusterPKI:
    """Create (or reuse) the CA and serving certificate under ``<state_dir>/pki``.

    The serving certificate always covers ``127.0.0.1``, ``localhost`` and
    ``kubernetes.default.svc`` style names, plus ``extra_sans`` (IPs or DNS
    names, e.g. the gateway address node containers reach the server on).
    """
    pki_dir = Path(state_dir) / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    sans = _all_sans(extra_sans)
    pki = ClusterPKI(pki_dir, sans)
    when = _dt.datetime.fromtimestamp(now, _dt.timezone.utc) if now else _dt.datetime.now(_dt.timezone.utc)

    ca_cert, ca_key = _load_pair(pki.ca_crt, pki.ca_key)
    if ca_cert is None or ca_cert.not_valid_after_utc <= when:
        log.info("creating cluster CA in %s", pki_dir)
        ca_cert, ca_key = _make_ca(cluster_name, when)
        _write_pair(pki.ca_crt, pki.ca_key, ca_cert, ca_key)
        pki.apiserver_crt.unlink(missing_ok=True)

    srv_cert, srv_key = _load_pair(pki.apiserver_crt, pki.apiserver_key)
    if srv_cert is None or not _serving_cert_ok(srv_cert, ca_cert, sans, when):
        log.info("issuing API server certificate for %s", ", ".join(sans))
        srv_cert, srv_key = _make_serving(ca_cert, ca_key, sans, when)
        _write_pair(pki.apiserver_crt, pki.apiserver_key, srv_cert, srv_key)
    return pki


def _all_sans(extra: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    base = ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default",
            "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]
    for s in extra:
        if s and s not in base:
            base.append(s)
    return tuple(base)


def _san_entries(sans: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for s in sans:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(s)))
        except ValueError:
            out.append(x509.DNSName(s))
    return out


def _load_pair(crt: Path, key: Path):
    if not (crt.exists() and key.exists()):
        return None, None
    try:
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
        pkey = serialization.load_pem_private_key(key.read_bytes(), password=None)
        return cert, pkey
    except (ValueError, TypeError) as exc:
        log.warning("ignoring unreadable certificate %s: %s", crt, exc)
        return None, None


def _write_pair(crt: Path, key: Path, cert: x509.Certificate, pkey) -> None:
    key_bytes = pkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    # Private keys are readable by the owner only, as kubeadm writes them.
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    os.chmod(key, 0o600)
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _serving_cert_ok(cert: x509.Certificate, ca: x509.Certificate, sans: tuple[str, ...],
                     when: _dt.datetime) -> bool:
    if cert.issuer != ca.subject:
        return False
    if cert.not_valid_after_utc - when < _dt.timedelta(days=RENEW_BEFORE_DAYS):
        return False
    try:
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in have.get_values_for_type(x509.IPAddress)}
    present |= set(have.get_values_for_type(x509.DNSName))
    return all(str(ipaddress.ip_address(s)) in present if _is_ip(s) else s in present for s in sans)


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def _make_ca(cluster_name: str, when: _dt.datetime):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kubetui-{cluster_name}-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when - _dt.timedelta(minutes=5))
        .not_valid_after(when + _dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_serving(ca: x509.Certificate, ca_key, sans: tuple[str, ...], when: _dt.datetime):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when - _dt.timedelta(minutes=5))
        .not_valid_after(when + _dt.timedelta(days=SERVING_DAYS))
        .add_extension(x509.SubjectAlternativeName(_san_entries(sans)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key
