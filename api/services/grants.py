"""Grants as records: register, edit, close, list, import a programme's list, and history.

Who may write: administrators and analysts any field of any grant; a grantee only the
narrative fields (:data:`NARRATIVE_FIELDS`) of its own grants, never the money. Every write is
one transaction with the actor named, so the audit log keeps each change (``grant_history``).
An import (CSV or XLSX) checks every row first and stores all of them or none.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Generic, Literal, NamedTuple, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session, selectinload

from api import i18n
from api.auth.principal import Principal, Role
from api.db.engine import transaction
from api.db.models import AuditLog, Grant, GrantStatus, Species
from geo import labels as lb
from geo.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from geo.messages import Message, en, number
from geo.text import CONTROL_MESSAGE, printable, printable_lines, xml_safe
from layers import grants as lg
from layers import history
from layers.sql import versions as data_versions

#: Fields a grantee may change on its own grants.
NARRATIVE_FIELDS = frozenset({"title", "partners", "objectives", "description", "documents"})
#: Fields that are money: only administrators and analysts change them.
MONEY_FIELDS = frozenset({"amount", "currency", "rate", "rate_date"})
#: Columns of an import file (``code`` and the required ones must be there).
IMPORT_COLUMNS = (
    "code",
    "title",
    "grantee_organisation",
    "partners",
    "countries",
    "species",
    "ecosystem_focus",
    "amount",
    "currency",
    "rate",
    "rate_date",
    "call",
    "start_date",
    "end_date",
    "status",
    "objectives",
    "description",
    "documents",
)
REQUIRED_COLUMNS = frozenset(
    {"code", "title", "grantee_organisation", "countries", "species", "amount"}
    | {"start_date", "end_date"}
)
#: Fields every grant has (an edit cannot empty them).
REQUIRED_FIELDS = frozenset(
    {"title", "grantee_organisation", "countries", "species", "amount", "currency"}
    | {"start_date", "end_date", "status"}
)
LIST_COLUMNS = frozenset({"partners", "countries", "species", "ecosystem_focus", "documents"})
MAX_IMPORT_ROWS = 5_000
SOURCE = "registered in Irbis"

Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(printable),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=20_000),
    AfterValidator(printable_lines),
]
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$"
    ),
]
Iso3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Ecosystem = Literal["mountain", "arid_lowland", "other"]
Amount = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]
Rate = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
Day = Annotated[dt.date, Field(ge=dt.date(1990, 1, 1), le=dt.date(2100, 12, 31))]


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text
    url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s<>\"]+$")]


class GrantPatch(BaseModel):
    """A change to a grant: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")
    title: Text | None = None
    grantee_organisation: Text | None = None
    partners: Annotated[list[Text], Field(max_length=50)] | None = None
    countries: Annotated[list[Iso3], Field(min_length=1, max_length=10)] | None = None
    species: Annotated[list[Text], Field(min_length=1, max_length=10)] | None = None
    ecosystem_focus: Annotated[list[Ecosystem], Field(max_length=3)] | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    rate: Rate | None = None
    rate_date: Day | None = None
    call: Text | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    status: GrantStatus | None = None
    objectives: LongText | None = None
    description: LongText | None = None
    documents: Annotated[list[Document], Field(max_length=50)] | None = None


class GrantCreate(GrantPatch):
    """A new grant. Amounts are in USD unless ``currency`` says otherwise (then with ``rate``,
    units of the currency per USD, and ``rate_date``)."""

    code: Code
    title: Text
    grantee_organisation: Text
    countries: Annotated[list[Iso3], Field(min_length=1, max_length=10)]
    species: Annotated[list[Text], Field(min_length=1, max_length=10)]
    amount: Amount
    currency: Currency = "USD"
    start_date: Day
    end_date: Day
    status: GrantStatus = GrantStatus.proposed


# --------------------------------------------------------------------------------------------
# Who may do what
# --------------------------------------------------------------------------------------------


def require_manager(principal: Principal) -> None:
    """Administrators and analysts register, edit, close and import grants."""
    if principal.is_anonymous:
        raise Unauthenticated(en("log in, or send 'Authorization: Bearer <token>'"))
    if not principal.has(Role.admin, Role.analyst):
        raise Forbidden(en("only administrators and analysts register and close grants"))


def check_may_edit(principal: Principal, grant_id: int, fields: set[str]) -> None:
    if principal.is_anonymous:
        raise Unauthenticated(en("log in, or send 'Authorization: Bearer <token>'"))
    if principal.has(Role.admin, Role.analyst):
        return
    if not (principal.has(Role.grantee) and grant_id in principal.grant_ids):
        raise Forbidden(en("only administrators, analysts and the grant's grantees edit a grant"))
    money = sorted(fields & MONEY_FIELDS)
    if money:
        raise Forbidden(
            en("a grantee may not change the money of a grant ({fields})", fields=", ".join(money))
        )
    other = sorted(fields - NARRATIVE_FIELDS)
    if other:
        raise Forbidden(
            en(
                "a grantee may change only {allowed}; not {fields}",
                allowed=", ".join(sorted(NARRATIVE_FIELDS)),
                fields=", ".join(other),
            )
        )


def may_edit_money(principal: Principal) -> bool:
    return principal.has(Role.admin, Role.analyst)


def may_edit_any(principal: Principal, grant_id: int) -> bool:
    return principal.has(Role.admin, Role.analyst) or (
        principal.has(Role.grantee) and grant_id in principal.grant_ids
    )


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _load(session: Session, code: str) -> Grant:
    grant = session.scalar(
        select(Grant).options(selectinload(Grant.species)).where(Grant.code == code)
    )
    if grant is None:
        raise NotFound(en("there is no grant {code}; see /grants for the list", code=repr(code)))
    return grant


