"""``findme cert``: a local CA that can vouch only for this machine, lives briefly, and whose key
is not in the data folder (copying ``data/`` gives nobody a CA key).

Run as a user would (``python -m findme.cli cert``), with the data folder and the config folder
(``XDG_CONFIG_HOME``) in the test's temporary directory. An out-of-constraint certificate is
forged with the real CA key and must fail verification by OpenSSL (``openssl verify``) and by
``cryptography``'s verifier; the real certificate is the positive control.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FINDME = [sys.executable, "-m", "findme.cli", "cert"]


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(tmp / "data"),
               XDG_CONFIG_HOME=str(tmp / "config"))
    done = subprocess.run(FINDME + list(args), env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _keys_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]


def _public(key_file: Path) -> bytes:
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _forge(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, san: x509.GeneralName,
           cn: str) -> x509.Certificate:
    """A server certificate for ``san`` signed by the CA's real key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))


def _openssl_verify(tmp: Path, ca: Path, leaf: bytes) -> subprocess.CompletedProcess[str]:
    path = tmp / "leaf.pem"
    path.write_bytes(leaf)
    return subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(path)],
                          capture_output=True, text=True, timeout=60)


def _verify(ca: x509.Certificate, leaf: x509.Certificate, subject: x509.GeneralName) -> None:
    """``cryptography``'s path validation for a server named ``subject`` (raises if refused)."""
    from cryptography.x509.verification import PolicyBuilder, Store

    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(subject)
    verifier.verify(leaf, [])


def test_the_ca_vouches_only_for_this_machine_and_is_not_in_the_data_folder(
        tmp_path: Path) -> None:
    _run(tmp_path, "--name", "shelter-laptop", "--ip", "10.231.0.9")
    tls = tmp_path / "data" / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((tls / "cert.pem").read_bytes())

    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = constraints.value.permitted_subtrees or []
    dns = {n.value for n in permitted if isinstance(n, x509.DNSName)}
    ips = {n.value for n in permitted if isinstance(n, x509.IPAddress)}
    assert {"localhost", "shelter-laptop"} <= dns
    assert ipaddress.ip_network("10.231.0.9/32") in ips
    assert ipaddress.ip_network("127.0.0.1/32") in ips
    assert all(n.num_addresses == 1 for n in ips)  # single addresses, never a whole network
    ca_days = (ca.not_valid_after_utc - ca.not_valid_before_utc).days
    server_days = (server.not_valid_after_utc - server.not_valid_before_utc).days
    assert ca_days <= 2 * 366 and server_days <= 398, (ca_days, server_days)

    # the CA key: not in the data folder, 0600 in the config folder
    data_keys = _keys_under(tmp_path / "data")
    assert [p.name for p in data_keys] == ["key.pem"]
    ca_public = ca.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    assert _public(data_keys[0]) != ca_public
    kept = [p for p in _keys_under(tmp_path / "config") if _public(p) == ca_public]
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o077 == 0
    assert kept[0].parent.stat().st_mode & 0o077 == 0

    # the real certificate verifies (positive control); one for any other name does not
    assert _openssl_verify(tmp_path, tls / "ca.pem", server.public_bytes(
        serialization.Encoding.PEM)).returncode == 0
    _verify(ca, server, x509.DNSName("shelter-laptop"))
    _verify(ca, server, x509.IPAddress(ipaddress.ip_address("10.231.0.9")))
    ca_key = serialization.load_pem_private_key(kept[0].read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    for san, cn in ((x509.DNSName("bank.example"), "bank.example"),
                    (x509.IPAddress(ipaddress.ip_address("10.231.0.10")), "localhost")):
        forged = _forge(ca, ca_key, san, cn)
        result = _openssl_verify(tmp_path, tls / "ca.pem",
                                 forged.public_bytes(serialization.Encoding.PEM))
        assert result.returncode != 0 and "subtree" in result.stdout + result.stderr, result
        with pytest.raises(x509.verification.VerificationError):
            _verify(ca, forged, san)


def test_a_second_run_reuses_the_ca_and_discard_leaves_no_key(tmp_path: Path) -> None:
    """Renewal keeps the CA the tablets trust (same key) while the names are covered; a new
    address needs a new CA (its constraints are fixed). ``--discard-ca`` keeps no CA key."""
    _run(tmp_path, "--ip", "10.231.0.9")
    tls = tmp_path / "data" / "tls"
    first = (tls / "ca.pem").read_bytes()
    _run(tmp_path, "--ip", "10.231.0.9")
    assert (tls / "ca.pem").read_bytes() == first
    _run(tmp_path, "--ip", "10.231.0.11")
    assert (tls / "ca.pem").read_bytes() != first
    shutil.rmtree(tmp_path / "config")
    done = _run(tmp_path, "--discard-ca")
    assert "discarded" in done.stdout
    assert not (tmp_path / "config").exists() or not _keys_under(tmp_path / "config")
    assert [p.name for p in _keys_under(tmp_path / "data")] == ["key.pem"]


def test_an_old_ca_key_in_the_data_folder_is_removed(tmp_path: Path) -> None:
    """A data folder made by the old ``findme cert`` (``data/tls/ca-key.pem``, an unconstrained
    ten-year CA) loses that key on the next run, and the CA is replaced."""
    tls = tmp_path / "data" / "tls"
    tls.mkdir(parents=True)
    old_key = ec.generate_private_key(ec.SECP256R1())
    (tls / "ca-key.pem").write_bytes(old_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    done = _run(tmp_path)
    assert not (tls / "ca-key.pem").exists()
    assert "ca-key.pem" in done.stdout
    assert [p.name for p in _keys_under(tmp_path / "data")] == ["key.pem"]
