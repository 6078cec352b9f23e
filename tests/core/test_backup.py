"""``irbis db backup`` / ``irbis db restore``: every table and every file comes back as it was,
and a damaged or foreign archive changes nothing."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from api.cli import app as cli
from tests.conftest import TEST_URL
from tests.pgcluster import fresh_database, superuser_sql

pytestmark = pytest.mark.cleaned_up  # its servers and commands run in processes of their own

RESTORE_DB = f"{make_url(TEST_URL).database}_restore"


def _tables(eng: Engine) -> list[str]:
    with eng.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                    "'public' AND table_type = 'BASE TABLE' AND table_name <> 'spatial_ref_sys' "
                    "ORDER BY 1"
                )
            ).scalars()
        )


def snapshot(url: str, replace: tuple[str, str] = ("", "")) -> dict[str, tuple[int, str]]:
    """Row count and a hash of the contents of every table (and each sequence's position).

    ``replace`` rewrites a string in the rows of ``rasters`` before hashing (the var
    directory's path, which a restore into another var directory rewrites there)."""
    eng = create_engine(url)
    old, new = replace
    try:
        out: dict[str, tuple[int, str]] = {}
        with eng.connect() as conn:
            for table in _tables(eng):
                row = conn.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(replace(t::text, :old, :new), "
                        f"E'\\n' ORDER BY t::text), '')) FROM public.\"{table}\" t"
                    ),
                    {"old": (old if table == "rasters" else "") or "\x01", "new": new},
                ).one()
                out[table] = (int(row[0]), str(row[1]))
            for seq in conn.execute(
                text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname='public'")
            ):
                out[f"sequence {seq[0]}"] = (int(seq[1] or 0), "")
            # who may read what: table and column privileges, and the default privileges
            for name, acl in conn.execute(
                text(
                    "SELECT c.relname, coalesce(c.relacl, acldefault('r', c.relowner))::text || ' ' || coalesce(("
                    "SELECT string_agg(a.attname || '=' || a.attacl::text, ',' "
                    "ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid "
                    "AND a.attacl IS NOT NULL), '') FROM pg_class c "
                    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') "
                    "AND c.relname <> 'spatial_ref_sys'"
                )
            ):
                out[f"privileges {name}"] = (0, str(acl))
            defaults = conn.execute(
                text(
                    "SELECT coalesce(string_agg(defaclobjtype::text || defaclacl::text, ',' "
                    "ORDER BY defaclobjtype), '') FROM pg_default_acl"
                )
            ).scalar_one()
            out["default privileges"] = (0, str(defaults))
        return out
    finally:
        eng.dispose()


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def invoke(monkeypatch: pytest.MonkeyPatch, url: str, var_dir: Path, *args: str) -> Any:
    monkeypatch.setenv("IRBIS_DATABASE_URL", url)
    monkeypatch.setenv("IRBIS_VAR_DIR", str(var_dir))
    return CliRunner().invoke(cli, ["db", *args])


@dataclass
class Restored:
    source_var: Path
    archive: Path
    url: str
    var_dir: Path
    before: dict[str, tuple[int, str]]
    files: dict[str, str]
    output: str


@pytest.fixture(scope="module")
def restored(
    demo: dict[str, int], engine: Engine, settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Restored]:
    """The demo database plus evidence, an analysis raster and a secret key, backed up and
    restored into a new database and a new var directory."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("backup")
    var = root / "var"
    (var / "evidence" / "ab").mkdir(parents=True)
    (var / "evidence" / "ab" / "ab12.jpg").write_bytes(b"\xff\xd8 evidence photo " * 500)
    (var / "evidence" / "cd").mkdir()
    (var / "evidence" / "cd" / "cd34.png").write_bytes(bytes(range(256)) * 40)
    (var / "analyses").mkdir()
    dem = settings.data_dir / "elevation" / "gebco2023_almaty_ile_alatau_15s.tif"
    raster = var / "analyses" / "backup_test_raster.tif"
    shutil.copyfile(dem, raster)
    (var / "secret_key").write_text("a-secret-key-for-the-backup-test")
    (var / "secret_key").chmod(0o600)
    # files still being written when the backup runs are left out
    (var / "evidence" / "ab" / ".upload-k2j3h4").write_bytes(b"half a photo")
    (var / "analyses" / ".ecosystems_run_9.0a1b2c3d.partial.tif").write_bytes(b"half a raster")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rasters WHERE name = 'backup_test_raster'"))
        conn.execute(
            text(
                "INSERT INTO rasters (name, title, kind, path, sha256, crs, width, height, "
                "resolution, dtype, nodata, units, properties, geom, source, licence, method) "
                "SELECT 'backup_test_raster', 'Backup test', 'classification', :path, sha256, "
                "crs, width, height, resolution, dtype, nodata, units, properties, geom, source, "
                "licence, method FROM rasters WHERE name = 'dem_gebco_almaty'"
            ),
            {"path": str(raster)},
        )
    try:
        archive = root / "irbis.tar"
        r = invoke(mp, TEST_URL, var, "backup", str(archive))
        assert r.exit_code == 0, r.output
        before = snapshot(TEST_URL, (str(var), str(root / "restored-var")))
        files = {k: v for k, v in file_hashes(var).items() if "/." not in f"/{k}"}
        with fresh_database(TEST_URL, RESTORE_DB) as url:
            r = invoke(mp, url, root / "restored-var", "restore", str(archive))
            yield Restored(var, archive, url, root / "restored-var", before, files, r.output)
    finally:
        mp.undo()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM rasters WHERE name = 'backup_test_raster'"))


def test_every_table_and_file_comes_back(restored: Restored) -> None:
    assert "restored the backup" in restored.output, restored.output
    after = snapshot(restored.url)
    assert set(after) == set(restored.before)
    assert len([t for t in after if " " not in t]) >= 30
    assert "irbis_reader" in after["default privileges"][1]
    assert restored.before["protected_areas"][0] > 0 and restored.before["rasters"][0] >= 4
    different = {t: (restored.before[t], after[t]) for t in after if after[t] != restored.before[t]}
    assert different == {}
    assert file_hashes(restored.var_dir) == restored.files
    assert len(restored.files) == 4
    assert (restored.var_dir / "secret_key").stat().st_mode & 0o777 == 0o600


def test_restored_raster_points_into_the_new_var_dir(restored: Restored) -> None:
    eng = create_engine(restored.url)
    try:
        with eng.connect() as conn:
            path = conn.execute(
                text("SELECT path FROM rasters WHERE name = 'backup_test_raster'")
            ).scalar_one()
    finally:
        eng.dispose()
    assert Path(path) == restored.var_dir / "analyses" / "backup_test_raster.tif"
    assert Path(path).is_file()


def test_reader_privileges_come_back(restored: Restored) -> None:
    reader = make_url(restored.url).set(username="irbis_reader", password="irbis_reader")
    eng = create_engine(reader)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM protected_areas")).scalar_one() > 0
        with eng.connect() as conn, pytest.raises(Exception, match="permission denied"):
            conn.execute(text("SELECT password_hash FROM users LIMIT 1")).all()
    finally:
        eng.dispose()


def test_a_non_empty_database_is_refused(
    restored: Restored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    r = invoke(monkeypatch, restored.url, tmp_path / "var", "restore", str(restored.archive))
    assert r.exit_code == 1
    assert "is not empty" in r.output and "--force" in r.output
    assert not (tmp_path / "var").exists()


def test_a_non_empty_var_dir_is_refused(
    restored: Restored, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = invoke(monkeypatch, restored.url, restored.var_dir, "restore", str(restored.archive))
    assert r.exit_code == 1 and "var directory" in r.output and "not empty" in r.output


def _corrupt(archive: Path, out: Path) -> None:
    """Flip bytes in the middle of the database dump, as a bad disk or copy would."""
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        member = tar.getmember("database.dump")
    middle = member.offset_data + member.size // 2
    for i in range(middle, middle + 64):
        data[i] ^= 0xFF
    out.write_bytes(bytes(data))


def _with_manifest(archive: Path, out: Path, **changes: Any) -> None:
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src:
            fh = src.extractfile(member)
            if member.name == "manifest.json":
                assert fh is not None
                body = json.loads(fh.read())
                body.update(changes)
                raw = json.dumps(body).encode()
                member.size = len(raw)
                dst.addfile(member, io.BytesIO(raw))
            else:
                dst.addfile(member, fh)


DAMAGES = {
    "flipped": "does not match its checksum",
    "truncated": "cannot be read as an Irbis backup",
    "foreign": "not an Irbis backup",
    "newer_schema": "newer than this Irbis knows",
}


def _damaged(archive: Path, out: Path, damage: str) -> None:
    if damage == "flipped":
        _corrupt(archive, out)
    elif damage == "truncated":
        out.write_bytes(archive.read_bytes()[:1_500_000])
    elif damage == "foreign":
        with tarfile.open(out, "w") as tar:
            tar.add(__file__, arcname="notes.txt")
    else:
        _with_manifest(archive, out, schema_revision="9999_from_the_future")


def test_a_damaged_archive_changes_nothing(
    restored: Restored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Four kinds of damage, each refused with its own message; the database (one snapshot
    before and after all four: a change by any of them would still be there) and the files
    (after each) untouched."""
    before = snapshot(restored.url)
    files = file_hashes(restored.var_dir)
    siblings = sorted(p.name for p in restored.var_dir.parent.iterdir())
    for damage, expect in DAMAGES.items():
        bad = tmp_path / f"{damage}.tar"
        _damaged(restored.archive, bad, damage)
        # even with --force, a damaged archive must not touch the database or the files
        r = invoke(monkeypatch, restored.url, restored.var_dir, "restore", "--force", str(bad))
        assert r.exit_code == 1, damage
        assert expect in r.output, (damage, r.output)
        assert "Traceback" not in r.output, damage
        assert file_hashes(restored.var_dir) == files, damage
        assert sorted(p.name for p in restored.var_dir.parent.iterdir()) == siblings, damage
    assert snapshot(restored.url) == before


def test_force_replaces_a_database_and_var_dir(
    restored: Restored, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = create_engine(restored.url)
    try:
        with eng.begin() as conn:
            conn.execute(text("DELETE FROM field_sites"))
            conn.execute(text("CREATE TABLE stray_table (x int)"))
    finally:
        eng.dispose()
    (restored.var_dir / "stray.txt").write_text("not in the backup")
    r = invoke(
        monkeypatch, restored.url, restored.var_dir, "restore", "--force", str(restored.archive)
    )
    assert r.exit_code == 0, r.output
    assert snapshot(restored.url) == restored.before
    assert file_hashes(restored.var_dir) == restored.files


def test_a_failed_restore_is_rolled_back_whole(
    restored: Restored, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--force drops the old contents and loads the dump in one transaction: when the load
    fails, the old contents are still there, and the var directory is untouched."""
    before = snapshot(restored.url)
    files = file_hashes(restored.var_dir)
    db = make_url(restored.url).database
    assert db
    # an object of another role that depends on the Irbis tables: dropping them fails
    superuser_sql(db, "CREATE VIEW superuser_view AS SELECT id FROM protected_areas;")
    try:
        r = invoke(
            monkeypatch, restored.url, restored.var_dir, "restore", "--force", str(restored.archive)
        )
    finally:
        superuser_sql(db, "DROP VIEW superuser_view;")
    assert r.exit_code == 1
    assert "restoring the database failed and was rolled back" in r.output, r.output
    assert snapshot(restored.url) == before
    assert file_hashes(restored.var_dir) == files


def test_credentials_never_reach_a_command_line(
    demo: dict[str, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The password goes to pg_dump through the environment, so ``ps`` cannot show it."""
    calls: list[tuple[list[str], dict[str, str]]] = []
    real_init = subprocess.Popen.__init__

    def spy(self: Any, args: Any, *a: Any, **kw: Any) -> None:
        calls.append(([str(x) for x in args], dict(kw.get("env") or {})))
        real_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    password = make_url(TEST_URL).password
    r = invoke(monkeypatch, TEST_URL, tmp_path / "var", "backup", str(tmp_path / "b.tar"))
    assert r.exit_code == 0, r.output
    dumps = [(args, env) for args, env in calls if Path(args[0]).name == "pg_dump"]
    assert dumps
    for args, env in dumps:
        assert env.get("PGPASSWORD") == password
        assert not any("postgresql" in a or "@" in a or "password" in a.lower() for a in args)
    assert f":{password}@" not in r.output


def test_an_unreachable_database_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = make_url(TEST_URL).set(port=1, password="not-this-one")
    r = invoke(
        monkeypatch,
        url.render_as_string(hide_password=False),
        tmp_path / "var",
        "backup",
        str(tmp_path / "b.tar"),
    )
    assert r.exit_code == 1
    assert "cannot read the database" in r.output and "PostgreSQL is running" in r.output
    assert "not-this-one" not in r.output and "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []
