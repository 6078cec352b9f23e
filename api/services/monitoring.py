"""Field monitoring: the indicator catalogue, records with points and evidence, review, series.

One module holds the rules so the API, the pages and the command line agree:

- the catalogue of indicators is managed by admins; an indicator about a sensitive species is
  always sensitive (its observation points are generalised for the public);
- grantees submit records for the sites of their own grants (admins for any grant); a record
  is a value of an indicator at a site on a day or over a period, with a method note,
  optional observation points and evidence files; a batch (a CSV file, or a ZIP archive of
  the CSV and the evidence files its rows name) is stored whole or not at all, with a report
  per row;
- analysts and admins accept a record or return it with a reason; the public sees accepted
  records (and their points and evidence) only; points mirror their record's state;
- evidence files go through :func:`geo.evidence.check_evidence` (in the router for a form, here
  for the files of an archive) and are stored with the threat-report evidence functions (same
  place, same rules);
- what the checks say (the refusals, and the report on each row of a batch) is English
  text made with :func:`geo.messages.en`, which the pages and the API give in the reader's
  language too (:func:`api.i18n.translate`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
import secrets
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session

from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from api.auth.principal import Principal, Role
from api.db.engine import set_actor
from api.db.models import (
    FieldSite,
    Grant,
    MonitoringEvidence,
    MonitoringIndicator,
    MonitoringPoint,
    MonitoringRecord,
    MonitoringState,
    Species,
)
from api.i18n import localized
from api.services.grants import spreadsheet_cell
from api.services.sites import get_grant, limits_for
from api.services.threat_reports import evidence_path, stored_evidence
from api.settings import Settings
from geo.archive import ArchiveLimits, check_zip, redact_paths
from geo.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthenticated,
    UnreadableFile,
)
from geo.evidence import Evidence, check_evidence
from geo.messages import Message, en, joined, number
from layers import history
from layers import monitoring as lm

REVIEWER_ROLES = (Role.analyst, Role.admin)
RECORD_LICENCE = "CC BY 4.0"
MAX_POINTS = 500
MAX_EVIDENCE_FILES = 10
MAX_NOTE = 5_000
MAX_CSV_ROWS = 20_000
#: Columns of the CSV bulk upload; ``period_end``, ``method_note``, ``points`` and ``evidence``
#: may be empty. ``evidence`` names files of the ZIP archive sent with the CSV (``;`` between).
CSV_COLUMNS = (
    "site",
    "indicator",
    "period_start",
    "period_end",
    "value",
    "method_note",
    "points",
    "evidence",
)
#: The columns of a CSV row that make its record (:class:`RecordInput`).
RECORD_COLUMNS = CSV_COLUMNS[:-1]
CSV_REQUIRED = ("site", "indicator", "period_start", "value")


#: A record's review states in words (for messages).
STATE_WORDS: dict[str, str] = {
    MonitoringState.submitted: en("submitted"),
    MonitoringState.accepted: en("accepted"),
    MonitoringState.returned: en("returned"),
}


def state_word(state: str) -> str:
    return STATE_WORDS.get(state, state)


#: From a state, the states a reviewer may move a record to.
TRANSITIONS: dict[str, frozenset[str]] = {
    MonitoringState.submitted: frozenset({MonitoringState.accepted, MonitoringState.returned}),
    MonitoringState.accepted: frozenset({MonitoringState.returned}),
    MonitoringState.returned: frozenset({MonitoringState.accepted}),
}
#: The species of the seeded indicators, linked once the species are loaded.
SEED_SPECIES = {
    "camera_trap_nights": "Panthera uncia",
    "snow_leopard_detections": "Panthera uncia",
    "goitered_gazelle_count": "Gazella subgutturosa",
}


# ---------------------------------------------------------------------------------------------
# Who may do what
# ---------------------------------------------------------------------------------------------


def require_admin(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthenticated(en("log in as an administrator to manage the indicator catalogue"))
    if not principal.has(Role.admin):
        raise Forbidden(en("only administrators manage the indicator catalogue"))


def require_submitter(principal: Principal, grant: Grant) -> None:
    """Raise unless ``principal`` may submit monitoring records for ``grant``."""
    if principal.is_anonymous:
        raise Unauthenticated(en("log in (or send an API token) to submit monitoring records"))
    if not principal.may_edit_sites(grant.id):
        raise Forbidden(
            en(
                "{user} may not submit monitoring for grant {grant}: only its grantees and "
                "administrators may",
                user=principal.username,
                grant=grant.code,
            )
        )


def require_reviewer(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthenticated(en("log in as an analyst or admin to review monitoring records"))
    if not principal.has(*REVIEWER_ROLES):
        raise Forbidden(en("only analysts and administrators accept or return monitoring records"))


def is_reviewer(principal: Principal) -> bool:
    return not principal.is_anonymous and principal.has(*REVIEWER_ROLES)


def sees_all_of(principal: Principal, grant_id: int) -> bool:
    """Whether the caller sees a grant's records in every state (not only accepted ones)."""
    return is_reviewer(principal) or (
        not principal.is_anonymous and principal.may_edit_sites(grant_id)
    )


def may_view(principal: Principal, record: MonitoringRecord) -> bool:
    return record.state == MonitoringState.accepted or sees_all_of(principal, record.site.grant_id)


def visible_record(session: Session, principal: Principal, record_id: int) -> MonitoringRecord:
    record = session.get(MonitoringRecord, record_id)
    if record is None or not may_view(principal, record):
        raise NotFound(en("there is no monitoring record {record}", record=record_id))
    return record


def visible_evidence(
    session: Session, principal: Principal, evidence_id: int
) -> MonitoringEvidence:
    ev = session.get(MonitoringEvidence, evidence_id)
    if ev is None or not may_view(principal, ev.record):
        raise NotFound(en("there is no monitoring evidence file {evidence}", evidence=evidence_id))
    return ev