def amount_usd(grant: Grant) -> Decimal:
    if grant.currency == "USD" or not grant.rate:
        return Decimal(grant.amount)
    return (Decimal(grant.amount) / Decimal(grant.rate)).quantize(Decimal("0.01"))


def as_dict(grant: Grant) -> dict[str, Any]:
    return {
        "code": grant.code,
        "title": grant.title,
        "grantee_organisation": grant.grantee_organisation,
        "partners": list(grant.partners or []),
        "countries": list(grant.countries),
        "species": sorted(s.scientific_name for s in grant.species),
        "ecosystem_focus": list(grant.ecosystem_focus or []),
        "amount": float(grant.amount),
        "currency": grant.currency,
        "rate": float(grant.rate) if grant.rate is not None else None,
        "rate_date": grant.rate_date.isoformat() if grant.rate_date else None,
        "amount_usd": float(amount_usd(grant)),
        "call": grant.call,
        "start_date": grant.start_date.isoformat(),
        "end_date": grant.end_date.isoformat(),
        "status": grant.status,
        "objectives": grant.objectives,
        "description": grant.description,
        "documents": list(grant.documents or []),
        "method": grant.method,
        "source": grant.source,
        "updated_at": grant.updated_at.isoformat() if grant.updated_at else None,
        "url": f"/grants/{grant.code}",
    }


def grant_id(engine: Engine, code: str) -> int:
    with Session(engine) as session:
        gid = session.scalar(select(Grant.id).where(Grant.code == code))
    if gid is None:
        raise NotFound(en("there is no grant {code}; see /grants for the list", code=repr(code)))
    return gid


def get_grant(engine: Engine, code: str) -> dict[str, Any]:
    with Session(engine) as session:
        return as_dict(_load(session, code))


def list_grants(engine: Engine) -> list[dict[str, Any]]:
    """Every grant, as :func:`as_dict` gives it (built in the database as one JSON text,
    decoded once: the portfolio reads them all)."""
    with engine.connect() as conn:
        items: list[dict[str, Any]] = orjson.loads(grants_text(conn))
    return items


def grants_text(conn: Connection, filters: PortfolioFilter | None = None) -> str:
    """The grants kept by ``filters`` as one JSON array text, ordered by code."""
    return str(conn.execute(lg.grants_json(_where(filters))).scalar_one())


def grant_history(engine: Engine, principal: Principal, code: str) -> list[dict[str, Any]]:
    """Every change of the grant's record (from the audit log), newest first: the fields
    changed (``changed``, from → to) and the species added or removed (``species``, each
    with its scientific and common names), one entry per transaction and actor."""
    with Session(engine) as session:
        grant = _load(session, code)
        if not may_edit_any(principal, grant.id):
            if principal.is_anonymous:
                raise Unauthenticated(en("log in to see the history of a grant"))
            raise Forbidden(
                en("only administrators, analysts and its grantees see a grant's history")
            )
        rows = history_rows(session, grant.id)
        ids = {_species_id(r) for r in rows if r.table_name == "grant_species"}
        names = {
            s.id: {
                "scientific_name": s.scientific_name,
                "common_name_en": s.common_name_en,
                "common_name_ru": s.common_name_ru,
                "common_name_kk": s.common_name_kk,
            }
            for s in session.scalars(select(Species).where(Species.id.in_(ids)))
        }
    out: list[dict[str, Any]] = []
    moments: dict[tuple[Any, Any], dict[str, Any]] = {}  # one entry per transaction and actor
    for r in rows:
        moment = (r.at, r.actor)
        entry = moments.get(moment)
        if r.table_name == "grant_species":
            if entry is None:
                entry = moments[moment] = _entry("update", r)
                out.append(entry)
            sid = _species_id(r)
            sp = names.get(sid) or {"scientific_name": f"species {sid}"}
            entry["species"]["added" if r.action == "insert" else "removed"].append(sp)
            continue
        before, after = r.before or {}, r.after or {}
        changed = sorted(
            k
            for k in set(before) | set(after)
            if k not in ("updated_at", "geom") and before.get(k) != after.get(k)
        )
        if r.action == "update" and not changed:
            continue  # only the union of its sites moved
        if entry is not None and entry.get("_grant_row") is False:
            del entry["_grant_row"]  # its species' rows came first: the record's row joins them
        else:
            entry = _entry(r.action, r)
            del entry["_grant_row"]
            out.append(entry)
            moments.setdefault(moment, entry)
        entry["action"] = r.action
        if r.action == "update":
            entry["changed"] = {k: {"from": before.get(k), "to": after.get(k)} for k in changed}
    for e in out:
        e.pop("_grant_row", None)
        for side in e["species"].values():
            side.sort(key=lambda sp: sp["scientific_name"])
    return out


class AuditRow(NamedTuple):
    """A row of the audit log as the history reads it."""

    table_name: str
    action: str
    actor: str | None
    at: dt.datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def history_rows(session: Session, grant_id: int) -> list[AuditRow]:
    """The audit rows of a grant's record (:func:`layers.history.audit_trail`) and of its
    links to species (one row each, ``grant_id:species_id``), newest first."""
    a = AuditLog
    record = session.execute(history.audit_trail("grants", grant_id, newest_first=True))
    links = session.execute(
        select(a.action, a.actor, a.at, a.before, a.after)
        .where(a.table_name == "grant_species", a.row_id.startswith(f"{grant_id}:"))
        .order_by(a.at.desc(), a.id.desc())
    )
    rows = [AuditRow("grants", *r) for r in record] + [AuditRow("grant_species", *r) for r in links]
    # newest first; within a transaction (one ``at``) each table's rows keep their order
    return sorted(rows, key=lambda r: r.at, reverse=True)


def _species_id(row: Any) -> int:
    return int((row.after or row.before)["species_id"])


