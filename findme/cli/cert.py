"""``findme cert`` (``make cert``): HTTPS for a dashboard on a local network.

Browsers give a page the camera only on ``localhost`` or over HTTPS, so a shelter's tablet
reaching the laptop at ``https://192.168.1.20:8501`` needs a certificate it trusts. This makes a
small local certificate authority (``data/tls/ca.pem``: install it once on each tablet) and a
server certificate signed by it for this machine's names and addresses (``cert.pem`` and
``key.pem``, 0600). A deployment that has its own certificate gives it with ``--from CERT KEY``
instead. ``make run HTTPS=1`` / ``make serve HTTPS=1`` then serve over TLS.

A CA a tablet trusts can vouch for any site, so this one is kept small:

- **name constraints** (critical): it may sign only for the names and single addresses it was
  made for (``localhost``, this host name, every interface address, ``--name``/``--ip``); a
  certificate it signs for any other name fails verification on the tablet, so even its key,
  stolen, impersonates nobody but this machine;
- **short lives**: the CA 2 years (730 days: long enough that tablets are not re-provisioned
  with every renewal, short enough that a forgotten one lapses), the server certificate 397
  days (under the 398-day limit browsers apply) and never beyond its CA;
- **its key is not in the data folder**: it is kept 0600 in a 0700 folder of the user's
  configuration (``$XDG_CONFIG_HOME/findme/ca/<id of the data folder>/``, or ``--ca-dir``) so
  that a renewal reuses the CA the tablets trust, or discarded right after signing with
  ``--discard-ca`` (the next run makes a new CA to install). Copying ``data/`` copies no CA key.
  A ``ca-key.pem`` left in ``data/tls`` by an older version is deleted, and its CA replaced.

A new CA is made when there is none, when it would lapse within the server certificate's life,
or when its constraints do not cover every requested name and address (they are fixed when it
is made): the command then says so, as ``ca.pem`` must be installed on the tablets again.
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
from typing import TYPE_CHECKING

from findme.config import get_settings

if TYPE_CHECKING:
    from cryptography import x509


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


#: how long the CA and the server certificate are valid (see the module docstring)
CA_DAYS = 730
SERVER_DAYS = 397


def ca_folder(data_dir: Path, base: Path | None = None) -> Path:
    """Where the CA key of the data folder ``data_dir`` is kept: ``base`` (``--ca-dir``) or
    ``$XDG_CONFIG_HOME/findme/ca`` (``~/.config/findme/ca``), then a folder named by a hash of
    the data folder's path (each deployment its own CA). Never inside ``data_dir``."""
    if base is None:
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        base = Path(config) / "findme" / "ca"
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    folder = base / tag
    if folder.resolve().is_relative_to(data_dir.resolve()):
        raise ValueError("the CA key may not be kept inside the data folder")
    return folder


