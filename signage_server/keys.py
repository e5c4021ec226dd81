"""The server's long-lived secrets, kept in the instance folder (or given by config).

- ``secret_key``: signs session cookies.
- ``sealing.key``: the Curve25519 private key whose public half kiosks use to seal personal
  fields (PyNaCl ``SealedBox``), so a stolen kiosk SD card holds nothing readable.

Files are created once, owner-only, and read on start; every server process of a deployment
must share the same instance files (or the same ``SIGNAGE_SECRET_KEY``).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

from nacl.public import PrivateKey


def _read_or_create(path: Path, make: bytes) -> bytes:
    """Create ``path`` holding ``make`` unless it exists, and return what it holds.

    The value is written whole to a temporary file first and then hard-linked into place,
    which fails if the name exists: several processes starting at once agree on one value
    and none ever reads a half-written file."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(make)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def secret_key(instance_path: Path) -> str:
    raw = _read_or_create(instance_path / "secret_key", secrets.token_hex(32).encode())
    return raw.decode().strip()


def sealing_key(instance_path: Path) -> PrivateKey:
    raw = _read_or_create(instance_path / "sealing.key",
                          base64.b64encode(bytes(PrivateKey.generate())))
    return PrivateKey(base64.b64decode(raw.strip()))


def public_key_b64(key: PrivateKey) -> str:
    return base64.b64encode(bytes(key.public_key)).decode("ascii")