def _entry(action: str, row: Any) -> dict[str, Any]:
    """A history entry; ``_grant_row`` False until a row of the grant itself fills it."""
    return {
        "action": action,
        "actor": row.actor,
        "at": row.at.astimezone(dt.UTC).isoformat(),
        "changed": {},
        "species": {"added": [], "removed": []},
        "_grant_row": False,
    }


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _species(session: Session, names: list[str]) -> list[Species]:
    wanted = list(dict.fromkeys(names))
    found = {
        s.scientific_name: s
        for s in session.scalars(select(Species).where(Species.scientific_name.in_(wanted)))
    }
    unknown = [n for n in wanted if n not in found]
    if unknown:
        known = ", ".join(sorted(session.scalars(select(Species.scientific_name))))
        raise InvalidInput(
            en(
                "unknown species {names}; the programme's are {known}",
                names=", ".join(unknown),
                known=known,
            )
        )
    return [found[n] for n in wanted]


def _check(grant: Grant) -> None:
    """Rules across fields, on the grant as it would be stored."""
    if grant.end_date < grant.start_date:
        raise InvalidInput(
            en(
                "the end date {end} is before the start date {start}",
                end=str(grant.end_date),
                start=str(grant.start_date),
            )
        )
    if grant.currency != "USD" and (grant.rate is None or grant.rate_date is None):
        raise InvalidInput(
            en(
                "an amount in {currency} needs the exchange rate (units of {currency} per USD) "
                "and its date",
                currency=grant.currency,
            )
        )
    if grant.currency == "USD":
        grant.rate, grant.rate_date = None, None


