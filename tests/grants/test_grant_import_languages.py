"""A grant import's report in the reader's language: every row error is a message of the
catalogs, given in Russian or Kazakh beside the English (``local_errors``), on the real app
and database. The English answer and the command line are as before."""

from __future__ import annotations

from typing import Any

from tests.grants.test_grants import BASIC_HEADER, _auth, _count, _csv, _grant

HEADER = [*BASIC_HEADER, "status"]


def _post(c: Any, data: bytes, lang: str | None = None) -> Any:
    headers = _auth(c) | ({"Accept-Language": lang} if lang else {})
    return c.post(
        "/api/grants/import", files={"file": ("list.csv", data, "text/csv")}, headers=headers
    )


def _bad_rows() -> tuple[dict[str, Any], bytes]:
    good = _grant()
    rows = [
        good,
        _grant(amount="-100"),  # row 3
        _grant(end_date="2023-01-01"),  # row 4
        _grant(code=good["code"]),  # row 5
        _grant(countries=["KZ"]),  # row 6
        _grant(start_date="tomorrow"),  # row 7
        _grant(title=""),  # row 8
        _grant(status="done"),  # row 9
    ]
    data = _csv(rows, HEADER) + b"X-1,t,o,KAZ,Panthera uncia,1,2024-01-01,2024-02-01,active,extra\n"
    return good, data


def _by_row(body: dict[str, Any], key: str) -> dict[int, list[str]]:
    return {r["row"]: r[key] for r in body["rows"] if r["errors"]}


def test_row_errors_are_english_for_english_readers(tx_login_as, db_tx) -> None:
    c = tx_login_as("admin")
    good, data = _bad_rows()
    r = _post(c, data)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["stored"] is False and body["errors"] == []
    assert "local_errors" not in body and all("local_errors" not in x for x in body["rows"])
    assert _by_row(body, "errors") == {
        3: ["column amount: the value must be greater than 0"],
        4: ["the end date 2023-01-01 is before the start date 2024-01-01"],
        5: [f"the code {good['code']} is also on row 2"],
        6: [
            "column countries: 'KZ' is not a country code of three capital letters "
            "(ISO 3166-1 alpha-3, such as KAZ)"
        ],
        7: ["column start_date: 'tomorrow' is not a date (write it as YYYY-MM-DD)"],
        8: ["column title: the cell is empty, and this column is required"],
        9: ["column status: 'done' is not one of proposed, active, closed, terminated"],
        10: ["the row has 10 cells for 9 columns"],
    }
    assert _count(db_tx.engine, good["code"]) == 0


def test_row_errors_in_russian_and_kazakh_keep_the_english(tx_login_as, db_tx) -> None:
    c = tx_login_as("admin")
    good, data = _bad_rows()
    english = _by_row(_post(c, data).json(), "errors")
    r = _post(c, data, "ru")
    assert r.status_code == 400, r.text
    body = r.json()
    assert _by_row(body, "errors") == english  # programs read the same English
    assert body["local_errors"] == []
    assert _by_row(body, "local_errors") == {
        3: ["столбец amount: значение должно быть больше 0"],
        4: ["дата окончания 2023-01-01 раньше даты начала 2024-01-01"],
        5: [f"код {good['code']} есть и в строке 2"],
        6: [
            "столбец countries: 'KZ' — не код страны из трёх заглавных букв "
            "(ISO 3166-1 alpha-3, например KAZ)"
        ],
        7: ["столбец start_date: 'tomorrow' — не дата (пишите в виде ГГГГ-ММ-ДД)"],
        8: ["столбец title: ячейка пуста, а этот столбец обязателен"],
        9: [
            "столбец status: 'done' не входит в допустимые значения: "
            "proposed, active, closed, terminated"
        ],
        10: ["ячеек в строке: 10, а столбцов в заголовке: 9"],
    }
    kk = _by_row(_post(c, data, "kk").json(), "local_errors")
    assert kk[3] == ["amount бағаны: мән 0 санынан үлкен болуы керек"]
    assert kk[5] == [f"{good['code']} коды 2-жолда да бар"]
    assert _count(db_tx.engine, good["code"]) == 0


def test_errors_of_the_file_and_of_storing_in_russian(tx_login_as, db_tx) -> None:
    c = tx_login_as("admin")
    r = _post(c, _csv([_grant()], ["code", "title"]), "ru")
    assert r.status_code == 400
    body = r.json()
    assert body["errors"] == [
        "list.csv: missing columns amount, countries, end_date, grantee_organisation, "
        "species, start_date"
    ]
    assert body["local_errors"] == [
        "list.csv: не хватает столбцов amount, countries, end_date, grantee_organisation, "
        "species, start_date"
    ]
    # a row refused while storing (the species are checked against the database)
    row = _grant(species=["Canis lupus"])
    body = _post(c, _csv([row], HEADER), "ru").json()
    [report] = body["rows"]
    assert report["errors"][0].startswith("unknown species Canis lupus; the programme's are")
    assert report["local_errors"][0].startswith("неизвестные виды Canis lupus; виды программы:")
    assert _count(db_tx.engine, row["code"]) == 0
