"""Encryption of stored secrets (upstream headers and env, external servers' headers).

    box = SecretBox.from_settings(settings)
    token = box.seal({"Authorization": "Bearer …"})
    box.open(token)  # → the mapping again

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`): authenticated, so a wrong key
is detected rather than producing garbage. `MCPGATE_SECRET_KEY` holds one key or several
comma-separated ones (the first encrypts, all decrypt: rotation). A key that is not a
Fernet key is stretched with HKDF, so any long random string works. With no key set, one
is generated once into the data directory (mode 0600) so the embedded default works out
of the box; replicas that share a database must share a key, so they should set one.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from mcpgate.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

logger = logging.getLogger(__name__)

KEY_FILE = "secret.key"
MASK = "********"


class SecretBox:
    """`cryptography` (~8 MB) is loaded with the first secret sealed or opened, not at start:
    a gateway whose upstreams come from a config file may never store one."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigError("no secret key")
        for key in keys:
            if not _is_fernet_key(key):
                raise ConfigError("a secret key is not a Fernet key (url-safe base64 of 32 bytes)")
        self._keys = keys

    @cached_property
    def _fernet(self) -> MultiFernet:
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(key) for key in self._keys])

    @classmethod
    def from_settings(cls, secret_key: str | None, data_dir: Path) -> SecretBox:
        if secret_key:
            return cls([_fernet_key(part.strip()) for part in secret_key.split(",") if part.strip()])
        return cls([_key_file(data_dir)])

    @classmethod
    def ephemeral(cls) -> SecretBox:
        """A key that lives as long as the process, for a database that does too."""
        return cls([_new_key()])

    def seal(self, secrets: Mapping[str, object]) -> str | None:
        """A token for `secrets`, or None when there is nothing to hide."""
        if not secrets:
            return None
        return self._fernet.encrypt(orjson.dumps(dict(secrets))).decode("ascii")

    def open(self, token: str | None) -> dict[str, object]:
        if not token:
            return {}
        from cryptography.fernet import InvalidToken

        try:
            return orjson.loads(self._fernet.decrypt(token.encode("ascii")))
        except InvalidToken:
            raise ConfigError(
                "stored secrets cannot be decrypted: MCPGATE_SECRET_KEY is missing or is not the key they were "
                "stored with (to rotate keys, list the new key first and the old one after it, comma-separated)"
            ) from None


def _is_fernet_key(key: bytes) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key)) == 32
    except (binascii.Error, ValueError):
        return False


def _new_key() -> bytes:
    return base64.urlsafe_b64encode(os.urandom(32))  # as Fernet.generate_key, without loading cryptography


def _fernet_key(text: str) -> bytes:
    try:
        if _is_fernet_key(text.encode("ascii")):
            return text.encode("ascii")
    except UnicodeEncodeError:
        pass
    if len(text) < 16:
        raise ConfigError("MCPGATE_SECRET_KEY is too short: use at least 16 random characters (or a Fernet key)")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mcpgate secrets").derive(text.encode())
    return base64.urlsafe_b64encode(derived)


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    try:
        # O_EXCL: two processes starting at once must not each write their own key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    logger.info("generated a secret key in %s (set MCPGATE_SECRET_KEY to manage it yourself)", path)
    return key


def mask(values: Mapping[str, str]) -> dict[str, str]:
    """What the API shows of secret values: the names, never the values."""
    return dict.fromkeys(values, MASK)


def mask_url(url: str) -> str:
    """A URL as the API shows it: credentials in it and query values (often tokens) masked."""
    base, _, query = url.partition("?")
    scheme, slashes, rest = base.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if slashes and at:  # user:password@host keeps the user; a lone name may be a token (TOKEN@host)
        shown = f"{userinfo.split(':', 1)[0]}:{MASK}" if ":" in userinfo else MASK
        base = f"{scheme}://{shown}@{host}{slash}{path}"
    if not query:
        return base
    return base + "?" + "&".join(f"{part.split('=', 1)[0]}={MASK}" for part in query.split("&"))


def unmask(given: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, str]:
    """A client that sends back what it was shown keeps the stored value, not the mask."""
    return {name: stored.get(name, value) if value == MASK else value for name, value in given.items()}