def _apply(session: Session, grant: Grant, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``grant``; whether anything changed."""
    changed = False
    for name, value in values.items():
        if value is None and name in LIST_COLUMNS - {"countries", "species"}:
            value = []
        elif value is None and name in REQUIRED_FIELDS:
            raise InvalidInput(en("{name} cannot be empty", name=name))
        if name == "species":
            new = _species(session, value)
            if {s.id for s in new} != {s.id for s in grant.species}:
                grant.species = new
                changed = True
            continue
        if name == "documents":
            value = [d if isinstance(d, dict) else d.model_dump() for d in value]
        if name == "status" and value is not None:
            value = GrantStatus(value).value
        if getattr(grant, name) != value:
            setattr(grant, name, value)
            changed = True
    _check(grant)
    return changed


def _fields(data: BaseModel) -> dict[str, Any]:
    return {k: getattr(data, k) for k in data.model_fields_set if k != "code"}


def create_grant(engine: Engine, principal: Principal, data: GrantCreate) -> dict[str, Any]:
    require_manager(principal)
    with transaction(engine, actor=principal.username) as session:
        if session.scalar(select(Grant.id).where(Grant.code == data.code)) is not None:
            raise InvalidInput(
                en("a grant {code} exists already; edit it instead", code=repr(data.code))
            )
        grant = Grant(code=data.code, source=SOURCE, method="observed", species=[])
        values = {k: getattr(data, k) for k in GrantCreate.model_fields if k != "code"}
        _apply(session, grant, values)
        session.add(grant)
        session.flush()
        return as_dict(grant)


def update_grant(
    engine: Engine, principal: Principal, code: str, data: GrantPatch
) -> dict[str, Any]:
    values = _fields(data)
    if not values:
        raise InvalidInput(en("send at least one field to change"))
    if principal.is_anonymous:
        raise Unauthenticated(en("log in, or send 'Authorization: Bearer <token>'"))
    with transaction(engine, actor=principal.username) as session:
        grant = _load(session, code)
        check_may_edit(principal, grant.id, set(values))
        _apply(session, grant, values)
        session.flush()
        return as_dict(grant)


def close_grant(
    engine: Engine, principal: Principal, code: str, status: str = "closed"
) -> dict[str, Any]:
    """Close a grant (``closed``) or end it early (``terminated``)."""
    require_manager(principal)
    if status not in (GrantStatus.closed, GrantStatus.terminated):
        raise InvalidInput(en("a grant is closed as 'closed' or 'terminated'"))
    with transaction(engine, actor=principal.username) as session:
        grant = _load(session, code)
        grant.status = status
        session.flush()
        return as_dict(grant)


# --------------------------------------------------------------------------------------------
# Import from CSV or XLSX
# --------------------------------------------------------------------------------------------


@dataclass
class RowReport:
    row: int
    code: str | None
    outcome: str = "error"  # created, updated, unchanged, error
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowReport]
    stored: bool
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(r.outcome != "error" for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        return {
            "ok": self.ok,
            "stored": self.stored,
            "errors": self.errors,
            "counts": counts,
            "rows": [dict(r.__dict__) for r in self.rows],
        }


def in_language(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (an import report) with its errors also in the language of the request, when
    that is not English: ``local_errors`` of the file and of each row; the English stays for
    programs."""
    if i18n.current_locale() == i18n.DEFAULT:
        return body
    body["local_errors"] = [i18n.translate(e) for e in body["errors"]]
    for row in body["rows"]:
        row["local_errors"] = [i18n.translate(e) for e in row["errors"]]
    return body


def spreadsheet_cell(value: Any) -> str:
    """A spreadsheet cell as text: empty for none, dates as YYYY-MM-DD, else trimmed."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def read_table(data: bytes, filename: str) -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8) or XLSX file as text cells, keyed by lower-case header."""
    name = filename.lower()
    if name.endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(data)
    elif name.endswith((".csv", ".txt")) or not name or "." not in name:
        rows = _csv_rows(data)
    else:
        raise InvalidInput(en("{name}: send the grant list as CSV (UTF-8) or XLSX", name=filename))
    if not rows:
        raise InvalidInput(en("{name}: the file has no header row", name=filename))
    header = [h.strip().lower() for h in rows[0]]
    if any(not h for h in header):
        raise InvalidInput(en("{name}: a column has no name in the header row", name=filename))
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        raise InvalidInput(
            en(
                "{name}: unknown columns {unknown}; the columns are {columns}",
                name=filename,
                unknown=", ".join(unknown),
                columns=", ".join(IMPORT_COLUMNS),
            )
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InvalidInput(
            en("{name}: columns named twice: {columns}", name=filename, columns=", ".join(dupes))
        )
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise InvalidInput(
            en("{name}: missing columns {columns}", name=filename, columns=", ".join(missing))
        )
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if len(body) > MAX_IMPORT_ROWS:
        raise InvalidInput(
            en(
                "{name}: at most {count} grants per import",
                name=filename,
                count=f"{MAX_IMPORT_ROWS:,}",
            )
        )
    out: list[dict[str, str]] = []
    for r in body:
        if len(r) > len(header):
            extra = [c for c in r[len(header) :] if c.strip()]
            if extra:
                out.append({"__error__": _too_many_cells(len(r), len(header))})
                continue
        out.append({h: (r[i].strip() if i < len(r) else "") for i, h in enumerate(header)})
    return out


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        textual = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            en("the file is not UTF-8 text: save it as 'CSV UTF-8' (or send XLSX)")
        ) from None
    if "\x00" in textual:
        raise InvalidInput(en("the file is not text: send CSV (UTF-8) or XLSX"))
    try:
        return list(csv.reader(io.StringIO(textual, newline="")))
    except csv.Error as e:
        raise InvalidInput(en("the CSV cannot be read: {error}", error=str(e))) from None


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # heavy; only imports need it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise InvalidInput(en("the file cannot be read as XLSX (an Excel workbook)")) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for i, r in enumerate(sheet.iter_rows(values_only=True)):
            if i > MAX_IMPORT_ROWS + 1:
                raise InvalidInput(
                    en("at most {count} grants per import", count=f"{MAX_IMPORT_ROWS:,}")
                )
            rows.append([spreadsheet_cell(c) for c in r])
        return rows
    finally:
        book.close()


def _row_values(row: dict[str, str]) -> dict[str, Any]:
    """Cells to the API's shape: lists split on ';', documents as 'title | url'."""
    values: dict[str, Any] = {}
    for k, v in row.items():
        if v == "":
            continue
        if k in LIST_COLUMNS:
            parts = [p.strip() for p in v.split(";") if p.strip()]
            if k == "documents":
                docs = []
                for p in parts:
                    title, _, url = p.rpartition("|")
                    docs.append({"title": title.strip() or url.strip(), "url": url.strip()})
                values[k] = docs
            elif k == "countries":
                values[k] = [p.upper() for p in parts]
            else:
                values[k] = parts
        else:
            values[k] = v
    return values


def _too_many_cells(cells: int, columns: int) -> Message:
    return en("the row has {cells} cells for {columns} columns", cells=cells, columns=columns)


def problems(e: ValidationError) -> list[Message]:
    """What is wrong with a row, a message for each error naming its column."""
    return [_problem(err) for err in e.errors()]


def _problem(err: ErrorDetails) -> Message:
    """One error of a row said with its column, by pydantic's kind of error; another kind
    keeps pydantic's English as a value (it has no translation)."""
    column = str(err["loc"][0]) if err["loc"] else "row"
    said = _PROBLEMS.get(err["type"])
    return said(column, err) if said else _unsaid(column, err)


def _unsaid(column: str, err: ErrorDetails) -> Message:
    return en("column {column}: {problem}", column=column, problem=err["msg"])


def _shown(err: ErrorDetails) -> str:
    """The value of the cell at fault, quoted and cut short."""
    text = str(err.get("input", ""))
    return repr(text if len(text) <= 60 else text[:59] + "…")


def _ctx(err: ErrorDetails, key: str) -> str:
    value = (err.get("ctx") or {}).get(key, "")
    return number(value) if isinstance(value, int) else str(value)


def _not_in_form(column: str, err: ErrorDetails) -> Message:
    value = _shown(err)
    if column == "code":
        return en(
            "column {column}: {value} is not a grant code (Latin letters, digits, '.', '_' "
            "and '-')",
            column=column,
            value=value,
        )
    if column == "countries":
        return en(
            "column {column}: {value} is not a country code of three capital letters "
            "(ISO 3166-1 alpha-3, such as KAZ)",
            column=column,
            value=value,
        )
    if column == "currency":
        return en(
            "column {column}: {value} is not a currency code of three capital letters "
            "(ISO 4217, such as USD)",
            column=column,
            value=value,
        )
    if column == "documents":
        return en(
            "column {column}: {value} is not a web address (http:// or https://); write each "
            "document as 'title | address'",
            column=column,
            value=value,
        )
    return en("column {column}: {value} is not in the expected form", column=column, value=value)


def _value_error(column: str, err: ErrorDetails) -> Message:
    if CONTROL_MESSAGE in err["msg"]:
        return en(
            "column {column}: the text contains control characters (invisible characters, "
            "often copied from another program); retype it",
            column=column,
        )
    return _unsaid(column, err)


def _not_a_date(column: str, err: ErrorDetails) -> Message:
    return en(
        "column {column}: {value} is not a date (write it as YYYY-MM-DD)",
        column=column,
        value=_shown(err),
    )


def _not_a_number(column: str, err: ErrorDetails) -> Message:
    return en("column {column}: {value} is not a number", column=column, value=_shown(err))


#: Each kind of pydantic error a row of an import can have (:class:`GrantCreate` from text
#: cells), said with its column.
_PROBLEMS: dict[str, Callable[[str, ErrorDetails], Message]] = {
    "missing": lambda c, err: en(
        "column {column}: the cell is empty, and this column is required", column=c
    ),
    "string_too_short": lambda c, err: en("column {column}: a value is empty", column=c),
    "string_too_long": lambda c, err: en(
        "column {column}: the text is longer than {count} characters",
        column=c,
        count=_ctx(err, "max_length"),
    ),
    "string_pattern_mismatch": _not_in_form,
    "too_long": lambda c, err: en(
        "column {column}: too many values (at most {count}, separated by ';')",
        column=c,
        count=_ctx(err, "max_length"),
    ),
    "too_short": lambda c, err: en(
        "column {column}: too few values (at least {count}, separated by ';')",
        column=c,
        count=_ctx(err, "min_length"),
    ),
    "literal_error": lambda c, err: en(
        "column {column}: {value} is not one of {expected}",
        column=c,
        value=_shown(err),
        expected=", ".join(re.findall(r"'([^']*)'", _ctx(err, "expected"))),
    ),
    "decimal_parsing": _not_a_number,
    "decimal_type": _not_a_number,
    "finite_number": _not_a_number,
    "decimal_max_places": lambda c, err: en(
        "column {column}: at most {count} decimal places",
        column=c,
        count=_ctx(err, "decimal_places"),
    ),
    "decimal_max_digits": lambda c, err: en(
        "column {column}: at most {count} digits in all", column=c, count=_ctx(err, "max_digits")
    ),
    "decimal_whole_digits": lambda c, err: en(
        "column {column}: at most {count} digits before the decimal point",
        column=c,
        count=_ctx(err, "whole_digits"),
    ),
    "greater_than": lambda c, err: en(
        "column {column}: the value must be greater than {limit}", column=c, limit=_ctx(err, "gt")
    ),
    # only dates have lower and upper bounds among the columns
    "greater_than_equal": lambda c, err: en(
        "column {column}: {value} is before {limit}, the earliest date accepted",
        column=c,
        value=_shown(err),
        limit=_ctx(err, "ge"),
    ),
    "less_than_equal": lambda c, err: en(
        "column {column}: {value} is after {limit}, the latest date accepted",
        column=c,
        value=_shown(err),
        limit=_ctx(err, "le"),
    ),
    "date_parsing": _not_a_date,
    "date_from_datetime_parsing": _not_a_date,
    "date_from_datetime_inexact": _not_a_date,
    "date_type": _not_a_date,
    "value_error": _value_error,
}
_PROBLEMS["enum"] = _PROBLEMS["literal_error"]


def import_grants(
    engine: Engine, principal: Principal, data: bytes, filename: str, *, dry_run: bool = False
) -> ImportReport:
    """Import a programme's grant list: every row checked, then all stored or none.

    Idempotent by code: a row whose code exists updates that grant (``unchanged`` when it is
    the same); a code twice in one file is an error.
    """
    require_manager(principal)
    try:
        rows = read_table(data, filename)
    except InvalidInput as e:
        return ImportReport(rows=[], stored=False, errors=[e.message])
    reports: list[RowReport] = []
    checked: list[tuple[RowReport, GrantCreate]] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, start=2):
        rep = RowReport(row=i, code=row.get("code") or None)
        reports.append(rep)
        if "__error__" in row:
            rep.errors.append(row["__error__"])
            continue
        try:
            item = GrantCreate.model_validate(_row_values(row))
        except ValidationError as e:
            rep.errors.extend(problems(e))
            continue
        if item.end_date < item.start_date:
            rep.errors.append(
                en(
                    "the end date {end} is before the start date {start}",
                    end=str(item.end_date),
                    start=str(item.start_date),
                )
            )
        if item.code in seen:
            rep.errors.append(
                en("the code {code} is also on row {row}", code=item.code, row=seen[item.code])
            )
        seen.setdefault(item.code, i)
        if not rep.errors:
            checked.append((rep, item))
    if any(r.errors for r in reports):
        return ImportReport(rows=reports, stored=False)
    stored = False
    try:
        with transaction(engine, actor=principal.username) as session:
            for rep, item in checked:
                try:
                    with session.begin_nested():
                        _store_row(session, rep, item)
                except InvalidInput as e:
                    rep.errors.append(e.message)
                    rep.outcome = "error"
            if any(r.errors for r in reports) or dry_run:
                raise _Rollback
            stored = True
    except _Rollback:
        pass
    return ImportReport(rows=reports, stored=stored)


