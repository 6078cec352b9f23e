"""A bulk monitoring upload carries evidence: a ZIP of the CSV and the files its ``evidence``
column names. The files are checked and cleaned like those of a single record; the batch is
stored whole (records and files, in one transaction) or not at all, with a report per row.
The served files are read back with Pillow and pikepdf, as a reader of the page would."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pikepdf
from PIL import Image
from sqlalchemy import text
from typer.testing import CliRunner

from geo.evidence import GPS_IFD
from tests.monitoring.conftest import GRANT, SITE, hdr
from tests.threats.conftest import photo_with_gps

HEADER = "site,indicator,period_start,period_end,value,method_note,points,evidence\n"
PHOTO = "photos/trap 4.jpg"


def pdf_with_author() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Field Team Leader"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def archive(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def rows(*lines: str) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode()


def upload(c, body: bytes, name: str = "records.zip", **params: object):  # type: ignore[no-untyped-def]
    return c.post(
        f"/api/grants/{GRANT}/monitoring/csv",
        files={"file": (name, body, "application/zip")},
        params=params,
        headers=hdr(c),
    )


def stored_records(db_tx) -> int:  # type: ignore[no-untyped-def]
    n = db_tx.connection.execute(
        text("SELECT count(*) FROM monitoring_records WHERE method <> 'example'")
    ).scalar_one()
    return int(n)


def stored_files(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    return [p for p in (Path(settings.var_dir) / "evidence").rglob("*") if p.is_file()]


def test_a_zip_stores_records_with_their_cleaned_evidence(tx_login_as, tx_settings, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    body = archive(
        {
            "records.csv": rows(
                f"{SITE},camera_trap_nights,2024-05-03,2024-05-17,140,12 stations,,{PHOTO}",
                f"{SITE},patrol_km,2024-05-03,,31.5,,,report.pdf; {PHOTO}",
            ),
            PHOTO: photo_with_gps(),
            "report.pdf": pdf_with_author(),
            "__MACOSX/photos/._trap 4.jpg": b"\x00\x05\x16\x07 resource fork",
        }
    )
    dry = upload(own, body, dry_run="true")
    assert dry.status_code == 200, dry.text
    assert [r["status"] for r in dry.json()["report"]] == ["ok", "ok"]
    assert stored_records(db_tx) == 0 and stored_files(tx_settings) == []

    r = upload(own, body)
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert report[0]["message"].endswith("with 1 evidence file")
    assert report[1]["message"].endswith("with 2 evidence files")
    assert stored_records(db_tx) == 2
    assert len(stored_files(tx_settings)) == 2  # the photo both rows name is stored once
    records = own.get(f"/api/grants/{GRANT}/monitoring", params={"state": "submitted"}).json()
    mine = {x["indicator"]: x for x in records["records"] if x["period_start"] == "2024-05-03"}
    assert len(mine["camera_trap_nights"]["evidence"]) == 1
    assert len(mine["patrol_km"]["evidence"]) == 2
    served = [own.get(url) for url in mine["patrol_km"]["evidence"]]
    assert all(s.status_code == 200 for s in served)
    by_type = {s.headers["content-type"]: s.content for s in served}
    photo = by_type["image/jpeg"]
    assert b"Photographer Name" not in photo
    with Image.open(io.BytesIO(photo)) as im:
        assert not im.getexif().get_ifd(GPS_IFD) and GPS_IFD not in im.getexif()
    with pikepdf.open(io.BytesIO(by_type["application/pdf"])) as pdf:
        assert "/Author" not in pdf.docinfo
    assert b"Field Team Leader" not in by_type["application/pdf"]
    # the files of a record that is not accepted yet are not public
    anonymous = tx_login_as("anonymous")
    assert anonymous.get(mine["patrol_km"]["evidence"][0]).status_code == 404


def test_a_missing_evidence_file_stores_nothing(tx_login_as, tx_settings, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    body = archive(
        {
            "upload/records.csv": rows(
                f"{SITE},camera_trap_nights,2024-06-03,,90,,,upload/{PHOTO}",
                f"{SITE},camera_trap_nights,2024-06-04,,80,,,upload/photos/trap 5.jpg",
            ),
            f"upload/{PHOTO}": photo_with_gps(),
        }
    )
    r = upload(own, body)
    assert r.status_code == 422, r.text
    out = r.json()
    assert out["stored"] is False and out["errors"] == 1
    second = out["report"][1]
    assert second["row"] == 3 and second["status"] == "error"
    assert "'upload/photos/trap 5.jpg' is not in the archive" in second["message"]
    assert f"upload/{PHOTO}" in second["message"]  # what the archive has
    assert out["report"][0]["status"] == "ok"
    assert stored_records(db_tx) == 0 and stored_files(tx_settings) == []


def test_a_hostile_evidence_file_is_refused_and_nothing_is_stored(
    tx_login_as, tx_settings, db_tx
) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    body = archive(
        {
            "records.csv": rows(
                f"{SITE},camera_trap_nights,2024-07-03,,90,,,{PHOTO}",
                f"{SITE},camera_trap_nights,2024-07-04,,80,,,photos/trap 6.jpg",
            ),
            PHOTO: photo_with_gps(),
            "photos/trap 6.jpg": b"<html><script>alert(document.cookie)</script></html>",
        }
    )
    r = upload(own, body)
    assert r.status_code == 422, r.text
    bad = r.json()["report"][1]
    assert bad["status"] == "error" and "not a JPEG or PNG photo or a PDF" in bad["message"]
    assert stored_records(db_tx) == 0 and stored_files(tx_settings) == []


#: Archives refused whole, and what the refusal says.
REFUSED = [
    ({"records.csv": rows(), "../../evil.jpg": b"\xff\xd8\xff"}, "path traversal"),
    ({"records.csv": rows(), "photos/zeros.jpg": bytes(3_000_000)}, "zip bomb"),
    ({"a.csv": rows(), "b.csv": rows()}, "exactly one CSV file"),
    ({PHOTO: b"\xff\xd8\xff"}, "exactly one CSV file"),
]


def test_hostile_damaged_or_wrong_uploads_are_refused_whole(
    tx_login_as, tx_settings, db_tx, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    for files, message in REFUSED:
        r = upload(own, archive(files))
        assert r.status_code == 422, r.text
        assert r.json()["stored"] is False and message in r.json()["error"], (message, r.text)
        assert "/tmp" not in r.text and "Traceback" not in r.text
    damaged = archive({"records.csv": rows(f"{SITE},patrol_km,2024-08-01,,3,,,")})[:40]
    r = upload(own, damaged)
    assert r.status_code == 422 and "not a readable ZIP archive" in r.json()["error"]
    # a plain CSV cannot carry the files its evidence column names
    plain = rows(f"{SITE},patrol_km,2024-08-01,,3,,,{PHOTO}")
    r = upload(own, plain, name="records.csv")
    assert r.status_code == 422, r.text
    assert "send a ZIP archive of the CSV and the files" in r.json()["report"][0]["message"]
    # a CSV that unpacks beyond the upload limit is refused before it is read
    monkeypatch.setattr(tx_settings.uploads, "max_bytes", 20_000)
    long = rows(f"{SITE},patrol_km,2024-08-01,,3,{'x' * 30_000},,")
    r = upload(own, archive({"records.csv": long}))
    assert r.status_code == 422, r.text
    assert "records.csv is larger than 0.02 MB once unpacked" in r.json()["error"]
    assert stored_records(db_tx) == 0


def test_the_command_line_imports_a_zip_too(settings, engine, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.cli import app

    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("IRBIS_VAR_DIR", str(tmp_path / "var"))
    line = f"{SITE},camera_trap_nights,2024-09-03,,60,,,{PHOTO}"
    good = tmp_path / "good.zip"
    good.write_bytes(archive({"records.csv": rows(line), PHOTO: photo_with_gps()}))
    runner = CliRunner()
    r = runner.invoke(app, ["monitoring", "import", GRANT, str(good), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "1 records checked (dry run, nothing stored)" in r.output
    missing = tmp_path / "missing.zip"
    missing.write_bytes(archive({"records.csv": rows(line)}))
    r = runner.invoke(app, ["monitoring", "import", GRANT, str(missing)])
    assert r.exit_code == 1 and "row 2" in r.output and "not in the archive" in r.output
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM monitoring_records WHERE period_start = '2024-09-03'")
        ).scalar_one()
    assert n == 0 and not (tmp_path / "var" / "evidence").exists()