def stored_evidence_path(settings: Settings, ev: MonitoringEvidence) -> Any:
    """Where an evidence file is stored (the threat-report evidence store)."""
    return evidence_path(settings, ev)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The indicator catalogue
# ---------------------------------------------------------------------------------------------


@dataclass
class IndicatorInput:
    code: str
    name_en: str
    unit: str
    sensitive: bool = False
    name_ru: str | None = None
    species: str | None = None
    name_kk: str | None = None
    allow_negative: bool = False
    description: str | None = None


def _species_id(session: Session, name: str | None) -> tuple[int | None, bool]:
    if not name:
        return None, False
    sp = session.scalar(select(Species).where(Species.scientific_name == name.strip()))
    if sp is None:
        raise InvalidInput(en("unknown species {name}; give its scientific name", name=repr(name)))
    return sp.id, sp.sensitive


def list_indicators(session: Session) -> list[MonitoringIndicator]:
    return list(session.scalars(select(MonitoringIndicator).order_by(MonitoringIndicator.code)))


def get_indicator(session: Session, code: str) -> MonitoringIndicator:
    ind = session.scalar(select(MonitoringIndicator).where(MonitoringIndicator.code == code))
    if ind is None:
        raise NotFound(
            en("there is no indicator {code}; see /api/monitoring/indicators", code=repr(code))
        )
    return ind


def chart(series: dict[str, Any]) -> str:
    """One series (from :func:`layers.monitoring.series`) as an SVG line chart, labelled with
    the indicator's name in the reader's language where the catalogue has it."""
    return lm.svg_chart(series, title=f"{localized(series)} ({series['unit']})")


def indicator_dict(ind: MonitoringIndicator) -> dict[str, Any]:
    return {
        "code": ind.code,
        "name": ind.name_en,
        "name_ru": ind.name_ru,
        "name_kk": ind.name_kk,
        "unit": ind.unit,
        "sensitive": ind.sensitive,
        "species": ind.species.scientific_name if ind.species else None,
        "allow_negative": ind.allow_negative,
        "description": ind.description,
    }


def _checked_code(code: str) -> str:
    code = (code or "").strip()
    if not code or len(code) > 64 or not code[0].isalpha():
        raise InvalidInput(en("an indicator code is 1-64 lower-case letters, digits or _"))
    if not all(c.islower() or c.isdigit() or c == "_" for c in code) or not code.isascii():
        raise InvalidInput(
            en("{code}: an indicator code is lower-case letters, digits or _", code=repr(code))
        )
    return code


def _text(value: str | None, what: str, *, required: bool, limit: int = 200) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(en("the {what} is empty", what=what))
        return None
    if len(value) > limit:
        raise InvalidInput(en("the {what} is longer than {n} characters", what=what, n=limit))
    return value


def create_indicator(
    session: Session, principal: Principal, data: IndicatorInput
) -> MonitoringIndicator:
    """Add an indicator to the catalogue (commits)."""
    require_admin(principal)
    code = _checked_code(data.code)
    if session.scalar(select(MonitoringIndicator.id).where(MonitoringIndicator.code == code)):
        raise Conflict(en("the indicator {code} exists already; edit it instead", code=repr(code)))
    species_id, species_sensitive = _species_id(session, data.species)
    set_actor(session, principal.username or f"user:{principal.user_id}")
    ind = MonitoringIndicator(
        code=code,
        name_en=_text(data.name_en, en("name"), required=True),
        name_ru=_text(data.name_ru, en("Russian name"), required=False),
        name_kk=_text(data.name_kk, en("Kazakh name"), required=False),
        unit=_text(data.unit, en("unit"), required=True, limit=40),
        sensitive=bool(data.sensitive or species_sensitive),
        species_id=species_id,
        allow_negative=data.allow_negative,
        description=_text(data.description, en("description"), required=False, limit=2000),
    )
    session.add(ind)
    session.commit()
    return ind


#: Fields of an indicator an admin may change (the code names it and stays).
EDITABLE = (
    "name_en",
    "name_ru",
    "name_kk",
    "unit",
    "sensitive",
    "species",
    "allow_negative",
    "description",
)
#: The text fields of an indicator in words (for messages).
_FIELD_WORDS = {
    "name_en": en("name en"),
    "name_ru": en("name ru"),
    "name_kk": en("name kk"),
    "unit": en("unit"),
    "description": en("description"),
}


def update_indicator(
    session: Session, principal: Principal, code: str, changes: dict[str, Any]
) -> MonitoringIndicator:
    """Change fields of an indicator (commits). A sensitive species keeps it sensitive."""
    require_admin(principal)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            en(
                "cannot change {fields}; editable: {editable}",
                fields=", ".join(unknown),
                editable=", ".join(EDITABLE),
            )
        )
    ind = get_indicator(session, code)
    set_actor(session, principal.username or f"user:{principal.user_id}")
    if "species" in changes:
        ind.species_id, _ = _species_id(session, changes["species"])
    for name, limit, required in (
        ("name_en", 200, True),
        ("name_ru", 200, False),
        ("name_kk", 200, False),
        ("unit", 40, True),
        ("description", 2000, False),
    ):
        if name in changes:
            setattr(
                ind,
                name,
                _text(changes[name], _FIELD_WORDS[name], required=required, limit=limit),
            )
    if "allow_negative" in changes:
        ind.allow_negative = bool(changes["allow_negative"])
    if "sensitive" in changes:
        ind.sensitive = bool(changes["sensitive"])
    session.flush()
    if ind.species_id is not None:
        sp = session.get(Species, ind.species_id)
        if sp is not None and sp.sensitive:
            ind.sensitive = True
    session.commit()
    return ind