class _Rollback(Exception):
    pass


def _store_row(session: Session, rep: RowReport, item: GrantCreate) -> None:
    grant = session.scalar(
        select(Grant).options(selectinload(Grant.species)).where(Grant.code == item.code)
    )
    values = {k: getattr(item, k) for k in item.model_fields_set if k != "code"}
    if grant is None:
        grant = Grant(code=item.code, source=SOURCE, method="observed", species=[])
        defaults = {k: getattr(item, k) for k in GrantCreate.model_fields if k != "code"}
        _apply(session, grant, defaults)
        session.add(grant)
        rep.outcome = "created"
    else:
        rep.outcome = "updated" if _apply(session, grant, values) else "unchanged"
    session.flush()


# --------------------------------------------------------------------------------------------
# A grant's page and the portfolio
# --------------------------------------------------------------------------------------------

#: Published threats this close to a grant's site (metres, geodesic) show on its page.
THREAT_DISTANCE_M = 10_000.0


#: Tables the figures of a grant's geometry are computed from (beside the geometry itself).
FIGURE_TABLES = ("ecosystems", "habitat", "protected_areas", "species")


def page_on(
    conn: Connection,
    versions: Mapping[str, int],
    code: str,
    metres: float = THREAT_DISTANCE_M,
) -> dict[str, Any]:
    """What a grant's page shows (its record, sites, footprint, protected areas, threats),
    read on ``conn`` (in its transaction's snapshot, whose data versions
    are ``versions``). The overlaps with protected areas, habitat and ecosystems, the costly
    part, are kept in :data:`FIGURE_CACHE` by the digest of the grant's geometry and the
    versions of :data:`FIGURE_TABLES`: a write to another grant, a site elsewhere or a threat
    does not recompute them."""
    with Session(bind=conn) as session:
        grant = _load(session, code)
        gid = grant.id
        page = {
            "grant": as_dict(grant),
            "sites": lg.sites(conn, gid),
            "footprint": lg.footprint(conn, gid),
            "threats": lg.threats_near(conn, gid, metres),
            "threat_distance_km": metres / 1000,
            "outline": lg.outline_svg(conn, gid),
        }
    digest = lg.geometry_digest(conn, gid)
    key = (
        str(conn.engine.url),
        digest,
        version_tag({t: versions.get(t, -1) for t in FIGURE_TABLES}),
    )

    def overlaps() -> dict[str, list[dict[str, Any]]]:
        return {
            "protected": lg.protected_overlaps(conn, gid),
            "habitat": lg.habitat_overlaps(conn, gid),
            "ecosystems": lg.ecosystem_overlaps(conn, gid),
        }

    figures = FIGURE_CACHE.get(key, overlaps) if digest is not None else overlaps()
    page["protected"] = figures["protected"]
    page["habitat"] = _habitat(figures["habitat"], page)
    page["ecosystems"] = _ecosystems(figures["ecosystems"], page)
    return page


