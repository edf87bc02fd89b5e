"""Alert channel settings saved from the Admin page, encrypted at rest.

E-mail (SendGrid), SMS (Twilio) and webhook settings can come from three places; the first that
gives a value wins: the environment, the secrets file (both read by :mod:`findme.config`), then
what an admin saved on the Admin page. Saved values live in ``<data>/config/alert-channels.enc``,
a Fernet token (AES-128-CBC + HMAC-SHA256) of a JSON object, under a key made on first save in
``<data>/config/alert-channels.key`` (mode 0600, folder 0700). Secrets (API key, auth token,
webhook URL and signing secret) are write-only: nothing here returns them for display.

In: a :class:`~findme.config.Settings`. Out: :func:`effective` returns it with saved values
filled in where it had none (what the rules and the outbox use); :func:`fields` describes each
setting for the page without its secret.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from findme.config import Settings

#: settings field -> (label, FINDME_* name, secret, channel)
FIELDS: dict[str, tuple[str, str, bool, str]] = {
    "alert_from": ("Sender address (From)", "FINDME_ALERT_FROM", False, "email"),
    "alert_emails": ("Always e-mail these addresses (comma-separated)",
                     "FINDME_ALERT_EMAILS", False, "email"),
    "sendgrid_api_key": ("SendGrid API key", "FINDME_SENDGRID_API_KEY", True, "email"),
    "twilio_account_sid": ("Twilio account SID", "FINDME_TWILIO_ACCOUNT_SID", False, "sms"),
    "twilio_auth_token": ("Twilio auth token", "FINDME_TWILIO_AUTH_TOKEN", True, "sms"),
    "twilio_from": ("Send SMS from (number)", "FINDME_TWILIO_FROM", False, "sms"),
    "alert_phones": ("Always text these numbers (comma-separated)", "FINDME_ALERT_PHONES",
                     False, "sms"),
    "webhook_url": ("Webhook URL (its path is often the secret)", "FINDME_WEBHOOK_URL", True,
                    "webhook"),
    "webhook_secret": ("Webhook signing secret", "FINDME_WEBHOOK_SECRET", True, "webhook"),
}
LISTS = {"alert_emails", "alert_phones"}
CHANNELS = ("email", "sms", "webhook")

_cache: dict[Path, tuple[tuple[int, int], dict[str, str]]] = {}


@dataclass(frozen=True)
class FieldView:
    """What the Admin page may show of one setting: never a secret's value."""

    name: str
    label: str
    env: str
    secret: bool
    channel: str
    source: str  # "environment or secrets file", "saved here" or "not set"
    shown: str  # a plain value, "set (hidden)", or ""


def _folder(settings: Settings) -> Path:
    return settings.data_dir / "config"


def _data_file(settings: Settings) -> Path:
    return _folder(settings) / "alert-channels.enc"


def _key(settings: Settings, create: bool) -> bytes | None:
    """The Fernet key (made on first save, 0600); None when there is none and ``create`` is
    False."""
    path = _folder(settings) / "alert-channels.key"
    if path.is_file():
        return path.read_bytes().strip()
    if not create:
        return None
    from cryptography.fernet import Fernet

    _folder(settings).mkdir(parents=True, exist_ok=True, mode=0o700)
    _folder(settings).chmod(0o700)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def stored(settings: Settings) -> dict[str, str]:
    """The saved values ``{field: text}`` ({} when nothing was saved). Raises ValueError when
    the file cannot be decrypted with the key beside it."""
    path = _data_file(settings)
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(path)
    if hit and hit[0] == stamp:
        return dict(hit[1])
    key = _key(settings, create=False)
    if key is None:
        raise ValueError(f"{path} has no key beside it: save the channel settings again")
    from cryptography.fernet import Fernet, InvalidToken

    try:
        values = json.loads(Fernet(key).decrypt(path.read_bytes()))
    except (InvalidToken, ValueError) as exc:
        raise ValueError(f"{path} cannot be read with its key: save the channel settings "
                         "again") from exc
    values = {k: str(v) for k, v in values.items() if k in FIELDS}
    _cache[path] = (stamp, values)
    return dict(values)


def save(settings: Settings, changes: dict[str, str | None]) -> list[str]:
    """Save channel settings: per field a new text, ``""`` to clear it, or None to keep what is
    saved. Returns the names of the fields that changed. Raises ValueError for an unknown
    field or a webhook URL that is not http(s)."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown channel setting(s): {', '.join(sorted(unknown))}")
    url = (changes.get("webhook_url") or "").strip()
    if url and not url.lower().startswith(("https://", "http://")):
        raise ValueError("the webhook URL must start with https:// (or http:// on a trusted "
                         "network)")
    values = stored(settings)
    changed = []
    for name, value in changes.items():
        if value is None:
            continue
        value = value.strip()
        if values.get(name, "") != value:
            changed.append(name)
        if value:
            values[name] = value
        else:
            values.pop(name, None)
    if not changed:
        return []
    from cryptography.fernet import Fernet

    token = Fernet(_key(settings, create=True)).encrypt(json.dumps(values).encode())
    path = _data_file(settings)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(token)
    os.replace(tmp, path)
    return changed


def _value(name: str, text: str) -> object:
    if name in LISTS:
        return tuple(p.strip() for p in text.split(",") if p.strip())
    return text.rstrip("/") if name == "webhook_url" else text


def effective(settings: Settings) -> Settings:
    """``settings`` with the saved values filled in wherever the environment and the secrets
    file gave none (a workspace with no saved file, such as the demo's, is returned as is)."""
    try:
        values = stored(settings)
    except ValueError:
        return settings
    fill = {k: _value(k, v) for k, v in values.items() if not getattr(settings, k)}
    return replace(settings, **fill) if fill else settings


def fields(settings: Settings) -> list[FieldView]:
    """Each channel setting with where its value comes from, for the Admin page; secrets show
    only whether they are set."""
    try:
        values = stored(settings)
    except ValueError:
        values = {}
    out = []
    for name, (label, env, secret, channel) in FIELDS.items():
        base = getattr(settings, name)
        if base:
            source, value = "environment or secrets file", base
        elif values.get(name):
            source, value = "saved here", values[name]
        else:
            source, value = "not set", ""
        if isinstance(value, tuple):
            value = ", ".join(value)
        shown = ("set (hidden)" if value else "") if secret else str(value)
        out.append(FieldView(name, label, env, secret, channel, source, shown))
    return out