def link_species(session: Session) -> int:
    """Link the seeded indicators to their species once those are loaded, and make indicators
    of sensitive species sensitive (commits). Returns how many indicators changed."""
    n = 0
    for code, name in SEED_SPECIES.items():
        ind = session.scalar(select(MonitoringIndicator).where(MonitoringIndicator.code == code))
        sp = session.scalar(select(Species).where(Species.scientific_name == name))
        if ind is not None and sp is not None and ind.species_id is None:
            ind.species_id = sp.id
            n += 1
    for ind in list_indicators(session):
        if ind.species is not None and ind.species.sensitive and not ind.sensitive:
            ind.sensitive = True
            n += 1
    session.commit()
    return n


# ---------------------------------------------------------------------------------------------
# Records: checking and submission
# ---------------------------------------------------------------------------------------------


@dataclass
class RecordInput:
    """One record as a grantee gives it (a form, a JSON body or a CSV row)."""

    site: str
    indicator: str
    period_start: str
    value: str
    period_end: str = ""
    method_note: str = ""
    points: str = ""


@dataclass
class CheckedRecord:
    site: FieldSite
    indicator: MonitoringIndicator
    period_start: dt.date
    period_end: dt.date
    value: float
    method_note: str | None
    points: list[Point] = field(default_factory=list)


def _date(value: str, what: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            en("the {what} {value} is not a date (YYYY-MM-DD)", what=what, value=repr(value))
        ) from None
    if day > dt.date.today():
        raise InvalidInput(en("the {what} {day} is in the future", what=what, day=day.isoformat()))
    if day.year < 1950:
        raise InvalidInput(en("the {what} {day} is before 1950", what=what, day=day.isoformat()))
    return day


