"""The key that signs session cookies and CSRF tokens.

``IRBIS_API_SECRET_KEY`` wins when it is set. Otherwise a random key is generated once and kept
in ``<var_dir>/secret_key`` (mode 600), so sessions survive restarts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from api.settings import APISettings, Settings

_UNSET = {"", APISettings.model_fields["secret_key"].default}


def secret_key(settings: Settings) -> bytes:
    """The signing key for ``settings`` (read from the environment or from ``var_dir``)."""
    if settings.api.secret_key not in _UNSET:
        return settings.api.secret_key.encode("utf-8")
    path = Path(settings.var_dir) / "secret_key"
    if path.exists():
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value.encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails if another process was first
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    finally:
        tmp.unlink()
    return value.encode("ascii")
