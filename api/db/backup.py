"""Backups: the database and the var directory in one archive, and their restore.

An archive is a plain tar file holding

- ``database.dump``: ``pg_dump --format=custom`` of the configured database;
- ``var/...``: every file under the var directory (evidence, analysis rasters, the secret key);
- ``manifest.json`` (last): format, time, Irbis version, schema revision, the source var
  directory, and the size and sha256 of every other member.

The database is dumped first, then the files: evidence and rasters are written before the rows
that name them are committed, so every row in the dump finds its file in the archive.

A restore checks everything before it changes anything: the manifest, every checksum, the
schema revision (a revision this code does not know is refused), that the target database has
the extensions the dump needs and is empty (or ``force``), that the var directory is empty (or
``force``). The database is then restored in one transaction (the dump turned into SQL by
``pg_restore``, run by ``psql --single-transaction``), and the var files, already extracted into
a temporary directory beside the var directory, are renamed into place.

Credentials go to the PostgreSQL tools through the environment (``PGPASSWORD``), never on a
command line, and are never printed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

FORMAT = "irbis-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
VAR = "var"
CHUNK = 1 << 20

#: TOC entries left out of a restore: the extensions and the ``public`` schema belong to the
#: superuser who prepared the database (scripts/database.sh), not to the Irbis role.
_SKIP_TOC = re.compile(
    r"^\d+; \d+ \d+ (EXTENSION |COMMENT - EXTENSION |ACL - SCHEMA public |SCHEMA - public |"
    r"COMMENT - SCHEMA public |TABLE DATA public spatial_ref_sys )"
)
_EXTENSION_TOC = re.compile(r"^\d+; \d+ \d+ EXTENSION - (\S+)")


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Report = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# The PostgreSQL client tools
# ---------------------------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program (PATH first, then Debian's versioned dirs)."""
    found = shutil.which(name)
    if found:
        return found
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (bindir / name).is_file():
            return str(bindir / name)
    raise BackupError(
        f"the PostgreSQL client program {name} is not installed "
        "(Debian: apt-get install postgresql-client-15)"
    )


def pg_environment(url: str) -> dict[str, str]:
    """The environment for psql/pg_dump/pg_restore to reach the database of ``url``.

    The password travels as PGPASSWORD, so it is never in a command line (``ps``)."""
    u = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    env["PGAPPNAME"] = "irbis-backup"
    if u.host:
        env["PGHOST"] = u.host
    if u.port:
        env["PGPORT"] = str(u.port)
    if u.username:
        env["PGUSER"] = u.username
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    if u.database:
        env["PGDATABASE"] = u.database
    query = dict(u.query)
    for key, var in (
        ("host", "PGHOST"),
        ("port", "PGPORT"),
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
    ):
        value = query.get(key)
        if isinstance(value, str):
            env[var] = value
    return env


def _error_line(stderr: str) -> str:
    """The first line that says what went wrong (never the connection parameters)."""
    for line in stderr.splitlines():
        if "ERROR:" in line or "FATAL:" in line or "error:" in line:
            return line.split("ERROR:", 1)[-1].split("FATAL:", 1)[-1].strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    # the programs are the PostgreSQL client tools, their arguments ours (no shell)
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise BackupError(f"{what} failed: {_error_line(proc.stderr)}")
    return proc.stdout


# ---------------------------------------------------------------------------------------------
# Archive members
# ---------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


#: Files still being written (renamed to their final name when complete): not backed up.
_TEMPORARY = re.compile(r"^\.(upload-|secret_key\.|.*\.partial)")