def parse_points(text_: str) -> list[Point]:
    """Points as ``lon lat`` pairs separated by ``;`` or new lines (WGS 84 degrees)."""
    out: list[Point] = []
    for part in text_.replace("\n", ";").split(";"):
        part = part.strip().replace(",", " ")
        if not part:
            continue
        bits = part.split()
        if len(bits) != 2:
            raise InvalidInput(
                en(
                    "{part} is not a point: write 'longitude latitude', e.g. 76.9 43.0",
                    part=repr(part),
                )
            )
        try:
            lon, lat = float(bits[0]), float(bits[1])
        except ValueError:
            raise InvalidInput(
                en("{part} is not a point: longitude and latitude are numbers", part=repr(part))
            ) from None
        if not (math.isfinite(lon) and math.isfinite(lat)) or not (
            -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            raise InvalidInput(
                en("{part} is not a longitude and latitude in degrees", part=repr(part))
            )
        out.append(Point(lon, lat))
    if len(out) > MAX_POINTS:
        raise InvalidInput(en("at most {n} observation points per record", n=MAX_POINTS))
    return out


class _Lookup:
    """The grant's sites and the catalogue, read once for a batch."""

    def __init__(self, session: Session, grant: Grant) -> None:
        self.sites = {
            s.name: s
            for s in session.scalars(select(FieldSite).where(FieldSite.grant_id == grant.id))
        }
        self.by_id = {str(s.id): s for s in self.sites.values()}
        self.indicators = {i.code: i for i in list_indicators(session)}
        self.grant = grant

    def site(self, ref: str) -> FieldSite:
        ref = ref.strip()
        site = self.sites.get(ref) or self.by_id.get(ref)
        if site is None:
            names: str = ", ".join(sorted(self.sites)) or en("none yet: upload its sites first")
            raise InvalidInput(
                en(
                    "grant {code} has no field site {site}; its sites: {names}",
                    code=self.grant.code,
                    site=repr(ref),
                    names=names,
                )
            )
        return site

    def indicator(self, code: str) -> MonitoringIndicator:
        ind = self.indicators.get(code.strip())
        if ind is None:
            raise InvalidInput(
                en(
                    "unknown indicator {code}; see /api/monitoring/indicators",
                    code=repr(code.strip()),
                )
            )
        return ind


_T = TypeVar("_T")


def _attempt(problems: list[str], fn: Callable[..., _T], *args: Any) -> _T | None:
    """``fn(*args)``, or None with its message added to ``problems``."""
    try:
        return fn(*args)
    except InvalidInput as exc:
        problems.append(exc.message)
        return None


def _value(text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(en("the value {raw} is not a number", raw=repr(raw))) from None
    if not math.isfinite(value):
        raise InvalidInput(en("the value {raw} is not a finite number", raw=repr(raw)))
    return value


def check_record(lookup: _Lookup, data: RecordInput) -> CheckedRecord:
    """A cleaned record, or :class:`InvalidInput` naming the first problem."""
    problems: list[str] = []
    site = _attempt(problems, lookup.site, data.site or "")
    indicator = _attempt(problems, lookup.indicator, data.indicator or "")
    start = _attempt(problems, _date, data.period_start or "", en("date (period start)"))
    end = None
    if (data.period_end or "").strip():
        end = _attempt(problems, _date, data.period_end, en("period end"))
    read = _attempt(problems, _value, data.value or "")
    value = math.nan if read is None else read
    if start is not None and end is not None and end < start:
        problems.append(
            en(
                "the period ends ({end}) before it starts ({start})",
                end=end.isoformat(),
                start=start.isoformat(),
            )
        )
    if (
        indicator is not None
        and math.isfinite(value)
        and value < 0
        and not indicator.allow_negative
    ):
        problems.append(
            en("{code} cannot be negative ({value})", code=indicator.code, value=format(value, "g"))
        )
    note = (data.method_note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        problems.append(en("the method note is longer than {n} characters", n=number(MAX_NOTE)))
    pts: list[Point] = _attempt(problems, parse_points, data.points or "") or []
    if problems:
        raise InvalidInput(joined(problems))
    assert site is not None and indicator is not None and start is not None
    return CheckedRecord(
        site=site,
        indicator=indicator,
        period_start=start,
        period_end=end or start,
        value=value,
        method_note=note,
        points=pts,
    )


def _key(r: CheckedRecord) -> tuple[int, int, dt.date, dt.date]:
    return (r.site.id, r.indicator.id, r.period_start, r.period_end)


def _existing(session: Session, keys: Sequence[tuple[int, int, dt.date, dt.date]]) -> set[Any]:
    if not keys:
        return set()
    site_ids = {k[0] for k in keys}
    rows = session.execute(
        select(
            MonitoringRecord.site_id,
            MonitoringRecord.indicator_id,
            MonitoringRecord.period_start,
            MonitoringRecord.period_end,
        ).where(MonitoringRecord.site_id.in_(site_ids))
    ).all()
    return {tuple(r) for r in rows} & set(keys)


def _duplicate_text(r: CheckedRecord) -> Message:
    period = (
        r.period_start.isoformat()
        if r.period_start == r.period_end
        else f"{r.period_start.isoformat()}..{r.period_end.isoformat()}"
    )
    return en(
        "{code} at {site} for {period}",
        code=r.indicator.code,
        site=r.site.name,
        period=period,
    )


def _store(
    session: Session,
    settings: Settings,
    principal: Principal,
    checked: Sequence[CheckedRecord],
    evidence: Sequence[Sequence[Evidence]] = (),
    captions: Sequence[str] = (),
    *,
    method: str = "observed",
    source: str = "Field monitoring submitted to Irbis",
) -> list[MonitoringRecord]:
    """Store ``checked`` records with their points and, record by record, ``evidence`` files
    (``captions`` go with the files of the first record), in one transaction (commits)."""
    set_actor(session, principal.username or f"user:{principal.user_id}")
    out: list[MonitoringRecord] = []
    for c in checked:
        rec = MonitoringRecord(
            site_id=c.site.id,
            indicator_id=c.indicator.id,
            period_start=c.period_start,
            period_end=c.period_end,
            value=c.value,
            method_note=c.method_note,
            state=MonitoringState.submitted,
            submitted_by=principal.user_id,
            submitted_by_name=principal.display_name,
            source=source,
            licence=RECORD_LICENCE,
            method=method,
        )
        for p in c.points:
            rec.points.append(
                MonitoringPoint(
                    indicator_id=c.indicator.id,
                    observed_on=c.period_start,
                    accepted=False,
                    source=source,
                    licence=RECORD_LICENCE,
                    method=method,
                    geom=from_shape(p, srid=4326),
                )
            )
        session.add(rec)
        out.append(rec)
    if len(evidence) > len(out):
        raise ValueError("more lists of evidence files than records")
    every = [ev for files in evidence for ev in files]
    with stored_evidence(settings, every, captions) as stored:
        columns = {cols["sha256"]: cols for cols in stored}
        for rec, files in zip(out, evidence, strict=False):
            for sha in dict.fromkeys(ev.sha256 for ev in files):  # a file once per record
                rec.evidence.append(MonitoringEvidence(**columns[sha]))
        session.commit()  # inside: if it fails, the files written for it are removed
    return out


def submit_record(
    session: Session,
    settings: Settings,
    principal: Principal,
    code: str,
    data: RecordInput,
    evidence: Sequence[Evidence] = (),
    captions: Sequence[str] = (),
) -> MonitoringRecord:
    """Store one record with its points and evidence (commits), or raise saying what to fix."""
    grant = get_grant(session, code)
    require_submitter(principal, grant)
    if len(evidence) > MAX_EVIDENCE_FILES:
        raise InvalidInput(en("at most {n} evidence files per record", n=MAX_EVIDENCE_FILES))
    checked = check_record(_Lookup(session, grant), data)
    if _existing(session, [_key(checked)]):
        raise Conflict(
            en(
                "there is a record of {record} already; a second one would count twice",
                record=_duplicate_text(checked),
            )
        )
    return _store(session, settings, principal, [checked], [evidence], captions)[0]


@dataclass
class BatchReport:
    """The outcome of a CSV upload: a line per row, and whether anything was stored."""

    rows: list[dict[str, Any]]
    stored: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(r["status"] == "ok" for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        errors = sum(1 for r in self.rows if r["status"] != "ok")
        return {
            "stored": self.stored,
            "rows": len(self.rows),
            "errors": errors,
            "error": self.error,
            "report": self.rows,
        }


def read_csv(data: bytes) -> list[dict[str, str]]:
    """The rows of a monitoring CSV (UTF-8, a header with :data:`CSV_COLUMNS`)."""
    try:
        text_ = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            en(
                "the file is not UTF-8 text (byte {byte} is not valid UTF-8); save it as "
                "'CSV UTF-8' and upload it again",
                byte=exc.start + 1,
            )
        ) from None
    if "\x00" in text_:
        raise InvalidInput(en("the file is not a CSV text file (it contains NUL bytes)"))
    try:
        return table_rows(list(csv.reader(io.StringIO(text_, newline=""))))
    except csv.Error as exc:
        raise InvalidInput(en("the CSV cannot be read ({reason})", reason=str(exc))) from None


def table_rows(lines: list[list[str]]) -> list[dict[str, str]]:
    """The records of a table's lines (a CSV file's or a worksheet's): the first names the
    columns (:data:`CSV_COLUMNS`); empty lines are skipped."""
    header = [h.strip() for h in lines[0]] if lines else []
    while header and not header[-1]:  # a worksheet's empty cells right of the header
        header.pop()
    if not header:
        raise InvalidInput(
            en(
                "the file is empty; the first line names the columns: {columns}",
                columns=", ".join(CSV_COLUMNS),
            )
        )
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        parts: list[str] = []
        if missing:
            parts.append(en("missing {columns}", columns=", ".join(missing)))
        if unknown:
            parts.append(en("unknown {columns}", columns=", ".join(repr(u) for u in unknown)))
        if len(set(header)) != len(header):
            parts.append(en("a column is named twice"))
        raise InvalidInput(
            en(
                "wrong columns ({problems}); the columns are {columns} ({required} required)",
                problems=joined(parts),
                columns=", ".join(CSV_COLUMNS),
                required=", ".join(CSV_REQUIRED),
            )
        )
    rows: list[dict[str, str]] = []
    for line in lines[1:]:
        if not any(c.strip() for c in line):
            rows.append({"__empty__": "x"})
            continue
        if any(c.strip() for c in line[len(header) :]):
            rows.append({"__extra__": "x"})
            continue
        rows.append({h: (line[i] if i < len(line) else "") for i, h in enumerate(header)})
        if len(rows) > MAX_CSV_ROWS:
            raise InvalidInput(en("at most {n} rows per file; split it", n=number(MAX_CSV_ROWS)))
    while rows and "__empty__" in rows[-1]:
        rows.pop()
    if not rows:
        raise InvalidInput(en("the file has a header but no rows"))
    return rows


#: The first bytes of a ZIP archive (an empty one too): a CSV sent with its evidence files,
#: or an XLSX workbook.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_workbook(data: bytes) -> bool:
    """Whether a ZIP archive is an XLSX workbook (rather than a CSV and its evidence)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


def read_xlsx(data: bytes, limits: ArchiveLimits) -> list[dict[str, str]]:
    """The rows of the first worksheet of an XLSX workbook (a header with
    :data:`CSV_COLUMNS`; dates as dates or as YYYY-MM-DD text). A workbook is a ZIP archive:
    its directory is checked like an uploaded archive's before it is read."""
    from openpyxl import load_workbook  # heavy; only workbooks need it

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        check_zip(zf, limits)
    lines: list[list[str]] = []
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for i, r in enumerate(book.worksheets[0].iter_rows(values_only=True)):
                if i > MAX_CSV_ROWS + 1:
                    raise InvalidInput(
                        en("at most {n} rows per file; split it", n=number(MAX_CSV_ROWS))
                    )
                lines.append([spreadsheet_cell(c) for c in r])
        finally:
            book.close()
    except InvalidInput:
        raise
    except Exception:  # whatever a damaged workbook makes the parser raise
        raise UnreadableFile(
            en(
                "the file cannot be read as an XLSX workbook; save it again from the "
                "spreadsheet program, or as 'CSV UTF-8'"
            )
        ) from None
    return table_rows(lines)


def _skipped(name: str) -> bool:
    """Archive members that are not the sender's files: macOS resource forks and hidden files."""
    parts = name.split("/")
    return "__MACOSX" in parts or parts[-1].startswith(".")


class EvidenceArchive:
    """A ZIP archive of one CSV file and the evidence files its rows name (in the archive's
    folders, e.g. ``photos/trap 4.jpg``).

    The archive's directory is checked before anything is read (:func:`geo.archive.check_zip`:
    number of members, names escaping the archive, links, declared sizes and compression
    ratios); a member is then read only when a row names it, each at most once, and checked
    like an evidence file sent with a form (:func:`geo.evidence.check_evidence`: type from the
    content, sizes, metadata and the photo's location removed).
    """

    def __init__(self, zf: zipfile.ZipFile, limits: ArchiveLimits, settings: Settings) -> None:
        self._zf = zf
        self._settings = settings
        members = {info.filename.replace("\\", "/"): info for info in check_zip(zf, limits)}
        self._members = {name: info for name, info in members.items() if not _skipped(name)}
        csvs = [n for n in self._members if n.lower().endswith(".csv")]
        if len(csvs) != 1:
            found: str = (
                en("{n} CSV files ({names})", n=len(csvs), names=", ".join(sorted(csvs)))
                if csvs
                else en("none")
            )
            raise InvalidInput(
                en(
                    "a ZIP of monitoring records holds exactly one CSV file (the records) and "
                    "the evidence files its 'evidence' column names; this one has {found}",
                    found=found,
                )
            )
        self.csv_name = csvs[0]
        self._checked: dict[str, Evidence | str] = {}

    @classmethod
    @contextmanager
    def open(
        cls, data: bytes, limits: ArchiveLimits, settings: Settings
    ) -> Iterator[EvidenceArchive]:
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise UnreadableFile(
                en(
                    "the upload is not a readable ZIP archive ({reason})",
                    reason=redact_paths(str(exc))[:200],
                )
            ) from None
        with zf:
            yield cls(zf, limits, settings)

    def size(self, name: str) -> int:
        """The size of a member once unpacked, as its directory entry declares it."""
        return self._members[name].file_size

    def read(self, name: str) -> bytes:
        """The bytes of a member, as many as its directory entry declares (which the limits
        were checked against) and no more."""
        info = self._members[name]
        try:
            with self._zf.open(info) as fh:
                data = fh.read(info.file_size + 1)
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            ValueError,
            RuntimeError,  # encrypted
            NotImplementedError,  # a compression method zipfile does not know
            zlib.error,
        ) as exc:
            raise UnreadableFile(
                en(
                    "{name} cannot be read from the archive ({reason}); zip the files again "
                    "without a password",
                    name=name,
                    reason=redact_paths(str(exc))[:200],
                )
            ) from None
        if len(data) > info.file_size:
            raise TooLarge(en("{name} is larger in the archive than its directory says", name=name))
        return data

    def evidence(self, name: str) -> Evidence | str:
        """The checked evidence file ``name``, or what is wrong with it."""
        if name not in self._checked:
            self._checked[name] = self._check(name)
        return self._checked[name]

    def _check(self, name: str) -> Evidence | str:
        if name not in self._members or name == self.csv_name:
            files = sorted(n for n in self._members if n != self.csv_name)
            listed = ", ".join(files[:10]) + (" ..." if len(files) > 10 else "")
            return en(
                "the evidence file {name} is not in the archive (its files: {files}); name it "
                "with its folder, as in the ZIP",
                name=repr(name),
                files=listed or en("none besides the CSV"),
            )
        up = self._settings.uploads
        try:
            return check_evidence(
                self.read(name),
                name=name,
                max_photo_bytes=up.max_photo_bytes,
                max_pdf_bytes=up.max_bytes,
                keep_location=False,
            )
        except InvalidInput as exc:
            return exc.message


def _row_evidence(
    archive: EvidenceArchive | None, names_text: str
) -> tuple[list[Evidence], list[str]]:
    """The evidence files a row names (``;`` between names), and what is wrong with them."""
    names = [n.strip() for n in names_text.replace("\n", ";").split(";") if n.strip()]
    if not names:
        return [], []
    if archive is None:
        return [], [
            en(
                "the evidence column names files, but a CSV file cannot carry them: send a ZIP "
                "archive of the CSV and the files"
            )
        ]
    if len(names) > MAX_EVIDENCE_FILES:
        return [], [en("at most {n} evidence files per record", n=MAX_EVIDENCE_FILES)]
    files, problems = [], []
    for name in names:
        checked = archive.evidence(name)
        if isinstance(checked, str):
            problems.append(checked)
        else:
            files.append(checked)
    return files, problems


def submit_csv(
    session: Session,
    settings: Settings,
    principal: Principal,
    code: str,
    data: bytes,
    *,
    dry_run: bool = False,
) -> BatchReport:
    """Check every row of a CSV, then store all of them in one transaction or none.

    ``data`` is the CSV, or a ZIP archive of the CSV and the evidence files named in its
    ``evidence`` column (:class:`EvidenceArchive`). Returns the report; it says per row
    (numbered as in a spreadsheet, the header being row 1) what is wrong. Nothing is stored
    (no record, no file) if any row or any file it names is wrong, or with ``dry_run``.
    """
    grant = get_grant(session, code)
    require_submitter(principal, grant)
    if data[:4] not in ZIP_MAGIC:
        read = partial(read_csv, data)
        return _submit_rows(session, settings, principal, grant, read, None, dry_run=dry_run)
    limits = limits_for(settings.uploads).archive
    if is_workbook(data):
        read = partial(read_xlsx, data, limits)
        return _submit_rows(session, settings, principal, grant, read, None, dry_run=dry_run)
    try:
        with EvidenceArchive.open(data, limits, settings) as archive:
            if archive.size(archive.csv_name) > settings.uploads.max_bytes:
                raise TooLarge(
                    en(
                        "{name} is larger than {mb} MB once unpacked; split it",
                        name=archive.csv_name,
                        mb=format(settings.uploads.max_bytes / 1e6, ".3g"),
                    )
                )
            read = partial(read_csv, archive.read(archive.csv_name))
            return _submit_rows(session, settings, principal, grant, read, archive, dry_run=dry_run)
    except InvalidInput as exc:
        session.rollback()
        return BatchReport(rows=[], stored=False, error=exc.message)


def _submit_rows(
    session: Session,
    settings: Settings,
    principal: Principal,
    grant: Grant,
    read: Callable[[], list[dict[str, str]]],
    archive: EvidenceArchive | None,
    *,
    dry_run: bool,
) -> BatchReport:
    try:
        rows = read()
    except InvalidInput as exc:
        return BatchReport(rows=[], stored=False, error=exc.message)
    lookup = _Lookup(session, grant)
    report: list[dict[str, Any]] = []
    good: list[tuple[int, CheckedRecord, list[Evidence]]] = []
    seen: dict[tuple[int, int, dt.date, dt.date], int] = {}
    for i, row in enumerate(rows, start=2):
        if "__empty__" in row:
            continue
        if "__extra__" in row:
            report.append({"row": i, "status": "error", "message": en("more values than columns")})
            continue
        problems: list[str] = []
        c = _attempt(
            problems,
            check_record,
            lookup,
            RecordInput(**{k: row.get(k, "") for k in RECORD_COLUMNS}),
        )
        files, file_problems = _row_evidence(archive, row.get("evidence", ""))
        problems += file_problems
        if c is None or problems:
            report.append({"row": i, "status": "error", "message": joined(problems)})
            continue
        k = _key(c)
        if k in seen:
            report.append(
                {
                    "row": i,
                    "status": "error",
                    "message": en(
                        "duplicate of row {row}: {record}", row=seen[k], record=_duplicate_text(c)
                    ),
                }
            )
            continue
        seen[k] = i
        n = len({ev.sha256 for ev in files})
        # distinct files, at most MAX_EVIDENCE_FILES (10): one form for 2 to 10 in every language
        said = _duplicate_text(c)
        if n == 1:
            said = en("{record} with 1 evidence file", record=said)
        elif n:
            said = en("{record} with {n} evidence files", record=said, n=n)
        report.append({"row": i, "status": "ok", "message": said})
        good.append((i, c, files))
    stored_already = _existing(session, [_key(c) for _, c, _ in good])
    for i, c, _ in good:
        if _key(c) in stored_already:
            report[i - 2] = {
                "row": i,
                "status": "error",
                "message": en("there is a record of {record} already", record=_duplicate_text(c)),
            }
    out = BatchReport(rows=report, stored=False)
    if not out.ok or dry_run:
        session.rollback()
        return out
    _store(session, settings, principal, [c for _, c, _ in good], [f for _, _, f in good])
    out.stored = True
    return out


# ---------------------------------------------------------------------------------------------
# The upload page: a checked batch is kept until its sender stores it
# ---------------------------------------------------------------------------------------------

#: How long a checked batch waits for its sender to store it (seconds).
STAGED_FOR_S = 3600
#: The form of a staged batch's token (:func:`secrets.token_urlsafe` of 32 bytes).
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def submittable_grants(session: Session, principal: Principal) -> list[Grant]:
    """The grants ``principal`` may submit monitoring records for, by code: every grant for
    an administrator, a grantee's own grants, none for others."""
    if principal.is_anonymous:
        return []
    q = select(Grant).order_by(Grant.code)
    if not principal.has(Role.admin):
        if not principal.has(Role.grantee) or not principal.grant_ids:
            return []
        q = q.where(Grant.id.in_(principal.grant_ids))
    return list(session.scalars(q))


def _staging_root(settings: Settings) -> Path:
    return Path(settings.var_dir) / "staged" / "monitoring"


def _staged_path(settings: Settings, principal: Principal, grant: Grant, token: str) -> Path:
    """Where a batch is kept: named by a digest of its sender, grant and token, so only the
    sender, for that grant, with the token finds it."""
    name = hashlib.sha256(f"{principal.user_id}:{grant.id}:{token}".encode()).hexdigest()
    return _staging_root(settings) / name


def _sweep(root: Path) -> None:
    """Remove batches older than :data:`STAGED_FOR_S` (never stored)."""
    cutoff = time.time() - STAGED_FOR_S
    for path in root.glob("*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            continue


def stage_batch(settings: Settings, principal: Principal, grant: Grant, data: bytes) -> str:
    """Keep a checked batch (the bytes as sent) for its sender to store; returns its token."""
    root = _staging_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    _sweep(root)
    token = secrets.token_urlsafe(32)
    path = _staged_path(settings, principal, grant, token)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return token


def staged_batch(settings: Settings, principal: Principal, grant: Grant, token: str) -> bytes:
    """The batch kept under ``token`` for this sender and grant, or :class:`InvalidInput`."""
    gone = InvalidInput(
        en(
            "the checked file is no longer kept (it is kept for an hour, once, for the person "
            "who checked it and its grant): choose it and check it again"
        )
    )
    if not TOKEN.match(token or ""):
        raise gone
    path = _staged_path(settings, principal, grant, token)
    try:
        if path.stat().st_mtime < time.time() - STAGED_FOR_S:
            path.unlink(missing_ok=True)
            raise gone
        return path.read_bytes()
    except FileNotFoundError:
        raise gone from None


def drop_staged(settings: Settings, principal: Principal, grant: Grant, token: str) -> None:
    if TOKEN.match(token or ""):
        _staged_path(settings, principal, grant, token).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Review
# ---------------------------------------------------------------------------------------------


def review(
    session: Session, principal: Principal, record_id: int, to_state: str, reason: str | None
) -> MonitoringRecord:
    """Accept a record or return it with a reason (commits); its points follow."""
    require_reviewer(principal)
    record = session.get(MonitoringRecord, record_id, with_for_update=True)
    if record is None:
        raise NotFound(en("there is no monitoring record {record}", record=record_id))
    if to_state not in (MonitoringState.accepted, MonitoringState.returned):
        raise InvalidInput(
            en("unknown state {state}; use accepted or returned", state=repr(to_state))
        )
    if to_state not in TRANSITIONS[record.state]:
        raise Conflict(
            en(
                "record {record} is {state} already",
                record=record_id,
                state=state_word(record.state),
            )
        )
    reason = (reason or "").strip() or None
    if to_state == MonitoringState.returned and not reason:
        raise InvalidInput(en("give a reason for returning the record; the grantee will see it"))
    if reason and len(reason) > MAX_NOTE:
        raise InvalidInput(en("the reason is longer than {n} characters", n=number(MAX_NOTE)))
    set_actor(session, principal.username or f"user:{principal.user_id}")
    record.state = to_state
    record.reason = reason
    record.reviewed_by = principal.user_id
    record.reviewed_by_name = principal.display_name
    record.reviewed_at = dt.datetime.now(dt.UTC)
    session.execute(
        update(MonitoringPoint)
        .where(MonitoringPoint.record_id == record.id)
        .values(accepted=to_state == MonitoringState.accepted)
    )
    session.commit()
    return record


def correctable(principal: Principal, record: MonitoringRecord) -> bool:
    """Whether ``principal`` may correct and resubmit ``record`` now: it was returned, and the
    caller is a grantee of its grant (or an administrator)."""
    return (
        record.state == MonitoringState.returned
        and not principal.is_anonymous
        and principal.may_edit_sites(record.site.grant_id)
    )


def resubmit(
    session: Session,
    settings: Settings,
    principal: Principal,
    record_id: int,
    data: RecordInput,
    evidence: Sequence[Evidence] = (),
    captions: Sequence[str] = (),
) -> MonitoringRecord:
    """Correct a returned record and submit it for review again (commits).

    ``data`` is the whole corrected record, as in a submission: its observation points
    replace the record's; evidence files sent are added to those it has. The return, its
    reason and the correction stay in the record's history (the audit log)."""
    record = visible_record(session, principal, record_id)
    grant = record.site.grant
    require_submitter(principal, grant)
    if record.state != MonitoringState.returned:
        raise Conflict(
            en(
                "record {record} is {state}: only a record an analyst returned can be corrected "
                "and resubmitted",
                record=record_id,
                state=state_word(record.state),
            )
        )
    if len(record.evidence) + len(evidence) > MAX_EVIDENCE_FILES:
        raise InvalidInput(en("at most {n} evidence files per record", n=MAX_EVIDENCE_FILES))
    checked = check_record(_Lookup(session, grant), data)
    key = _key(checked)
    if key != (record.site_id, record.indicator_id, record.period_start, record.period_end) and (
        _existing(session, [key])
    ):
        raise Conflict(
            en(
                "there is a record of {record} already; a second one would count twice",
                record=_duplicate_text(checked),
            )
        )
    set_actor(session, principal.username or f"user:{principal.user_id}")
    record.site_id, record.indicator_id = checked.site.id, checked.indicator.id
    record.period_start, record.period_end = checked.period_start, checked.period_end
    record.value, record.method_note = checked.value, checked.method_note
    record.state, record.reason = MonitoringState.submitted, None
    record.submitted_by = principal.user_id
    record.submitted_by_name = principal.display_name
    record.points.clear()
    for p in checked.points:
        record.points.append(
            MonitoringPoint(
                indicator_id=checked.indicator.id,
                observed_on=checked.period_start,
                accepted=False,
                source=record.source,
                licence=RECORD_LICENCE,
                method=record.method,
                geom=from_shape(p, srid=4326),
            )
        )
    have = {e.sha256 for e in record.evidence}
    with stored_evidence(settings, evidence, captions, have=have) as files:
        for cols in files:
            record.evidence.append(MonitoringEvidence(**cols))
        session.commit()  # inside: if it fails, the files written for it are removed
    session.refresh(record)
    return record


#: Fields of a record whose changes its history lists (review fields are shown apart).
HISTORY_FIELDS = ("site_id", "indicator_id", "period_start", "period_end", "value", "method_note")


def record_history(session: Session, record: MonitoringRecord) -> list[dict[str, Any]]:
    """Each step of a record, oldest first: submitted, accepted, returned (with the reason),
    corrected (the fields that changed, old and new) and resubmitted; who and when."""
    out = []
    names: dict[str, dict[Any, Any]] = {
        "site_id": dict(
            session.execute(
                select(FieldSite.id, FieldSite.name).where(
                    FieldSite.grant_id == record.site.grant_id
                )
            ).all()
        ),
        "indicator_id": dict(
            session.execute(select(MonitoringIndicator.id, MonitoringIndicator.code)).all()
        ),
    }
    for r in session.execute(history.audit_trail("monitoring_records", record.id)).mappings():
        before, after = r["before"] or {}, r["after"] or {}
        changed = {
            k.removesuffix("_id"): {
                "from": names.get(k, {}).get(before.get(k), before.get(k)),
                "to": names.get(k, {}).get(after.get(k), after.get(k)),
            }
            for k in HISTORY_FIELDS
            if r["action"] == "update" and before.get(k) != after.get(k)
        }
        state = after.get("state")
        if r["action"] == "update" and state == before.get("state") and not changed:
            continue
        out.append(
            {
                "at": r["at"].astimezone(dt.UTC).isoformat(),
                "actor": r["actor"],
                "action": r["action"],
                "state": state,
                "reason": after.get("reason") if state == MonitoringState.returned else None,
                "changed": changed,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def record_dict(record: MonitoringRecord, *, private: bool) -> dict[str, Any]:
    """A record for JSON; ``private`` adds who submitted and reviewed it."""
    out: dict[str, Any] = {
        "id": record.id,
        "grant": record.site.grant.code,
        "site": record.site.name,
        "site_id": record.site_id,
        "indicator": record.indicator.code,
        "unit": record.indicator.unit,
        "period_start": record.period_start.isoformat(),
        "period_end": record.period_end.isoformat(),
        "value": record.value,
        "method_note": record.method_note,
        "state": record.state,
        "method": record.method,
        "url": f"/monitoring/records/{record.id}",
        "evidence": [f"/monitoring/evidence/{e.id}" for e in record.evidence],
    }
    if private:
        out["reason"] = record.reason
        out["submitted_by"] = record.submitted_by_name
        out["reviewed_by"] = record.reviewed_by_name
    return out


def records_for_grant(
    session: Session, principal: Principal, code: str, state: str | None = None
) -> tuple[Grant, list[MonitoringRecord]]:
    """A grant's records the caller may see: every state for its grantees and reviewers,
    accepted ones for everyone else."""
    grant = get_grant(session, code)
    q = (
        select(MonitoringRecord)
        .join(FieldSite, FieldSite.id == MonitoringRecord.site_id)
        .where(FieldSite.grant_id == grant.id)
        .order_by(MonitoringRecord.period_start.desc(), MonitoringRecord.id.desc())
    )
    if not sees_all_of(principal, grant.id):
        q = q.where(MonitoringRecord.state == MonitoringState.accepted)
    if state is not None:
        q = q.where(MonitoringRecord.state == state)
    return grant, list(session.scalars(q))


def pending(session: Session, principal: Principal, limit: int = 200) -> list[MonitoringRecord]:
    """Records waiting for review (for reviewers)."""
    require_reviewer(principal)
    return list(
        session.scalars(
            select(MonitoringRecord)
            .where(MonitoringRecord.state == MonitoringState.submitted)
            .order_by(MonitoringRecord.created_at)
            .limit(limit)
        )
    )


def series(
    conn: Connection,
    principal: Principal,
    *,
    grant: Grant | None = None,
    site_id: int | None = None,
    indicator: str | None = None,
    step: str = "month",
) -> list[dict[str, Any]]:
    """Time series the caller may see: accepted records, unless the caller is a reviewer or
    a grantee of the grant asked about (who also see submitted and returned ones)."""
    if step not in lm.STEPS:
        raise InvalidInput(en("unknown step {step}; use month or year", step=repr(step)))
    public = not (
        is_reviewer(principal) or (grant is not None and sees_all_of(principal, grant.id))
    )
    return lm.series(
        conn,
        lm.SeriesFilter(
            grant_id=grant.id if grant else None, site_id=site_id, indicator_code=indicator
        ),
        public=public,
        step=step,  # type: ignore[arg-type]
    )


def grant_monitoring(
    conn: Connection, principal: Principal, grant_id: int, code: str, *, step: str = "year"
) -> dict[str, Any]:
    """What a grant's page shows of its monitoring: a chart per indicator."""
    public = not (is_reviewer(principal) or sees_all_of(principal, grant_id))
    if step not in lm.STEPS:
        raise InvalidInput(en("unknown step {step}; use month or year", step=repr(step)))
    s = lm.series(conn, lm.SeriesFilter(grant_id=grant_id), public=public, step=step)  # type: ignore[arg-type]
    return {
        "grant": code,
        "series": s,
        "charts": [chart(x) for x in s],
        "url": f"/grants/{code}/monitoring",
        "json": f"/api/monitoring/series?grant={code}&step={step}",
    }


def grant_monitoring_for(engine: Engine, principal: Principal, code: str) -> dict[str, Any]:
    """:func:`grant_monitoring` of the grant ``code`` (for pages that hold an engine; reads
    only the grant's id, so the read-only role will do)."""
    with engine.connect() as conn:
        grant_id = conn.execute(select(Grant.id).where(Grant.code == code)).scalar_one_or_none()
        if grant_id is None:
            raise NotFound(en("no grant with code {code}", code=repr(code)))
        return grant_monitoring(conn, principal, grant_id, code)