def _label(methods: list[str], examples: list[str]) -> dict[str, Any]:
    """What a figure rests on: the weakest method of its inputs (at best ``modelled``) and
    the example inputs among them, by name."""
    return {"method": lb.derived_method(methods), "example_inputs": sorted(set(examples))}


def _ecosystem_word(code: str) -> str:
    """An ecosystem class in words ("arid lowland"), in the reader's language when shown."""
    return en(code.replace("_", " "))


def _site_inputs(page: dict[str, Any]) -> tuple[list[str], list[str]]:
    methods = [s["method"] for s in page["sites"]]
    examples: list[str] = [
        en("field site: {name}", name=s["name"]) for s in page["sites"] if s["method"] == "example"
    ]
    return methods, examples


def _habitat(rows: list[dict[str, Any]], page: dict[str, Any]) -> dict[str, Any]:
    """Modelled habitat in the grant's sites per species (ha), and what the grant adds to
    coverage: the part outside designated protected areas, per species × ecosystem."""
    by_species: dict[str, dict[str, float]] = {}
    for r in rows:
        sp = by_species.setdefault(r["species"], {"habitat_ha": 0.0, "added_ha": 0.0})
        sp["habitat_ha"] += r["habitat_ha"]
        sp["added_ha"] += r["added_ha"]
    methods, examples = _site_inputs(page)
    for p in page["protected"]:
        if p["status"] != "Proposed":
            methods.append(p["method"])
            if p["method"] == "example":
                examples.append(en("protected area: {name}", name=p["name"]))
    for r in rows:
        methods.extend(r["methods"])
        if "example" in r["methods"]:
            examples.append(
                en(
                    "habitat: {species}, {ecosystem}",
                    species=r["species"],
                    ecosystem=_ecosystem_word(r["ecosystem"]),
                )
            )
    return {
        "run": rows[0]["run"] if rows else None,
        "by_species": [{"species": k, **v} for k, v in sorted(by_species.items())],
        "coverage": [
            {k: r[k] for k in ("species", "ecosystem", "habitat_ha", "added_ha")} for r in rows
        ],
        "added_ha": sum(r["added_ha"] for r in rows),
        **_label(methods, examples),
    }


def _ecosystems(rows: list[dict[str, Any]], page: dict[str, Any]) -> dict[str, Any]:
    """Ecosystem classes in the grant's sites (ha and share of the sites)."""
    methods, examples = _site_inputs(page)
    for r in rows:
        methods.extend(r["methods"])
        if "example" in r["methods"]:
            examples.append(
                en("ecosystems: {ecosystem}", ecosystem=_ecosystem_word(r["ecosystem"]))
            )
    return {
        "run": rows[0]["run"] if rows else None,
        "classes": [{k: r[k] for k in ("ecosystem", "area_ha", "share")} for r in rows],
        **_label(methods, examples),
    }


#: Tables the portfolio is computed from: a write to any of them makes a new data version
#: (:mod:`api.versions`), so a new entry in :data:`PORTFOLIO_CACHE`.
PORTFOLIO_TABLES = (
    "grants", "grant_species", "species", "field_sites", "threats", "habitat", "protected_areas",
)  # fmt: skip
#: Tables a grant's page is computed from (the portfolio's and the ecosystem classes).
PAGE_TABLES = (*PORTFOLIO_TABLES, "ecosystems")

_V = TypeVar("_V")
_MISS = object()


class VersionedCache(Generic[_V]):
    """Answers kept by the data version of their inputs (``table:version`` pairs, as tiles
    are) and their arguments: an answer is never served after a write to one of its tables,
    since the write makes a new key. At most ``size`` answers, the least recently used
    dropped first; per process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, _V] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[Hashable, threading.Lock] = {}

    @contextmanager
    def flight(self, key: Hashable) -> Iterator[None]:
        """Held while the answer under ``key`` is computed: a second caller for the same key
        (a reader, or the warmer) waits for the first and then finds its answer."""
        with self._lock:
            lock = self._flights.setdefault(key, threading.Lock())
        with lock:
            try:
                yield
            finally:
                with self._lock:
                    if self._flights.get(key) is lock:
                        del self._flights[key]

    def peek(self, key: Hashable) -> _V | object:
        """The answer kept under ``key``, or :data:`_MISS`."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return _MISS

    def put(self, key: Hashable, value: _V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: Hashable, compute: Callable[[], _V]) -> _V:
        hit = self.peek(key)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        value = compute()  # outside the lock: a slow answer does not hold up the others
        self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def kept_keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


