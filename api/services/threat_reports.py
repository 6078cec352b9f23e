"""Threat reports: submission with evidence, moderation, publication as threats.

One module holds the rules, so the routers stay thin and every output agrees:

- who may submit (logged-in advocates, analysts and admins), who may moderate and publish
  (analysts and admins), who may see a report (everyone once published; before that only
  moderators and the reporter), and whose name the public sees (never an anonymous reporter's);
- the moderation states: submitted → under review → published or rejected (with a reason),
  every change kept in ``threat_report_events`` with who and when;
- publishing creates or updates a ``threats`` row and its ``threat_status_changes``;
- evidence files are stored under ``var_dir/evidence`` by content hash, outside the repository,
  written only once everything else has been checked, and removed again if the write fails.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry.base import BaseGeometry

from api.auth.principal import Principal, Role
from api.db.engine import set_actor
from api.db.models import (
    EvidenceFile,
    ReportState,
    Threat,
    ThreatKind,
    ThreatReport,
    ThreatReportEvent,
    ThreatStatus,
    ThreatStatusChange,
)
from api.settings import Settings
from geo.errors import Conflict, Forbidden, InvalidInput, IrbisError, NotFound, Unauthenticated
from geo.evidence import METADATA_RULES, Evidence, check_evidence
from geo.lazy import lazy_module
from geo.messages import Message, en, number

if TYPE_CHECKING:
    import pandas as pd

    from geo import threats
else:  # pandas, geopandas, pyogrio: not on the start path (geo.lazy)
    pd = lazy_module("pandas")
    threats = lazy_module("geo.threats")

#: Roles that may submit reports.
REPORTER_ROLES = (Role.advocate, Role.analyst, Role.admin)
#: Roles that may review, publish and reject reports.
MODERATOR_ROLES = (Role.analyst, Role.admin)
#: Allowed moderation steps: from a state, the states it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    ReportState.submitted: frozenset({ReportState.under_review}),
    ReportState.under_review: frozenset({ReportState.published, ReportState.rejected}),
    ReportState.rejected: frozenset({ReportState.under_review}),
    ReportState.published: frozenset(),
}
MAX_LINKS = 20
MAX_EVIDENCE_FILES = 10
MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
REPORT_LICENCE = "CC BY 4.0"
#: The moderation states in words (for messages).
STATE_WORDS: dict[str, str] = {
    ReportState.submitted: en("submitted"),
    ReportState.under_review: en("under review"),
    ReportState.published: en("published"),
    ReportState.rejected: en("rejected"),
}


def _listed(words: Sequence[str]) -> Message:
    """``words`` separated by commas (each given in the reader's language where it is a
    message)."""
    template = ", ".join(f"{{w{i}}}" for i in range(len(words)))
    return Message(template, {f"w{i}": w for i, w in enumerate(words)})


@dataclass
class ReportInput:
    """What a reporter fills in (the geometry and files are read separately)."""

    title: str
    kind: str
    threat_status: str
    description: str
    status_on: dt.date | None = None
    observed_on: dt.date | None = None
    links: list[str] = field(default_factory=list)
    anonymous: bool = False
    keep_location: bool = False
    threat_id: int | None = None

    def checked(self) -> ReportInput:
        """Return a cleaned copy, or raise :class:`InvalidInput` saying what to fix."""
        title = (self.title or "").strip()
        description = (self.description or "").strip()
        if not description:
            raise InvalidInput(en("the description is empty: say what the threat is and why"))
        if len(description) > MAX_DESCRIPTION:
            raise InvalidInput(
                en("the description is longer than {n} characters", n=number(MAX_DESCRIPTION))
            )
        if not title:
            raise InvalidInput(en("the title is empty: give the threat a short name"))
        if len(title) > MAX_TITLE:
            raise InvalidInput(en("the title is longer than {n} characters", n=MAX_TITLE))
        if self.kind not in set(ThreatKind):
            raise InvalidInput(
                en(
                    "unknown kind {kind}; use one of {kinds}",
                    kind=repr(self.kind),
                    kinds=", ".join(k.value for k in ThreatKind),
                )
            )
        if self.threat_status not in set(ThreatStatus):
            raise InvalidInput(
                en(
                    "unknown status {status}; use one of {statuses}",
                    status=repr(self.threat_status),
                    statuses=", ".join(s.value for s in ThreatStatus),
                )
            )
        today = dt.date.today()
        for what, day in (
            (en("status date"), self.status_on),
            (en("observation date"), self.observed_on),
        ):
            if day is not None and day > today:
                raise InvalidInput(
                    en("the {what} {day} is in the future", what=what, day=day.isoformat())
                )
        links = [u.strip() for u in self.links if u and u.strip()]
        if len(links) > MAX_LINKS:
            raise InvalidInput(en("at most {n} links", n=MAX_LINKS))
        for url in links:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise InvalidInput(
                    en("{url} is not a web address (http:// or https://)", url=repr(url))
                )
        return ReportInput(
            title=title,
            kind=self.kind,
            threat_status=self.threat_status,
            description=description,
            status_on=self.status_on,
            observed_on=self.observed_on,
            links=links,
            anonymous=self.anonymous,
            keep_location=self.keep_location,
            threat_id=self.threat_id,
        )


# ---------------------------------------------------------------------------------------------
# Who may do what
# ---------------------------------------------------------------------------------------------


def require_reporter(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthenticated(en("log in to submit a threat report"))
    if not principal.has(*REPORTER_ROLES):
        raise Forbidden(en("only advocates, analysts and admins can submit threat reports"))


def require_moderator(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthenticated(en("log in as an analyst or admin to moderate reports"))
    if not principal.has(*MODERATOR_ROLES):
        raise Forbidden(en("only analysts and admins can review, publish or reject reports"))


def is_moderator(principal: Principal) -> bool:
    return not principal.is_anonymous and principal.has(*MODERATOR_ROLES)


def may_view(principal: Principal, report: ThreatReport) -> bool:
    """Published reports (of a threat still published) are public; others only for
    moderators and their reporter."""
    if (
        report.state == ReportState.published
        and report.threat is not None
        and report.threat.published
    ):
        return True
    if is_moderator(principal):
        return True
    return not principal.is_anonymous and principal.user_id == report.reporter_id


def reporter_label(principal: Principal, report: ThreatReport) -> str:
    """How the reporter is named to ``principal``: the identity only for those who may see it."""
    if principal.sees_sensitive or (
        not principal.is_anonymous and principal.user_id == report.reporter_id
    ):
        name: str = report.reporter_name or en("unknown")
        return en("{name} (anonymous to the public)", name=name) if report.anonymous else name
    return report.public_reporter or en("anonymous")


def visible_report(session: Session, principal: Principal, report_id: int) -> ThreatReport:
    """The report, or :class:`NotFound` if it does not exist or is not visible to the caller."""
    report = session.get(ThreatReport, report_id)
    if report is None or not may_view(principal, report):
        raise NotFound(en("there is no threat report {report}", report=report_id))
    return report


def reports_for(session: Session, principal: Principal) -> list[ThreatReport]:
    """Reports a principal may list: all for moderators, their own for reporters."""
    q = select(ThreatReport).order_by(ThreatReport.created_at.desc())
    if is_moderator(principal):
        return list(session.scalars(q))
    if principal.is_anonymous:
        return []
    return list(session.scalars(q.where(ThreatReport.reporter_id == principal.user_id)))


def visible_evidence(session: Session, principal: Principal, evidence_id: int) -> EvidenceFile:
    ev = session.get(EvidenceFile, evidence_id)
    if ev is None or not may_view(principal, ev.report):
        raise NotFound(en("there is no evidence file {evidence}", evidence=evidence_id))
    return ev


# ---------------------------------------------------------------------------------------------
# Evidence storage
# ---------------------------------------------------------------------------------------------


def evidence_root(settings: Settings) -> Path:
    return Path(settings.var_dir) / "evidence"


def evidence_path(settings: Settings, ev: EvidenceFile) -> Path:
    root = evidence_root(settings).resolve()
    path = (root / ev.storage_path).resolve()
    if root not in path.parents:
        raise NotFound(en("evidence file {evidence} is not stored", evidence=ev.id))
    return path


def _write_file(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically: a temporary file in the same directory, flushed
    to disk, then renamed. A failed write (a full disk) leaves no partial file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextmanager
def _stored(settings: Settings, files: Sequence[Evidence]) -> Iterator[list[str]]:
    """Write files by content hash, before the rows naming them are committed (inside the
    block); on any error, in the writes or the commit, remove what this call created."""
    root = evidence_root(settings)
    created: list[Path] = []
    rel_paths: list[str] = []
    try:
        for ev in files:
            rel = f"{ev.sha256[:2]}/{ev.sha256}.{ev.extension}"
            target = root / rel
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_file(target, ev.data)
                created.append(target)
            rel_paths.append(rel)
        yield rel_paths
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise


@contextmanager
def stored_evidence(
    settings: Settings,
    evidence: Sequence[Evidence],
    captions: Sequence[str] = (),
    *,
    have: Iterable[str] = (),
) -> Iterator[list[dict[str, Any]]]:
    """Evidence files written by content hash (a file given twice, or already held by the
    record, ``have``, is kept once), yielding the columns of each new evidence row (for
    ``EvidenceFile`` or ``MonitoringEvidence``). Commit the rows inside the block: on any error
    there, the files this call created are removed (:func:`_stored`)."""
    seen = set(have)
    unique: list[tuple[Evidence, str | None]] = []
    for i, ev in enumerate(evidence):
        if ev.sha256 not in seen:
            seen.add(ev.sha256)
            unique.append((ev, captions[i] if i < len(captions) else None))
    with _stored(settings, [ev for ev, _ in unique]) as paths:
        yield [
            {
                "sha256": ev.sha256,
                "media_type": ev.media_type,
                "size_bytes": ev.size_bytes,
                "width": ev.width,
                "height": ev.height,
                "caption": (caption or "").strip()[:500] or None,
                "location_kept": ev.location_kept,
                "storage_path": rel,
                "metadata_rules": METADATA_RULES,
            }
            for (ev, caption), rel in zip(unique, paths, strict=True)
        ]


@dataclass
class CleanReport:
    """What :func:`clean_stored_evidence` did."""

    checked: int = 0
    rewritten: int = 0
    unreadable: list[int] = field(default_factory=list)
    removed_files: int = 0


def clean_stored_evidence(session: Session, settings: Settings) -> CleanReport:
    """Pass every stored evidence file through today's metadata rules again (commits).

    Files stored before a rule existed (an older version kept the camera owner, the serial
    number or a PDF's author) are rewritten; a row then names the cleaned file by its new hash,
    and the old file is removed once no row names it. Only files stored under older rules
    (``metadata_rules`` below :data:`geo.evidence.METADATA_RULES`) are read. Files that can no
    longer be cleaned (a PDF the rules now refuse) are left as they are and reported by id,
    for a moderator to take down. Running it again changes nothing.
    """
    out = CleanReport()
    old_paths: set[Path] = set()
    fresh: list[Evidence] = []
    rows = list(session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)))
    for ev in rows:
        if ev.metadata_rules >= METADATA_RULES:
            continue  # re-encoding a clean photo again would only lose quality
        out.checked += 1
        path = evidence_path(settings, ev)
        try:
            clean = check_evidence(
                path.read_bytes(),
                name=f"evidence file {ev.id}",
                max_photo_bytes=settings.uploads.max_photo_bytes,
                max_pdf_bytes=settings.uploads.max_bytes,
                keep_location=ev.location_kept,
            )
        except (OSError, IrbisError):
            out.unreadable.append(ev.id)
            continue
        ev.metadata_rules = METADATA_RULES
        if clean.sha256 == ev.sha256:
            continue
        fresh.append(clean)
        old_paths.add(path)
        ev.sha256, ev.size_bytes = clean.sha256, clean.size_bytes
        ev.width, ev.height = clean.width, clean.height
        ev.storage_path = f"{clean.sha256[:2]}/{clean.sha256}.{clean.extension}"
        ev.location_kept = clean.location_kept
        out.rewritten += 1
    with _stored(settings, fresh):
        session.commit()
    still_named = {evidence_path(settings, ev) for ev in rows}
    for path in old_paths - still_named:
        path.unlink(missing_ok=True)
        out.removed_files += 1
    return out


# ---------------------------------------------------------------------------------------------
# Submission and moderation
# ---------------------------------------------------------------------------------------------


def submit_report(
    session: Session,
    settings: Settings,
    principal: Principal,
    data: ReportInput,
    footprint: BaseGeometry,
    evidence: Sequence[Evidence] = (),
    captions: Sequence[str] = (),
) -> ThreatReport:
    """Store a new report with its evidence in one transaction (commits).

    Everything is checked before anything is written: a bad field, geometry or file leaves
    no row and no file behind.
    """
    require_reporter(principal)
    data = data.checked()
    if len(evidence) > MAX_EVIDENCE_FILES:
        raise InvalidInput(en("at most {n} evidence files per report", n=MAX_EVIDENCE_FILES))
    if data.threat_id is not None:
        threat = session.get(Threat, data.threat_id)
        if threat is None or not threat.published:
            raise InvalidInput(
                en("there is no published threat {threat} to report on", threat=data.threat_id)
            )
    actor = principal.username or f"user:{principal.user_id}"
    set_actor(session, actor)
    report = ThreatReport(
        title=data.title,
        kind=data.kind,
        threat_status=data.threat_status,
        status_on=data.status_on,
        observed_on=data.observed_on,
        description=data.description,
        links=data.links,
        reporter_id=principal.user_id,
        reporter_name=principal.display_name,
        anonymous=data.anonymous,
        public_reporter=None if data.anonymous else principal.display_name,
        keep_location=data.keep_location,
        state=ReportState.submitted,
        threat_id=data.threat_id,
        source="Threat report submitted to Irbis",
        licence=REPORT_LICENCE,
        method="observed",
        geom=from_shape(footprint, srid=4326),
    )
    session.add(report)
    with stored_evidence(settings, evidence, captions) as files:
        for cols in files:
            report.evidence.append(EvidenceFile(**cols))
        session.add(
            ThreatReportEvent(
                report=report,
                from_state=None,
                to_state=ReportState.submitted,
                actor_id=principal.user_id,
                actor_name=principal.display_name,
            )
        )
        session.commit()
    return report


def moderate(
    session: Session,
    principal: Principal,
    report_id: int,
    to_state: str,
    *,
    reason: str | None = None,
) -> ThreatReport:
    """Move a report to ``to_state`` (commits). Publishing creates or updates its threat."""
    require_moderator(principal)
    report = session.get(ThreatReport, report_id, with_for_update=True)
    if report is None:
        raise NotFound(en("there is no threat report {report}", report=report_id))
    if to_state not in set(ReportState):
        raise InvalidInput(
            en(
                "unknown state {state}; use one of {states}",
                state=repr(to_state),
                states=str([s.value for s in ReportState]),
            )
        )
    if to_state not in TRANSITIONS[report.state]:
        allowed = [STATE_WORDS[a] for a in sorted(TRANSITIONS[report.state])]
        raise Conflict(
            en(
                "report {report} is {state}; it can move to {states}",
                report=report_id,
                state=STATE_WORDS.get(report.state, report.state),
                states=_listed(allowed) if allowed else en("none: it is final"),
            )
        )
    reason = (reason or "").strip() or None
    if to_state == ReportState.rejected and not reason:
        raise InvalidInput(en("give a reason for rejecting the report; the reporter will see it"))
    set_actor(session, principal.username or f"user:{principal.user_id}")
    from_state = report.state
    if to_state == ReportState.published:
        threat = _publish(session, report)
        report.threat_id = threat.id
        report.published_at = dt.datetime.now(dt.UTC)
    report.state = to_state
    report.reason = reason if to_state == ReportState.rejected else report.reason
    session.add(
        ThreatReportEvent(
            report_id=report.id,
            from_state=from_state,
            to_state=to_state,
            actor_id=principal.user_id,
            actor_name=principal.display_name,
            reason=reason,
        )
    )
    session.commit()
    return report


def _publish(session: Session, report: ThreatReport) -> Threat:
    """Create the report's threat, or add the report to the threat it is about."""
    source = f"Irbis threat report {report.id}"
    changed_on = report.status_on or report.observed_on or dt.date.today()
    if report.threat_id is None:
        threat = Threat(
            name=report.title,
            kind=report.kind,
            status=report.threat_status,
            proposed_on=changed_on if report.threat_status == ThreatStatus.proposed else None,
            description=report.description,
            links=list(report.links),
            properties={"reports": [report.id]},
            published=True,
            geom=report.geom,
            source=source,
            licence=report.licence,
            method=report.method,
        )
        session.add(threat)
        session.flush()
    else:
        existing = session.get(Threat, report.threat_id, with_for_update=True)
        if existing is None:
            raise Conflict(
                en("the threat report {report} is about has been deleted", report=report.id)
            )
        threat = existing
        threat.links = list(dict.fromkeys([*threat.links, *report.links]))
        props = dict(threat.properties or {})
        props["reports"] = [*props.get("reports", []), report.id]
        threat.properties = props
        threat.published = True
    exists = session.scalar(
        select(ThreatStatusChange.id).where(
            ThreatStatusChange.threat_id == threat.id,
            ThreatStatusChange.changed_on == changed_on,
            ThreatStatusChange.status == report.threat_status,
        )
    )
    if exists is None:
        session.add(
            ThreatStatusChange(
                threat_id=threat.id,
                status=report.threat_status,
                changed_on=changed_on,
                note=report.title,
                source="; ".join([source, *report.links[:3]]),
            )
        )
        session.flush()
    changes = session.execute(
        select(
            ThreatStatusChange.threat_id, ThreatStatusChange.status, ThreatStatusChange.changed_on
        ).where(ThreatStatusChange.threat_id == threat.id)
    ).all()
    current = threats.status_as_of(pd.DataFrame([r._asdict() for r in changes]), dt.date.today())
    if not current.empty:
        threat.status = str(current["status"].iloc[0])
    return threat


def threat_geometry(session: Session, threat_id: int) -> BaseGeometry:
    """The footprint of a published threat (for a report about it that draws nothing new)."""
    threat = session.get(Threat, threat_id)
    if threat is None or not threat.published:
        raise InvalidInput(
            en("there is no published threat {threat} to report on", threat=threat_id)
        )
    return to_shape(threat.geom)


def report_geometry(report: ThreatReport) -> BaseGeometry:
    return to_shape(report.geom)
