"""The bulk monitoring upload page (/monitoring/upload): a grantee chooses one of its grants
and a CSV (or a ZIP of it and its evidence), the check stores nothing and reports row by row,
then the checked file is stored in one transaction. Hostile files, another grant's sites and
another person's checked file are refused with a message a person can act on."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from lxml import html as lhtml
from openpyxl import Workbook
from sqlalchemy import text

from tests.monitoring.conftest import GRANT, OTHER_GRANT, SITE
from tests.monitoring.test_evidence_archive import PHOTO, archive, rows, stored_records
from tests.threats.conftest import photo_with_gps

GOOD = (
    f"{SITE},patrol_km,2024-06-03,,31.5,two rangers on foot,,",
    f"{SITE},camera_trap_nights,2024-06-01,2024-06-30,140,12 stations,76.95 43.03,",
)


def check(c, body: bytes, name: str = "records.csv", grant: str = GRANT):  # type: ignore[no-untyped-def]
    return c.post(
        "/monitoring/upload",
        data={"csrf_token": c.csrf, "grant": grant},
        files={"file": (name, body, "application/octet-stream")},
        follow_redirects=False,
    )


def store(c, token: str, grant: str = GRANT):  # type: ignore[no-untyped-def]
    return c.post(
        "/monitoring/upload/store",
        data={"csrf_token": c.csrf, "grant": grant, "token": token},
        follow_redirects=False,
    )


def doc(page: str):  # type: ignore[no-untyped-def]
    return lhtml.fromstring(page)


def has(page: str, element_id: str) -> bool:
    return bool(doc(page).xpath(f"//*[@id='{element_id}']"))


def options(page: str) -> list[str]:
    return [str(v) for v in doc(page).xpath("//select[@id='grant']/option/@value")]


def report(page: str) -> list[tuple[str, str, str]]:
    """(row, status, message) of each line of the page's report."""
    trs = doc(page).xpath("//table[@id='report-rows']/tbody/tr")
    assert trs, page[:2000]
    return [
        (tr.xpath("td")[0].text_content(), tr.get("class"), tr.xpath("td")[2].text_content())
        for tr in trs
    ]


def token_of(page: str) -> str:
    values = doc(page).xpath("//form[@id='store-form']/input[@name='token']/@value")
    assert values, page[:2000]
    return str(values[0])


def other_site(db_tx) -> str:  # type: ignore[no-untyped-def]
    return str(
        db_tx.connection.execute(
            text(
                "SELECT s.name FROM field_sites s JOIN grants g ON g.id = s.grant_id "
                "WHERE g.code = :c ORDER BY s.id LIMIT 1"
            ),
            {"c": OTHER_GRANT},
        ).scalar_one()
    )