def _var_files(var_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file under ``var_dir`` with its archive name (symlinks are not followed)."""
    if not var_dir.is_dir():
        return
    for root, dirs, files in os.walk(var_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if _TEMPORARY.match(name) or path.is_symlink() or not path.is_file():
                continue
            yield path, str(PurePosixPath(VAR, *path.relative_to(var_dir).parts))


def _irbis_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("irbis")
    except PackageNotFoundError:
        return "unknown"


def _current_revision(url: str) -> str | None:
    from api.db import migrate

    return migrate.current(url)


@dataclass
class Manifest:
    created_at: str
    irbis_version: str
    schema_revision: str | None
    database: str | None
    var_dir: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "irbis_version": self.irbis_version,
            "schema_revision": self.schema_revision,
            "database": self.database,
            "var_dir": self.var_dir,
            "members": self.members,
        }
        return json.dumps(body, indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise ValueError("not an Irbis backup")
            if int(body.get("format_version", 0)) > FORMAT_VERSION:
                raise BackupError(
                    f"the archive has backup format {body['format_version']}, newer than this "
                    f"Irbis reads ({FORMAT_VERSION}); restore it with a newer Irbis"
                )
            members = body["members"]
            if not isinstance(members, dict) or DUMP not in members:
                raise ValueError("no database dump listed")
            for name, info in members.items():
                if not isinstance(info.get("sha256"), str) or not isinstance(info.get("size"), int):
                    raise ValueError(f"member {name} has no checksum")
            return cls(
                created_at=str(body["created_at"]),
                irbis_version=str(body["irbis_version"]),
                schema_revision=body.get("schema_revision"),
                database=body.get("database"),
                var_dir=str(body["var_dir"]),
                members=members,
            )
        except BackupError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"the archive's manifest is not valid: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Backup
# ---------------------------------------------------------------------------------------------


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> dict[str, Any] | None:
    """Add ``path`` as ``name``, hashing exactly the bytes written into the archive (None if
    the file went away since it was listed)."""
    h = hashlib.sha256()
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return None
    st = os.fstat(fh.fileno())
    info = tarfile.TarInfo(name)
    info.size = st.st_size
    info.mtime = int(st.st_mtime)
    info.mode = st.st_mode & 0o777

    class Hashing(io.RawIOBase):
        def __init__(self, fh: IO[bytes]) -> None:
            self.fh = fh

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            data = self.fh.read(len(b))
            h.update(data)
            b[: len(data)] = data
            return len(data)

    with fh:
        tar.addfile(info, Hashing(fh))
    return {"sha256": h.hexdigest(), "size": st.st_size}


def create_backup(url: str, var_dir: Path, out: Path, *, report: Report = _quiet) -> Manifest:
    """Write one archive of the database at ``url`` and everything under ``var_dir`` to
    ``out`` (written beside it under a temporary name, then renamed)."""
    out = out.absolute()
    if out.exists() and out.is_dir():
        raise BackupError(f"{out} is a directory; name the archive file to write")
    if not out.parent.is_dir():
        raise BackupError(f"the directory {out.parent} does not exist")
    var_dir = Path(var_dir).absolute()
    if var_dir == out.parent or var_dir in out.parents:
        raise BackupError("write the archive outside the var directory it backs up")
    env = pg_environment(url)
    try:
        revision = _current_revision(url)
    except Exception as exc:
        raise BackupError(
            f"cannot read the database {make_url(url).database!r} ({type(exc).__name__}); "
            "check IRBIS_DATABASE_URL and that PostgreSQL is running"
        ) from exc
    manifest = Manifest(
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        irbis_version=_irbis_version(),
        schema_revision=revision,
        database=make_url(url).database,
        var_dir=str(var_dir),
    )
    fd, partial_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    partial = Path(partial_name)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work,
        ):
            dump = Path(work) / DUMP
            report(f"dumping database {manifest.database} (revision {revision})")
            _run([pg_tool("pg_dump"), "--format=custom", "--file", str(dump)], env, "pg_dump")
            with tarfile.open(fileobj=raw, mode="w") as tar:
                added = _add_file(tar, dump, DUMP)
                if added is None:
                    raise BackupError("pg_dump wrote no dump")
                manifest.members[DUMP] = added
                n = 0
                for path, name in _var_files(var_dir):
                    added = _add_file(tar, path, name)
                    if added is not None:
                        manifest.members[name] = added
                        n += 1
                report(f"archived {n} files from {var_dir}")
                body = manifest.as_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(body)
                info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(body))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


# ---------------------------------------------------------------------------------------------
# Restore
# ---------------------------------------------------------------------------------------------


def read_manifest(archive: Path) -> Manifest:
    try:
        with tarfile.open(archive, mode="r:") as tar:
            member = tar.getmember(MANIFEST)
            fh = tar.extractfile(member)
            if fh is None:
                raise BackupError("the archive's manifest is not a file")
            return Manifest.parse(fh.read())
    except KeyError as exc:
        raise BackupError(f"{archive.name} has no {MANIFEST}: it is not an Irbis backup") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(
            f"{archive.name} cannot be read as an Irbis backup (damaged or truncated: {exc})"
        ) from exc


def _safe_name(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise BackupError(f"the archive holds an unsafe path {name!r}; it was not restored")
    return p


def _extract_verified(archive: Path, manifest: Manifest, dest: Path) -> None:
    """Extract every member into ``dest``, checking it against the manifest."""
    seen: set[str] = set()
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                if member.name == MANIFEST or member.isdir():
                    continue
                p = _safe_name(member.name)
                if not member.isfile():
                    raise BackupError(f"the archive member {member.name} is not a regular file")
                expected = manifest.members.get(member.name)
                if expected is None:
                    raise BackupError(f"the archive member {member.name} is not in the manifest")
                fh = tar.extractfile(member)
                if fh is None:
                    raise BackupError(f"the archive member {member.name} cannot be read")
                target = dest.joinpath(*p.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                size = 0
                with target.open("wb") as out:
                    while chunk := fh.read(CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(target, member.mode & 0o777 or 0o600)
                if h.hexdigest() != expected["sha256"] or size != expected["size"]:
                    raise BackupError(
                        f"the archive is damaged: {member.name} does not match its checksum"
                    )
                seen.add(member.name)
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"the archive is damaged or truncated ({exc})") from exc
    missing = sorted(set(manifest.members) - seen)
    if missing:
        raise BackupError(
            f"the archive is incomplete: {len(missing)} listed members are missing "
            f"(first: {missing[0]})"
        )


def head_revision(url: str) -> str | None:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    from api.db import migrate

    return ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()


def _check_revision(url: str, revision: str | None) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from api.db import migrate

    scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
    try:
        known = scripts.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"the backup's schema revision {revision} is newer than this Irbis knows "
            f"(head {scripts.get_current_head()}); restore it with the Irbis that made it "
            "or a newer one"
        )


def _dump_extensions(env: dict[str, str], dump: Path) -> tuple[list[str], list[str]]:
    """The restore list (``pg_restore -L``) with skipped entries commented out, and the
    extensions the dump needs."""
    toc = _run([pg_tool("pg_restore"), "--list", str(dump)], env, "reading the database dump")
    lines: list[str] = []
    extensions: list[str] = []
    for line in toc.splitlines():
        m = _EXTENSION_TOC.match(line)
        if m:
            extensions.append(m.group(1))
        lines.append(";" + line if _SKIP_TOC.match(line) else line)
    return lines, extensions


def _check_target(url: str, extensions: list[str], *, force: bool) -> None:
    eng = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with eng.connect() as conn:
            present = set(conn.execute(text("SELECT extname FROM pg_extension")).scalars())
            relations = conn.execute(
                text(
                    """
                    SELECT count(*) FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                      AND n.nspname NOT LIKE 'pg\\_toast%'
                      AND n.nspname NOT LIKE 'pg\\_temp%'
                      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                      AND NOT EXISTS (
                        SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype = 'e')
                    """
                )
            ).scalar_one()
    except Exception as exc:
        raise BackupError(
            f"cannot connect to the target database {make_url(url).database!r} "
            f"({type(exc).__name__}); check IRBIS_DATABASE_URL and that PostgreSQL is running"
        ) from exc
    finally:
        eng.dispose()
    lacking = [e for e in extensions if e not in present]
    if lacking:
        raise BackupError(
            f"the target database lacks the extension(s) {', '.join(lacking)}; create them as "
            "the PostgreSQL superuser first (scripts/database.sh does)"
        )
    if relations and not force:
        raise BackupError(
            f"the target database {make_url(url).database!r} is not empty ({relations} tables, "
            "views or sequences); restore into a new database, or pass --force to replace "
            "its contents"
        )


def _var_is_empty(var_dir: Path) -> bool:
    return not var_dir.exists() or (var_dir.is_dir() and not any(var_dir.iterdir()))


def _relocate_sql(old_var: str, new_var: str) -> str:
    """Point analysis rasters registered under the old var directory at the new one.

    A relocation, not an edit: the table's own triggers (audit, touch, version) stay quiet,
    as they do for the rows the restore itself loads. The two directories are quoted as SQL
    literals (psycopg) into settings of the transaction, which a constant block reads: a path
    is never part of the block's text."""
    old = old_var.rstrip("/") + "/"
    new = new_var.rstrip("/") + "/"
    return sql.SQL(_RELOCATE).format(old=sql.Literal(old), new=sql.Literal(new)).as_string()


_RELOCATE = """
SELECT set_config('irbis.relocate_from', {old}, true), set_config('irbis.relocate_to', {new}, true);
DO $$
DECLARE
  old_dir text := current_setting('irbis.relocate_from');
  new_dir text := current_setting('irbis.relocate_to');
BEGIN
  IF to_regclass('public.rasters') IS NOT NULL THEN
    ALTER TABLE public.rasters DISABLE TRIGGER USER;
    UPDATE public.rasters SET path = new_dir || substr(path, length(old_dir) + 1)
    WHERE left(path, length(old_dir)) = old_dir;
    ALTER TABLE public.rasters ENABLE TRIGGER USER;
  END IF;
END $$;
"""


#: Tables are created with the restoring role's default privileges in force; those of a fresh
#: database (scripts/database.sh lets the reader read every new table) would hand the reader
#: tables the dump keeps private. So they are cleared first: the dump brings its own back.
_CLEAR_DEFAULT_PRIVILEGES = """
DO $$ DECLARE r record; BEGIN
  FOR r IN
    SELECT d.defaclnamespace AS ns, d.defaclobjtype AS kind, a.grantee
    FROM pg_default_acl d, aclexplode(d.defaclacl) a
    WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
      AND a.grantee <> d.defaclrole
  LOOP
    EXECUTE format(
      'ALTER DEFAULT PRIVILEGES %s REVOKE ALL ON %s FROM %s',
      CASE WHEN r.ns = 0 THEN '' ELSE 'IN SCHEMA ' || r.ns::regnamespace::text END,
      CASE r.kind WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
                  WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
      CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);
  END LOOP;
END $$;
"""


def _restore_database(
    env: dict[str, str], dump: Path, toc: list[str], *, force: bool, relocate: str | None
) -> None:
    """Turn the dump into SQL (checked complete first), then run it all in one transaction."""
    listing = dump.with_name("restore.list")
    listing.write_text("\n".join(toc) + "\n", encoding="utf-8")
    script = dump.with_name("restore.sql")
    try:
        _run(
            [pg_tool("pg_restore"), "--no-owner", "-L", str(listing), "-f", str(script), str(dump)],
            env,
            "reading the database dump",
        )
        psql = [pg_tool("psql"), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1"]
        if force:
            psql += ["-c", "DROP OWNED BY CURRENT_USER"]
        psql += ["-c", _CLEAR_DEFAULT_PRIVILEGES, "-f", str(script)]
        if relocate:
            psql += ["-c", relocate]
        proc = subprocess.run(psql, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        script.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise BackupError(
            f"restoring the database failed and was rolled back: {_error_line(proc.stderr)}"
        )


@contextmanager
def _staging(var_dir: Path) -> Iterator[Path]:
    """A temporary directory beside ``var_dir`` (same file system: renames are atomic)."""
    var_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=var_dir.parent, prefix=f".{var_dir.name}.restore-"))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(new: Path, var_dir: Path, stage: Path) -> None:
    """Put ``new`` where ``var_dir`` is, moving the old directory aside first."""
    if var_dir.exists():
        old = stage / "previous"
        os.rename(var_dir, old)
        try:
            os.rename(new, var_dir)
        except BaseException:
            os.rename(old, var_dir)
            raise
    else:
        os.rename(new, var_dir)
    fd = os.open(var_dir.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore_backup(
    archive: Path, url: str, var_dir: Path, *, force: bool = False, report: Report = _quiet
) -> Manifest:
    """Restore ``archive`` into the database at ``url`` and into ``var_dir``.

    Nothing is changed unless every check passes; see the module docstring."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"there is no archive {archive}")
    var_dir = Path(var_dir).absolute()
    manifest = read_manifest(archive)
    report(
        f"backup of {manifest.created_at}, Irbis {manifest.irbis_version}, "
        f"schema revision {manifest.schema_revision}, {len(manifest.members) - 1} var files"
    )
    _check_revision(url, manifest.schema_revision)
    if not force and not _var_is_empty(var_dir):
        raise BackupError(
            f"the var directory {var_dir} is not empty; point IRBIS_VAR_DIR at a new "
            "directory, or pass --force to replace it"
        )
    if var_dir.exists() and not var_dir.is_dir():
        raise BackupError(f"the var directory {var_dir} is a file")
    env = pg_environment(url)
    with _staging(var_dir) as stage:
        extracted = stage / "archive"
        _extract_verified(archive, manifest, extracted)
        report("every checksum matches")
        dump = extracted / DUMP
        toc, extensions = _dump_extensions(env, dump)
        _check_target(url, extensions, force=force)
        relocate = None
        if manifest.var_dir.rstrip("/") != str(var_dir).rstrip("/"):
            relocate = _relocate_sql(manifest.var_dir, str(var_dir))
        _restore_database(env, dump, toc, force=force, relocate=relocate)
        report(f"database {make_url(url).database} restored")
        new_var = extracted / VAR
        new_var.mkdir(exist_ok=True)
        _swap_in(new_var, var_dir, stage)
        report(f"var directory {var_dir} restored")
    return manifest
