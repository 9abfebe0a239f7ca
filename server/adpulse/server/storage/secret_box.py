"""Secrets the server must read back (webhook signing secrets), sealed under a server key.

AES-256-GCM with a random 96-bit nonce per secret; the context (tenant and subscription id)
is authenticated data, so a sealed secret copied onto another row does not open. The key is
32 random bytes in a file (`ADPULSE_ALERT_KEY_FILE`, by default `<data dir>/alerts.key`),
created with mode 0600 on first start. The database alone therefore reveals no secret; every
server and worker that signs deliveries must be given the same key file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adpulse.server.settings import SettingsError

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"\x01"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SettingsError(f"the alert key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: Path, *, create: bool) -> SecretBox:
        """The key in `path`; with `create`, a new key is written there if there is none."""
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first; read theirs
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            raise SettingsError(
                f"the alert key file {path} does not exist: give every worker the servers' key "
                "(ADPULSE_ALERT_KEY_FILE)"
            ) from None
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise SettingsError(f"the alert key file {path} must hold {KEY_BYTES} bytes as hex") from None

    def seal(self, secret: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, secret, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if sealed[:1] != _VERSION:
            raise ValueError("unknown sealed-secret version")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context)
        except InvalidTag:
            raise ValueError("the secret was sealed under another key or for another row") from None
