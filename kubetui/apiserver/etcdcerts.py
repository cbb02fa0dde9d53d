"""etcd's certificates, as kubeadm's ``certs`` phase makes them (``cmd/kubeadm/app/phases/certs``).

kubeadm gives etcd its own CA; kubetui signs etcd's certificates with the
cluster CA (one CA for a learner to trust), under kubeadm's file names::

    pki/etcd/server.crt, server.key           the member's serving cert (server + client auth), SANs 127.0.0.1, localhost
    pki/apiserver-etcd-client.crt, .key       kube-apiserver's client cert (CN kube-apiserver-etcd-client)

The member runs with ``--client-cert-auth``: only holders of a certificate
from the CA reach it, so ``etcdctl`` needs ``--cacert pki/ca.crt --cert
pki/apiserver-etcd-client.crt --key pki/apiserver-etcd-client.key``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubetui.apiserver.certs import SERVING_DAYS, ClusterPKI, _load_pair, _san_entries, _serving_cert_ok, _write_pair
from kubetui.store.etcdserver import EtcdServer, EtcdTLS

ETCD_SANS = ("127.0.0.1", "localhost")
ETCD_LOG = "etcd.log"
#: where a running cluster's etcd answers, and with which certificates (for `kubetui store` and etcdctl)
ETCD_ENDPOINT_FILE = "etcd.json"
CLIENT_CN = "kube-apiserver-etcd-client"


def ensure_etcd_certs(pki: ClusterPKI, extra_sans: tuple[str, ...] = ()) -> EtcdTLS:
    """Create (or reuse) the member's serving certificate and kube-apiserver's client certificate.

    ``extra_sans``: more names the members are reached by (control-plane containers: their node names,
    the addresses in their peer URLs, as kubeadm puts each node's name and IP in its etcd/server.crt)."""
    sans = (*ETCD_SANS, *(s for s in extra_sans if s not in ETCD_SANS))
    tls = EtcdTLS(ca=pki.ca_crt, cert=pki.dir / "etcd" / "server.crt", key=pki.dir / "etcd" / "server.key",
                  client_cert=pki.dir / "apiserver-etcd-client.crt", client_key=pki.dir / "apiserver-etcd-client.key")
    tls.cert.parent.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _load_pair(pki.ca_crt, pki.ca_key)
    if ca is None:
        raise ValueError(f"no cluster CA in {pki.dir}")
    now = _dt.datetime.now(_dt.timezone.utc)
    cert, _ = _load_pair(tls.cert, tls.key)
    if cert is None or not _serving_cert_ok(cert, ca, sans, now):
        _write_pair(tls.cert, tls.key, *_issue(ca, ca_key, "kubetui-etcd", sans, now))
    cert, _ = _load_pair(tls.client_cert, tls.client_key)
    if cert is None or cert.issuer != ca.subject or cert.not_valid_after_utc <= now + _dt.timedelta(days=30):
        _write_pair(tls.client_cert, tls.client_key, *_issue(ca, ca_key, CLIENT_CN, (), now))
    return tls


def write_etcd_endpoint(state_dir: Path, server: EtcdServer) -> None:
    """``<state>/etcd.json``: the member's endpoint and the flags etcdctl needs to reach it."""
    assert server.tls is not None
    doc = {"endpoint": server.endpoint, "pid": server.proc.pid if server.proc else None,
           "cacert": str(server.tls.ca), "cert": str(server.tls.client_cert), "key": str(server.tls.client_key),
           "dataDir": str(server.data_dir)}
    tmp = state_dir / (ETCD_ENDPOINT_FILE + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, state_dir / ETCD_ENDPOINT_FILE)


def read_etcd_endpoint(state_dir: Path) -> tuple[str, EtcdTLS] | None:
    """The running member's endpoint and client TLS from ``<state>/etcd.json`` (None if it is not running)."""
    try:
        doc = json.loads((state_dir / ETCD_ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        return None
    pki = Path(doc["cacert"]).parent
    return doc["endpoint"], EtcdTLS(ca=Path(doc["cacert"]), cert=pki / "etcd" / "server.crt",
                                    key=pki / "etcd" / "server.key", client_cert=Path(doc["cert"]),
                                    client_key=Path(doc["key"]))


def _issue(ca: x509.Certificate, ca_key, cn: str, sans: tuple[str, ...], when: _dt.datetime):
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if sans else [])
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if not sans:  # kubeadm: the apiserver's etcd client is in system:masters
        subject.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"))
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name(subject)).issuer_name(ca.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(when - _dt.timedelta(minutes=5))
         .not_valid_after(when + _dt.timedelta(days=SERVING_DAYS))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(_san_entries(sans)), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key