def test_a_grantee_checks_then_stores_a_file(tx_login_as, tx_settings, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    page = own.get("/monitoring/upload", params={"grant": GRANT})
    assert page.status_code == 200
    assert options(page.text) == [GRANT]  # its own grants only
    assert 'name="csrf_token"' in page.text
    before = stored_records(db_tx)

    body = archive({"records.csv": rows(GOOD[0], GOOD[1] + PHOTO), PHOTO: photo_with_gps()})
    checked = check(own, body, "june.zip")
    assert checked.status_code == 200, checked.text
    assert [(r, s) for r, s, _ in report(checked.text)] == [("2", "status-ok"), ("3", "status-ok")]
    assert "with 1 evidence file" in report(checked.text)[1][2]
    assert stored_records(db_tx) == before  # a check stores nothing
    token = token_of(checked.text)

    done = store(own, token)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/monitoring/upload?grant={GRANT}&stored=2"
    got = db_tx.connection.execute(
        text(
            "SELECT i.code, r.state, r.value, count(e.id) FROM monitoring_records r "
            "JOIN monitoring_indicators i ON i.id = r.indicator_id "
            "LEFT JOIN monitoring_evidence e ON e.record_id = r.id "
            "WHERE r.method <> 'example' GROUP BY i.code, r.state, r.value ORDER BY i.code"
        )
    ).all()
    assert [tuple(r) for r in got] == [
        ("camera_trap_nights", "submitted", 140.0, 1),
        ("patrol_km", "submitted", 31.5, 0),
    ]
    shown = own.get(done.headers["location"])
    assert "2 records of grant" in shown.text and f"/grants/{GRANT}/monitoring" in shown.text
    # the checked file is stored once: the same token again stores nothing more
    again = store(own, token)
    assert again.status_code == 400 and "no longer kept" in again.text
    assert stored_records(db_tx) == before + 2
    assert not list((Path(tx_settings.var_dir) / "staged" / "monitoring").glob("*"))


def test_the_report_names_each_wrong_row_and_nothing_is_stored(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    theirs = other_site(db_tx)
    before = stored_records(db_tx)
    body = rows(
        GOOD[0],
        f"{SITE},no_such_indicator,2024-06-03,,1,,,",
        f"{SITE},patrol_km,2024-06-10,,-4,,,",
        f"{theirs},patrol_km,2024-06-03,,12,,,",  # a site of another grant
        GOOD[0],
    )
    got = check(own, body)
    assert got.status_code == 422
    lines = report(got.text)
    assert [s for _, s, _ in lines] == ["status-ok"] + ["status-error"] * 4
    assert "unknown indicator 'no_such_indicator'" in lines[1][2]
    assert "cannot be negative" in lines[2][2]
    assert f"grant {GRANT} has no field site {theirs!r}" in lines[3][2]
    assert "duplicate of row 2" in lines[4][2]
    assert not has(got.text, "store-form") and has(got.text, "report-errors")
    assert stored_records(db_tx) == before


def test_another_grant_or_another_persons_file_is_refused(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    before = stored_records(db_tx)
    # a grantee choosing a grant that is not its own, to check or to store
    other = check(own, rows(f"{other_site(db_tx)},patrol_km,2024-06-03,,12,,,"), grant=OTHER_GRANT)
    assert other.status_code == 403 and f"grant {OTHER_GRANT}" in other.text
    token = token_of(check(own, rows(*GOOD)).text)
    assert store(own, token, grant=OTHER_GRANT).status_code == 403
    # another person (an administrator, who may submit for the grant) with the token
    admin = tx_login_as("admin")
    theirs = store(admin, token)
    assert theirs.status_code == 400 and "no longer kept" in theirs.text
    assert store(own, "x" * 43).status_code == 400
    # without the form's CSRF token, nothing is checked or stored
    forged = own.post(
        "/monitoring/upload/store",
        data={"grant": GRANT, "token": token},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert stored_records(db_tx) == before
    assert store(own, token).status_code == 303  # the sender's own file is still kept


def workbook(*lines: tuple[object, ...]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["site", "indicator", "period_start", "period_end", "value", "method_note"])
    for line in lines:
        sheet.append(list(line))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_workbook_is_checked_and_stored_like_a_csv(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    before = stored_records(db_tx)
    good = workbook(
        (SITE, "patrol_km", dt.datetime(2024, 7, 2), None, 12.5, "dates as dates"),
        (SITE, "patrol_km", "2024-07-09", "", 8, "dates as text"),
    )
    bad = workbook((SITE, "patrol_km", dt.datetime(2024, 7, 2), None, -3, ""), (), ("", "", ""))
    wrong = check(own, bad, "july.xlsx")
    assert wrong.status_code == 422
    assert [(r, s) for r, s, _ in report(wrong.text)] == [("2", "status-error")]
    assert "cannot be negative" in report(wrong.text)[0][2]
    checked = check(own, good, "july.xlsx")
    assert checked.status_code == 200, checked.text
    assert [s for _, s, _ in report(checked.text)] == ["status-ok"] * 2
    assert "patrol_km at " + SITE + " for 2024-07-02" in report(checked.text)[0][2]
    assert store(own, token_of(checked.text)).status_code == 303
    values = db_tx.connection.execute(
        text(
            "SELECT period_start::text, value FROM monitoring_records "
            "WHERE method <> 'example' ORDER BY period_start"
        )
    ).all()
    assert [tuple(v) for v in values] == [("2024-07-02", 12.5), ("2024-07-09", 8.0)]
    assert stored_records(db_tx) == before + 2


def _broken_workbook() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types")
        z.writestr("xl/workbook.xml", "not xml at all")
    return buf.getvalue()


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("records.csv", rows(*GOOD) + b" " * 3_000_000)  # 3 MB, ratio ~1000
    return buf.getvalue()


def _escaping() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../records.csv", rows(*GOOD))
    return buf.getvalue()


HOSTILE = {
    "a ZIP bomb": ("records.zip", _bomb, "compress"),
    "a name escaping the archive": ("records.zip", _escaping, ".."),
    "a truncated ZIP": ("records.zip", lambda: _escaping()[:40], "not a readable ZIP"),
    "a broken workbook": ("records.xlsx", _broken_workbook, "cannot be read as an XLSX"),
    "a binary file": ("records.csv", lambda: bytes(range(256)) * 8, "not UTF-8"),
    "wrong columns": ("records.csv", lambda: b"where,what\nx,y\n", "wrong columns"),
    "a formula in a cell": (
        "records.csv",
        lambda: rows(f"{SITE},patrol_km,2024-06-03,,=cmd|' /C calc'!A0,,,"),
        "is not a number",
    ),
}


def test_hostile_files_get_a_message_and_store_nothing(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    before = stored_records(db_tx)
    for case, (name, make, expected) in HOSTILE.items():
        got = check(own, make(), name)
        assert 400 <= got.status_code < 500, (case, got.status_code)
        assert expected in got.text, (case, got.text[-3000:])
        assert not has(got.text, "store-form"), case
        for leak in ("Traceback", "psycopg", "sqlalchemy", "/tmp/", "/work/", "site-packages"):
            assert leak not in got.text, (case, leak)
    assert stored_records(db_tx) == before


def test_the_page_speaks_russian_and_kazakh(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    for lang, heading, button in (
        ("ru", "Загрузка записей мониторинга", "Проверить файл"),
        ("kk", "Мониторинг жазбаларын жүктеу", "Файлды тексеру"),
    ):
        page = own.get("/monitoring/upload", params={"lang": lang})
        assert doc(page.text).xpath("string(//h1)") == heading
        assert button in doc(page.text).xpath("string(//*[@id='check'])")
        bad = check(own, rows(f"{SITE},patrol_km,2024-06-03,,-4,,,"))  # the cookie keeps it
        assert bad.status_code == 422 and heading in bad.text
    # what the check says of each row, in the reader's language
    body = rows(
        GOOD[0],
        f"{SITE},no_such_indicator,2024-06-03,,1,,,",
        f"{SITE},patrol_km,2024-13-10,,-4,,,",
        f"{SITE},patrol_km,2024-06-20,2024-06-10,abc,,1 2 3,",
        GOOD[0],
    )
    record = f"patrol_km {{}} {SITE} {{}} 2024-06-03"
    for lang, said in (
        (
            "ru",
            [
                record.format("на участке", "за"),
                "неизвестный показатель 'no_such_indicator'; см. /api/monitoring/indicators",
                "дата (начало периода) '2024-13-10' — не дата (ГГГГ-ММ-ДД); "
                "patrol_km не может быть отрицательным (-4)",
                "значение 'abc' — не число; "
                "период заканчивается (2024-06-10) раньше, чем начинается (2024-06-20); "
                "'1 2 3' — не точка: напишите «долгота широта», например 76.9 43.0",
                "повтор строки 2: " + record.format("на участке", "за"),
            ],
        ),
        (
            "kk",
            [
                f"patrol_km, {SITE} учаскесі, 2024-06-03",
                "белгісіз көрсеткіш 'no_such_indicator'; /api/monitoring/indicators қараңыз",
                "күн (кезең басы) '2024-13-10' — күн емес (ЖЖЖЖ-АА-КК); "
                "patrol_km теріс бола алмайды (-4)",
                "'abc' мәні — сан емес; "
                "кезең басталғанға дейін (2024-06-20) аяқталады (2024-06-10); "
                "'1 2 3' — нүкте емес: «бойлық ендік» деп жазыңыз, мысалы 76.9 43.0",
                f"2 жолдың қайталануы: patrol_km, {SITE} учаскесі, 2024-06-03",
            ],
        ),
    ):
        own.get("/monitoring/upload", params={"lang": lang})  # the cookie keeps it
        got = check(own, body)
        assert got.status_code == 422
        assert [m for _, _, m in report(got.text)] == said
        assert "unknown indicator" not in got.text and "not a date" not in got.text


def test_who_sees_the_form(tx_login_as, tx_client) -> None:  # type: ignore[no-untyped-def]
    anonymous = tx_client.get("/monitoring/upload", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    analyst = tx_login_as("analyst").get("/monitoring/upload")
    assert has(analyst.text, "no-grants") and not has(analyst.text, "upload-form")
    codes = options(tx_login_as("admin").get("/monitoring/upload").text)
    assert GRANT in codes and OTHER_GRANT in codes
    template = tx_client.get("/monitoring/upload/template.csv")
    assert template.status_code == 200
    assert re.match(r"^site,indicator,period_start,", template.text)
    own = tx_login_as("grantee", grants=[GRANT])  # the file to start from passes the check
    assert [s for _, s, _ in report(check(own, template.content).text)] == ["status-ok"] * 2
    link = own.get(f"/grants/{GRANT}/monitoring")
    assert f'href="/monitoring/upload?grant={GRANT}"' in link.text
