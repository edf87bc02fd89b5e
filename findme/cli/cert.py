"""``findme cert`` (``make cert``): HTTPS for a dashboard on a local network.

Browsers give a page the camera only on ``localhost`` or over HTTPS, so a shelter's tablet
reaching the laptop at ``https://192.168.1.20:8501`` needs a certificate it trusts. This makes a
small local certificate authority (``data/tls/ca.pem``: install it once on each tablet) and a
server certificate signed by it for this machine's names and addresses (``cert.pem`` and
``key.pem``, 0600), valid for two years. A deployment that has its own certificate gives it with
``--from CERT KEY`` instead. ``make run HTTPS=1`` / ``make serve HTTPS=1`` then serve over TLS.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from findme.config import get_settings


def local_addresses() -> list[str]:
    """Every IPv4/IPv6 address of this machine's interfaces (``ip -o addr``), loopback too."""
    found = {"127.0.0.1", "::1"}
    try:
        out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[2] in ("inet", "inet6"):
            found.add(parts[3].split("/")[0])
    return sorted(found)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def make_certificate(folder: Path, names: list[str], addresses: list[str]) -> Path:
    """A local CA (kept, reused) and a server certificate for ``names`` and ``addresses`` in
    ``folder``; returns the server certificate's path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    now = dt.datetime.now(dt.UTC)
    pem = serialization.Encoding.PEM
    ca_cert_path, ca_key_path = folder / "ca.pem", folder / "ca-key.pem"
    if ca_cert_path.is_file() and ca_key_path.is_file():
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Find Me AI"),
                             x509.NameAttribute(NameOID.COMMON_NAME,
                                                f"Find Me AI local CA ({socket.gethostname()})")])
        ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1))
                   .not_valid_after(now + dt.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), critical=True)
                   .sign(ca_key, hashes.SHA256()))
        _write_private(ca_key_path, ca_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ca_cert_path.write_bytes(ca_cert.public_bytes(pem))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names)]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in dict.fromkeys(addresses)]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=730))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(folder / "key.pem", key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    return folder / "cert.pem"


def spki_hash(cert_path: Path) -> str:
    """Base64 SHA-256 of a certificate's public key (what Chromium's
    ``--ignore-certificate-errors-spki-list`` and HPKP-style pins name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def cmd_cert(args: argparse.Namespace) -> int:
    """Make (or take) the dashboard's TLS certificate; prints where it is and what it covers."""
    folder = get_settings().data_dir / "tls"
    if args.source:
        cert, key = (Path(p) for p in args.source)
        if not cert.is_file() or not key.is_file():
            print("--from needs an existing certificate and key file", file=sys.stderr)
            return 2
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        shutil.copyfile(cert, folder / "cert.pem")
        _write_private(folder / "key.pem", key.read_bytes())
        print(f"using the given certificate: {folder / 'cert.pem'}")
        return 0
    names = ["localhost", socket.gethostname(), *(args.name or [])]
    addresses = local_addresses() + (args.ip or [])
    cert = make_certificate(folder, names, addresses)
    print(f"certificate {cert} for {', '.join(dict.fromkeys(names))} and "
          f"{', '.join(dict.fromkeys(addresses))}")
    print(f"install {folder / 'ca.pem'} on each tablet or computer that opens the dashboard "
          "(README: HTTPS on a local network)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cert`` to the ``findme`` parser."""
    p = sub.add_parser("cert", help="a TLS certificate for HTTPS on a local network")
    p.add_argument("--name", action="append", help="another host name it must cover")
    p.add_argument("--ip", action="append", help="another address it must cover")
    p.add_argument("--from", dest="source", nargs=2, metavar=("CERT", "KEY"),
                   help="use this certificate and key instead of making one")
    p.set_defaults(func=cmd_cert)
