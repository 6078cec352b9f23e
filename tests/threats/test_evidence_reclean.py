"""Evidence stored before today's metadata rules is cleaned by ``irbis threats clean-evidence``.

An older version kept, for instance, a camera's owner and serial number. The test stores such
a file as that version did (by its hash, the row naming it), runs the command, and reads what
the public downloads with ExifTool and a byte search, as in ``test_evidence_metadata``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app as cli
from tests.rollback import RolledBack
from tests.threats.test_evidence_metadata import (
    assert_no_identity,
    camera_photo,
    exiftool,
    publish_evidence,
)


def _as_stored_by_an_older_version(
    engine: Any, var_dir: Path, evidence_id: int, data: bytes
) -> None:
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{sha[:2]}/{sha}.jpg"
    target = var_dir / "evidence" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE evidence_files SET sha256 = :sha, size_bytes = :n, storage_path = :rel, "
                "metadata_rules = 1 WHERE id = :id"
            ),
            {"sha": sha, "n": len(data), "rel": rel, "id": evidence_id},
        )


def test_clean_evidence_rewrites_files_stored_with_identity(
    tx_as_user: Any,
    tx_client: Any,
    tx_cli: RolledBack,
    tx_settings: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    """The app and the command work in the test's transaction (rolled back after it), on the
    app's own evidence folder."""
    engine, client = tx_cli.engine, tx_client
    camera = camera_photo(tmp_path, "JPEG")
    assert "ExifIFD:SerialNumber" in exiftool(camera)
    publish_evidence(tx_as_user, client, "old.jpg", camera, "image/jpeg")
    with engine.connect() as conn:
        evidence_id = int(conn.execute(text("SELECT max(id) FROM evidence_files")).scalar_one())
    var_dir = Path(tx_settings.var_dir)
    _as_stored_by_an_older_version(engine, var_dir, evidence_id, camera)
    leaked = client.get(f"/evidence/{evidence_id}")
    assert leaked.status_code == 200
    with pytest.raises(AssertionError):  # the old file does leak: the check can fail
        assert_no_identity(leaked.content, exiftool(leaked.content))

    monkeypatch.setenv("IRBIS_VAR_DIR", str(var_dir))
    r = CliRunner().invoke(cli, ["threats", "clean-evidence"])
    assert r.exit_code == 0, r.output
    assert "rewritten" in r.output

    cleaned = client.get(f"/evidence/{evidence_id}")
    assert cleaned.status_code == 200
    assert_no_identity(cleaned.content, exiftool(cleaned.content))
    with engine.connect() as conn:
        sha = conn.execute(
            text("SELECT sha256 FROM evidence_files WHERE id = :id"), {"id": evidence_id}
        ).scalar_one()
    assert hashlib.sha256(cleaned.content).hexdigest() == sha
    old = hashlib.sha256(camera).hexdigest()
    assert not list((var_dir / "evidence").rglob(f"{old}.*"))  # the old file is gone
    again = CliRunner().invoke(cli, ["threats", "clean-evidence"])
    assert again.exit_code == 0, again.output
    assert "0 evidence files checked" in again.output  # a clean file is not re-encoded