def _subtrees(names: list[str], addresses: list[str]) -> list[x509.GeneralName]:
    """Name-constraint subtrees: each DNS name, each address as a single-address network."""
    from cryptography import x509

    trees: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names)]
    for a in dict.fromkeys(addresses):
        ip = ipaddress.ip_address(a)
        trees.append(x509.IPAddress(ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")))
    return trees


def _covers(ca_cert: x509.Certificate, wanted: list[x509.GeneralName], now: dt.datetime) -> bool:
    """Whether ``ca_cert`` may still sign a server certificate for every subtree in
    ``wanted`` for its whole life (its constraints list them all, it outlives that life)."""
    from cryptography import x509

    try:
        constraints = ca_cert.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return False  # an unconstrained CA (older versions): never reused
    permitted = set(constraints.value.permitted_subtrees or ())
    return (constraints.critical and set(wanted) <= permitted
            and ca_cert.not_valid_after_utc > now + dt.timedelta(days=SERVER_DAYS))


def make_certificate(folder: Path, names: list[str], addresses: list[str],
                     ca_dir: Path | None = None) -> tuple[Path, bool]:
    """A server certificate for ``names`` and ``addresses`` in ``folder`` (``cert.pem`` with
    the CA after it, ``key.pem`` 0600, ``ca.pem``), signed by a name-constrained local CA.

    The CA key is read from and kept in ``ca_dir`` (0700 folder, 0600 file; see
    :func:`ca_folder`); with ``ca_dir=None`` it is discarded after signing. The CA is reused
    when its key is there and it covers every name and address for the server certificate's
    whole life; otherwise a new one is made. Returns the certificate's path and whether the
    CA is new (``ca.pem`` must then be installed on the tablets again)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    now = dt.datetime.now(dt.UTC)
    pem = serialization.Encoding.PEM
    wanted = _subtrees(names, addresses)
    ca_cert = ca_key = None
    if ca_dir is not None and (ca_dir / "ca-key.pem").is_file() and (ca_dir / "ca.pem").is_file():
        kept = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
        if _covers(kept, wanted, now):
            ca_cert = kept
            ca_key = serialization.load_pem_private_key((ca_dir / "ca-key.pem").read_bytes(),
                                                        None)
    new_ca = ca_cert is None
    if ca_cert is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Find Me AI"),
                             x509.NameAttribute(NameOID.COMMON_NAME,
                                                f"Find Me AI local CA ({socket.gethostname()}, "
                                                f"{now:%Y-%m-%d})")])
        ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1))
                   .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), critical=True)
                   .add_extension(x509.NameConstraints(permitted_subtrees=wanted,
                                                       excluded_subtrees=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                       ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        if ca_dir is not None:
            ca_dir.mkdir(parents=True, exist_ok=True)
            ca_dir.chmod(0o700)
            _write_private(ca_dir / "ca-key.pem", ca_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            (ca_dir / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names)]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in dict.fromkeys(addresses)]
    until = min(now + dt.timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(until)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_cert.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(folder / "key.pem", key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    return folder / "cert.pem", new_ca


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
    data_dir = get_settings().data_dir
    folder = data_dir / "tls"
    old_key = folder / "ca-key.pem"
    if old_key.exists():  # an older version kept the CA key beside the server key
        old_key.unlink()
        print(f"deleted {old_key}: the CA key no longer stays in the data folder; remove the "
              "old 'Find Me AI local CA' from the tablets that trusted it")
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
    try:
        ca_dir = None if args.discard_ca else ca_folder(
            data_dir, Path(args.ca_dir) if args.ca_dir else None)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    cert, new_ca = make_certificate(folder, names, addresses, ca_dir)
    print(f"certificate {cert} for {', '.join(dict.fromkeys(names))} and "
          f"{', '.join(dict.fromkeys(addresses))}")
    if ca_dir is None:
        print("the CA key was discarded after signing: the next `findme cert` makes a new CA")
    else:
        print(f"the CA key is kept in {ca_dir} (0600), outside the data folder")
    if new_ca:
        print(f"a new CA: install {folder / 'ca.pem'} on each tablet or computer that opens "
              "the dashboard (README: HTTPS on a local network)")
    else:
        print(f"the same CA as before ({folder / 'ca.pem'}): tablets that trust it need nothing")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cert`` to the ``findme`` parser."""
    p = sub.add_parser(
        "cert", help="a TLS certificate for HTTPS on a local network, from a local CA limited "
        "to this machine's names and addresses (CA 2 years, certificate 397 days; the CA key "
        "is kept outside the data folder, in the user's config folder)")
    p.add_argument("--name", action="append", help="another host name it must cover")
    p.add_argument("--ip", action="append", help="another address it must cover")
    p.add_argument("--from", dest="source", nargs=2, metavar=("CERT", "KEY"),
                   help="use this certificate and key instead of making one")
    p.add_argument("--ca-dir", help="where to keep the CA key (default: "
                   "$XDG_CONFIG_HOME/findme/ca/<data folder id>; never inside the data folder)")
    p.add_argument("--discard-ca", action="store_true",
                   help="keep no CA key: sign, then forget it (the next run makes a new CA that "
                   "the tablets must trust again)")
    p.set_defaults(func=cmd_cert)