#: The portfolio's answers (per filter and shape), grant pages' figures, feeds and maps, and
#: the habitat gap, by data version.
PORTFOLIO_CACHE: VersionedCache[Any] = VersionedCache(64)
PAGE_CACHE: VersionedCache[Any] = VersionedCache(256)
GAP_CACHE: VersionedCache[dict[str, dict[str, float]]] = VersionedCache(8)
FIGURE_CACHE: VersionedCache[dict[str, list[dict[str, Any]]]] = VersionedCache(256)
#: Tables the habitat gap is computed from.
GAP_TABLES = ("habitat", "protected_areas")


def version_tag(versions: Mapping[str, int]) -> str:
    """``table:version`` pairs, sorted by table (the form :meth:`DataVersions.of` gives)."""
    return ",".join(f"{t}:{v}" for t, v in sorted(versions.items()))


def read_snapshot(
    engine: Engine,
    tables: tuple[str, ...],
    compute: Callable[[Connection, dict[str, int]], _V],
) -> tuple[dict[str, int], _V]:
    """``compute(conn, versions)`` in one REPEATABLE READ transaction on ``engine``, with the
    data versions of ``tables`` read first in the same snapshot: the versions label exactly
    the data the answer was computed from, whatever a replica has replayed so far."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        # These statements run in milliseconds; the planner's row guesses for unnest() and
        # the geometry functions made PostgreSQL spend seconds compiling them (JIT).
        conn.execute(select(func.set_config("jit", "off", True)))
        versions = {str(t): int(v) for t, v in conn.execute(data_versions(tables))}
        return versions, compute(conn, versions)


def _behind(have: Mapping[str, int], known: Mapping[str, int]) -> bool:
    return any(have.get(t, -1) < v for t, v in known.items())


def cached(
    cache: VersionedCache[Any],
    engine: Engine,
    tables: tuple[str, ...],
    known: Mapping[str, int],
    args: tuple[Hashable, ...],
    compute: Callable[[Connection, dict[str, int]], _V],
    primary: Engine | None = None,
) -> tuple[str, _V]:
    """The answer of ``compute`` for ``args`` at the data version ``known`` (the versions of
    ``tables`` the process knows, from the primary) and that version's tag.

    An answer is looked up under ``known``; a missing one is computed in a snapshot of
    ``engine`` (:func:`read_snapshot`) and kept under the versions read *in that snapshot*,
    so a replica that has not replayed the latest write stores its older answer under the
    older version, never under the new one. When the snapshot is behind ``known`` and a
    ``primary`` is given, the answer is computed there instead (as :func:`api.ogc.reader_for`
    does for tiles): a caller who has just written sees the write.
    """
    url = str(engine.url)
    tag = version_tag(known)
    key = (url, tag, *args)
    hit = cache.peek(key)
    if hit is not _MISS:
        return tag, hit  # type: ignore[return-value]
    with cache.flight(key):  # one computation per answer: the warmer's or a reader's
        hit = cache.peek(key)
        if hit is not _MISS:
            return tag, hit  # type: ignore[return-value]
        have, value = read_snapshot(engine, tables, compute)
        if primary is not None and primary is not engine and _behind(have, known):
            have, value = read_snapshot(primary, tables, compute)
        tag = version_tag(have)
        cache.put((url, tag, *args), value)
    return tag, value


def portfolio_answer(
    engine: Engine,
    known: Mapping[str, int],
    filters: PortfolioFilter,
    metres: float = THREAT_DISTANCE_M,
    *,
    raw: bool = False,
    primary: Engine | None = None,
) -> tuple[str, Any]:
    """The portfolio through :data:`PORTFOLIO_CACHE` (:func:`cached`) and its data version:
    as a dict, or (``raw``) as JSON bytes, the grants' JSON text passed through."""

    def compute(conn: Connection, versions: dict[str, int]) -> Any:
        p = portfolio_on(conn, versions, filters, metres, raw_items=raw)
        return orjson.dumps(p) if raw else p

    args = ("json" if raw else "dict", filters, metres)
    return cached(PORTFOLIO_CACHE, engine, PORTFOLIO_TABLES, known, args, compute, primary)


def page_answer(
    engine: Engine,
    known: Mapping[str, int],
    code: str,
    metres: float = THREAT_DISTANCE_M,
    *,
    primary: Engine | None = None,
) -> tuple[str, dict[str, Any]]:
    """A grant's page (:func:`page_on`) through :data:`PAGE_CACHE` and its data version."""

    def compute(conn: Connection, versions: dict[str, int]) -> dict[str, Any]:
        return page_on(conn, versions, code, metres)

    args = ("page", code, metres)
    return cached(PAGE_CACHE, engine, PAGE_TABLES, known, args, compute, primary)


@dataclass(frozen=True)
class PortfolioFilter:
    call: str | None = None
    status: str | None = None
    country: str | None = None
    species: str | None = None


def _where(f: PortfolioFilter | None) -> list[Any]:
    f = f or PortfolioFilter()
    return lg.grant_filter(call=f.call, status=f.status, country=f.country, species=f.species)


def portfolio(
    engine: Engine,
    filters: PortfolioFilter | None = None,
    metres: float = THREAT_DISTANCE_M,
) -> dict[str, Any]:
    """The portfolio (:func:`portfolio_on`) read in one snapshot of ``engine``."""
    compute = partial(portfolio_on, filters=filters, metres=metres)
    return read_snapshot(engine, PORTFOLIO_TABLES, compute)[1]


def portfolio_on(
    conn: Connection,
    versions: Mapping[str, int],
    filters: PortfolioFilter | None = None,
    metres: float = THREAT_DISTANCE_M,
    *,
    raw_items: bool = False,
) -> dict[str, Any]:
    """Totals and funds by species × ecosystem × country, in USD; the balance of money between
    ecosystems against the share of unprotected habitat in each; sites under threat.

    A grant's amount is split equally over the combinations of its species, ecosystem focus
    (``unspecified`` when none is recorded) and countries, so the cells add up to the total.
    The sums are made in the database (exact decimals); the grants come as one JSON text,
    passed on as it is (``raw_items``, for a JSON answer) or decoded once. ``versions`` (of
    the snapshot ``conn`` reads) key the habitat gap, which only habitat and protected areas
    change.
    """
    f = filters or PortfolioFilter()
    where = _where(f)
    row = conn.execute(lg.portfolio(where)).one()
    by_status = {
        st: {"grants": n, "funds_usd": round(funds, 2)}
        for st, n, funds in orjson.loads(row.by_status)
    }
    by_ecosystem: dict[str, float] = dict(orjson.loads(row.by_ecosystem))
    cells = orjson.loads(row.cells)
    items = row.items
    gap_key = (str(conn.engine.url), version_tag({t: versions.get(t, -1) for t in GAP_TABLES}))
    gap = GAP_CACHE.get(gap_key, lambda: lg.habitat_gap(conn))
    fl_total = float(row.total)
    return {
        "filters": {k: v for k, v in f.__dict__.items() if v},
        "grants": sum(v["grants"] for v in by_status.values()),
        "funds_usd": round(fl_total, 2),
        "by_status": by_status,
        "by_ecosystem": {
            k: {"funds_usd": round(v, 2), "share": (v / fl_total) if fl_total else 0.0}
            for k, v in by_ecosystem.items()
        },
        "funds": [
            {"species": s, "ecosystem": e, "country": c, "funds_usd": v} for s, e, c, v in cells
        ],
        "balance": _balance(by_ecosystem, fl_total, gap),
        "sites_under_threat": lg.sites_under_threat(conn, where, metres),
        "threat_distance_km": metres / 1000,
        "items": orjson.Fragment(items) if raw_items else orjson.loads(items),
        "calls": list(conn.scalars(lg.calls())),
    }


def _balance(
    funds: dict[str, float], total: float, gap: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    """Per ecosystem (mountains, arid lowlands): share of the money beside the share of the
    unprotected habitat, and funds per km² of that gap (None without a habitat model)."""
    gap_total = sum(v["gap_km2"] for v in gap.values())
    out = []
    for eco in ("mountain", "arid_lowland"):
        money = funds.get(eco, 0.0)
        g = gap.get(eco, {}).get("gap_km2")
        out.append(
            {
                "ecosystem": eco,
                "funds_usd": round(money, 2),
                "share_of_funds": money / total if total else 0.0,
                "gap_km2": g,
                "share_of_gap": (g / gap_total) if g is not None and gap_total else None,
                "funds_per_gap_km2": (money / g) if g else None,
            }
        )
    return out


#: Export formats of the portfolio: media type and file extension.
EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_portfolio(
    engine: Engine, filters: PortfolioFilter, fmt: str, metres: float = THREAT_DISTANCE_M
) -> bytes:
    """The filtered portfolio as CSV (grants, geometry as WKT), GeoPackage (grants with their
    sites' union) or XLSX (grants, funds by species × ecosystem × country, balance). Text
    cells pass :func:`layers.export.csv_safe`: nothing is read as a formula."""
    import shutil

    import pandas as pd

    from layers.export import csv_bytes, csv_safe, gpkg_file
    from layers.registry import get_layer

    p = portfolio(engine, filters, metres)
    codes = [g["code"] for g in p["items"]]
    spec = get_layer("grants")
    cols = tuple(c for c in spec.columns if c.name in lg.EXPORT_COLUMNS)
    with engine.connect() as conn:
        rows = lg.features(conn, codes)
    if fmt == "csv":
        return csv_bytes(rows, cols)
    if fmt == "gpkg":
        path = gpkg_file(rows, cols, "grants", "MultiPolygon")
        try:
            return path.read_bytes()
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
    if fmt != "xlsx":
        raise InvalidInput(
            en("export as {formats}; not {format}", formats=", ".join(EXPORTS), format=repr(fmt))
        )
    flat = ("countries", "species", "ecosystem_focus")
    keep: tuple[str, ...] = ("code", "title", "grantee_organisation", "status", "call", *flat)
    keep += ("amount", "currency", "amount_usd", "start_date", "end_date")
    grants_df = pd.DataFrame(
        [{c: ",".join(g[c]) if c in flat else g[c] for c in keep} for g in p["items"]],
        columns=list(keep),
    )
    buf = io.BytesIO()
    sheets = {"grants": grants_df, "funds": pd.DataFrame(p["funds"])}
    sheets["balance"] = pd.DataFrame(p["balance"])
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, df in sheets.items():
            # a cell cannot hold what XML cannot (text stored before it was checked)
            csv_safe(df).map(xml_safe).to_excel(xl, sheet_name=name, index=False)
    return buf.getvalue()


def feed_entries(page: dict[str, Any]) -> dict[str, Any]:
    """What a grant's Atom feed carries (from its :func:`page_on`): its site uploads and
    published threats nearby, oldest first."""
    entries: list[dict[str, Any]] = []
    for s in page["sites"]:
        entries.append(
            {
                "id": f"site-{s['id']}",
                "title": en("Field site uploaded: {name}", name=s["name"]),
                "updated": s["uploaded_at"],
                "summary": en("{name}, {area} ha", name=s["name"], area=f"{s['area_ha']:,.1f}"),
                "kind": "site",
            }
        )
    for t in page["threats"]:
        entries.append(
            {
                "id": f"threat-{t['id']}-{t['site']}",
                "title": en(
                    "Threat within {distance} km of {site}: {name}",
                    distance=f"{t['distance_m'] / 1000:,.1f}",
                    site=t["site"],
                    name=t["name"],
                ),
                "updated": t["updated_at"],
                # the threat's kind and status, in words of the reader's language when shown
                "summary": (t["kind"], t["status"]),
                "kind": "threat",
                "threat_id": t["id"],
            }
        )
    entries.sort(key=lambda e: e["updated"])
    return {"grant": page["grant"], "entries": entries}
