"""Field sites of grants: upload (dry run or commit), replace, delete, history.

The routers stay thin: they parse the request and call these functions. Reading and validating
files is ``geo.uploads`` and ``geo.validate`` (pure); this module adds what needs the store:
who may write, the countries and other grants' sites the rules compare with, and the one
transaction that writes (actor named, so the audit log records who did it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

import shapely
from geoalchemy2.shape import from_shape
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError

from api import i18n
from api.auth.principal import Principal
from api.db.engine import transaction
from api.db.models import FieldSite, Grant
from api.settings import UploadSettings
from geo.archive import ArchiveLimits, redact_paths
from geo.crs import STORAGE_EPSG
from geo.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    UnreadableFile,
)
from geo.lazy import lazy_module
from geo.messages import en
from layers import history
from layers import sites as ls

if TYPE_CHECKING:
    import pandas as pd

    import geopandas as gpd

    from geo import uploads, validate
    from geo.uploads import UploadLimits
    from geo.validate import SiteRules, ValidationReport
    from layers import frames
else:  # pandas, geopandas, pyogrio: not on the start path (geo.lazy)
    gpd = lazy_module("geopandas")
    pd = lazy_module("pandas")
    uploads = lazy_module("geo.uploads")
    validate = lazy_module("geo.validate")
    frames = lazy_module("layers.frames")

log = logging.getLogger("irbis.sites")
#: Errors of the geometry stack on a hostile file (a bug shows in the log, not as a 500).
_GEOMETRY_ERRORS = (
    shapely.errors.GEOSException,
    shapely.errors.ShapelyError,
    CRSError,
    ProjError,
    ValueError,
    TypeError,
    ArithmeticError,
    IndexError,
)
DEFAULT_LICENCE = "provided by the grantee for SOS Central Asia monitoring; ask before reuse"


@dataclass(frozen=True)
class UploadOptions:
    """What the uploader may say about a file."""

    epsg: int | None = None
    swap_xy: bool = False
    name_field: str | None = None
    layer: str | None = None
    licence: str | None = None
    #: Accept repairs that change a site's area by more than the configured tolerance.
    confirm_repairs: bool = False


def public_source(grant: Grant, filename: str) -> str:
    """The public ``source`` of an uploaded site: the grant and the file, never the uploader
    (who uploaded is kept in ``uploaded_by`` and the audit log, which only the privileged see).
    """
    return f"uploaded by a grantee of {grant.code}: {Path(filename).name}"[:500]


def limits_for(settings: UploadSettings) -> UploadLimits:
    return uploads.UploadLimits(
        max_bytes=settings.max_bytes,
        max_features=settings.max_features,
        max_vertices=settings.max_vertices,
        max_attribute_chars=settings.max_attribute_chars,
        archive=ArchiveLimits(
            max_uncompressed_bytes=settings.max_uncompressed_bytes,
            max_compression_ratio=settings.max_compression_ratio,
        ),
    )


def get_grant(session: Session, code: str) -> Grant:
    grant = session.scalar(select(Grant).where(Grant.code == code))
    if grant is None:
        raise NotFound(en("no grant with code {code}", code=repr(code)))
    return grant


def require_editor(principal: Principal, grant: Grant) -> None:
    """Raise unless ``principal`` may create, replace and delete ``grant``'s sites."""
    if principal.is_anonymous:
        raise Unauthenticated(en("log in (or send an API token) to change field sites"))
    if not principal.may_edit_sites(grant.id):
        raise Forbidden(
            en(
                "{user} may not change the field sites of grant {grant}: only its grantees and "
                "administrators may",
                user=principal.username,
                grant=grant.code,
            )
        )


def programme_countries(session: Session) -> gpd.GeoDataFrame:
    return frames.read_gdf(session, ls.programme_countries(), geom_col="geometry")


def other_sites(session: Session, grant_id: int, bounds: tuple[float, ...]) -> gpd.GeoDataFrame:
    """Other grants' sites within ``bounds`` (lon/lat), for the overlap rule."""
    return frames.read_gdf(session, ls.other_sites(grant_id, bounds), geom_col="geometry")


def _bounds_lonlat(gdf: gpd.GeoDataFrame, options: UploadOptions) -> tuple[float, ...] | None:
    """The lon/lat bounding box of an upload (None when it cannot be known yet)."""
    try:
        crs = gdf.crs or (CRS.from_epsg(options.epsg) if options.epsg else None)
        b = gdf.total_bounds
        if crs is None or not np.isfinite(b).all():
            return None
        geom = shapely.box(*b)
        if options.swap_xy:
            geom = shapely.transform(geom, lambda c: c[:, ::-1])
        out = gpd.GeoSeries([geom], crs=crs).to_crs(STORAGE_EPSG).total_bounds
    except _GEOMETRY_ERRORS:
        return None
    return tuple(float(v) for v in out) if np.isfinite(out).all() else None


def rules_for(settings: UploadSettings) -> SiteRules:
    return validate.SiteRules(
        max_outside_share=settings.max_outside_share,
        max_repair_change=settings.max_repair_change,
    )


def check_file(
    session: Session,
    grant: Grant,
    path: Path,
    filename: str,
    options: UploadOptions,
    limits: UploadLimits,
    rules: SiteRules | None = None,
) -> ValidationReport:
    """Read and validate an uploaded file against the store's countries and sites.

    Whatever is wrong with the file ends as a domain error (a 4xx) or a finding in the report:
    an error of the geometry engine on a hostile file is turned into one, never into a 500.
    """
    try:
        return _check_file(session, grant, path, filename, options, limits, rules)
    except _GEOMETRY_ERRORS as exc:
        log.warning("upload %s could not be processed", filename, exc_info=True)
        raise UnreadableFile(
            en(
                "{name}: its geometries cannot be processed ({reason}); check the file in a GIS "
                "and export it again",
                name=Path(filename).name,
                reason=redact_paths(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[
                    :200
                ],
            )
        ) from exc


def _check_file(
    session: Session,
    grant: Grant,
    path: Path,
    filename: str,
    options: UploadOptions,
    limits: UploadLimits,
    rules: SiteRules | None,
) -> ValidationReport:
    upload = uploads.read_upload(
        path,
        limits,
        filename=filename,
        layer=options.layer,
        name_field=options.name_field,
        epsg=options.epsg,
    )
    countries = programme_countries(session)
    if countries.empty:
        raise InvalidInput(
            en(
                "the country boundaries are not loaded (irbis load demo), so sites cannot be checked"
            )
        )
    bounds = _bounds_lonlat(upload.gdf, options)
    others = other_sites(session, grant.id, bounds) if bounds is not None else None
    report = validate.validate_sites(
        upload.gdf,
        names=upload.names,
        countries=countries,
        epsg=options.epsg,
        swap_xy=options.swap_xy,
        other_sites=others,
        rules=rules,
        geometry_errors=upload.geometry_errors,
        confirm_repairs=options.confirm_repairs,
    )
    report.notes[:0] = [en("read as {format}", format=upload.format), *upload.notes]
    report.gdf["description"] = upload.descriptions.to_numpy()
    return report


def plan(session: Session, grant: Grant, report: ValidationReport) -> pd.DataFrame:
    """What a commit would do with each feature: insert, replace, unchanged (or refused)."""
    existing = pd.DataFrame(
        session.execute(
            select(FieldSite.id, FieldSite.name, FieldSite.geom_hash).where(
                FieldSite.grant_id == grant.id
            )
        ).all(),
        columns=["id", "name", "geom_hash"],
    )
    g = report.gdf
    by_name = dict(
        zip(existing["name"], zip(existing["id"], existing["geom_hash"], strict=True), strict=True)
    )
    by_hash = dict(zip(existing["geom_hash"], existing["name"], strict=True))
    rows: list[tuple[str, int | None, str]] = []
    for name, h, status in zip(g["name"], g["geom_hash"], g["status"], strict=True):
        if status == "error":
            rows.append(("refused", None, ""))
        elif name in by_name:
            sid, old = by_name[name]
            if old == h:
                rows.append(("unchanged", int(sid), ""))
            else:
                rows.append(("replace", int(sid), en("the stored version is kept in its history")))
        elif h in by_hash:
            rows.append(
                (
                    "unchanged",
                    None,
                    en("the same geometry is stored already as {name}", name=repr(by_hash[h])),
                )
            )
        else:
            rows.append(("insert", None, ""))
    return pd.DataFrame(rows, columns=["action", "site_id", "note"], dtype=object)


def preview_geojson(report: ValidationReport, actions: pd.DataFrame) -> dict[str, Any]:
    g = report.gdf[["name", "status", "area_ha", "geometry"]].copy()
    g["action"] = actions["action"].to_numpy()
    g["index"] = np.arange(len(g))
    g = g[g.geometry.notna()]
    return json.loads(g.to_json(drop_id=True))


def upload(
    engine: Engine,
    principal: Principal,
    code: str,
    path: Path,
    filename: str,
    options: UploadOptions,
    limits: UploadLimits,
    *,
    dry_run: bool,
    rules: SiteRules | None = None,
) -> tuple[dict[str, Any], bool]:
    """Validate an upload and, unless ``dry_run``, store it in one transaction.

    Returns the report (with the plan and a GeoJSON preview) and whether anything changed.
    """
    with transaction(engine, actor=principal.username) as session:
        grant = get_grant(session, code)
        require_editor(principal, grant)
        report = check_file(session, grant, path, filename, options, limits, rules)
        actions = plan(session, grant, report)
        body = report.to_dict()
        for feat, (_, row) in zip(body["features"], actions.iterrows(), strict=True):
            feat["action"] = row["action"]
            feat["site_id"] = None if pd.isna(row["site_id"]) else int(row["site_id"])
            if row["note"]:
                feat["note"] = row["note"]
        in_language(body)
        body["grant"] = grant.code
        body["dry_run"] = dry_run
        body["preview"] = preview_geojson(report, actions)
        body["committed"] = False
        changed = False
        if dry_run:
            return body, False
        if not report.ok:
            raise InvalidInput(
                en(
                    "{errors} of {features} features have errors; nothing was stored. Fix them "
                    "(see details) and upload again.",
                    errors=report.counts()["errors"],
                    features=len(report.gdf),
                ),
                details=body,
            )
        licence = (options.licence or DEFAULT_LICENCE).strip()[:500]
        source = public_source(grant, filename)
        g = report.gdf
        for i, feat in enumerate(body["features"]):
            action = feat["action"]
            if action not in {"insert", "replace"}:
                continue
            geom = from_shape(g.geometry.iloc[i], srid=STORAGE_EPSG)
            desc = g["description"].iloc[i]
            desc = None if pd.isna(desc) else str(desc)
            values = {
                "geom": geom,
                "geom_hash": g["geom_hash"].iloc[i],
                "source": source,
                "licence": licence,
                "method": "observed",
                "uploaded_by": principal.username,
                "uploaded_at": func.now(),
                "description": desc,
            }
            if action == "insert":
                site = FieldSite(grant_id=grant.id, name=feat["name"], **values)
                session.add(site)
                session.flush()
                feat["site_id"] = site.id
            else:
                session.execute(
                    update(FieldSite).where(FieldSite.id == feat["site_id"]).values(**values)
                )
            changed = True
        _flush(session)
        body["committed"] = True
        return body, changed


def in_language(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (a report) with its notes also in the language of the request, when that is not
    English: ``local_notes``, each feature's ``local_note`` and each finding's ``local_message``
    (where the catalogs have it); the English stays for programs."""
    if i18n.current_locale() == i18n.DEFAULT:
        return body
    body["local_notes"] = [i18n.translate(n) for n in body["notes"]]
    for feat in body["features"]:
        if feat.get("note"):
            feat["local_note"] = i18n.translate(feat["note"])
        for issue in feat["issues"]:
            said = i18n.translate(issue["message"])
            if said != issue["message"]:
                issue["local_message"] = said
    return body


def _flush(session: Session) -> None:
    """Write pending changes; a refusal by the database is a clear error, never its text."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            en("another upload changed these sites at the same time; try again")
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            raise
        log.warning("the database refused an upload", exc_info=True)
        raise InvalidInput(
            en(
                "the database refused these sites (a geometry it cannot store); nothing was "
                "stored. Check the geometries in a GIS and upload again."
            )
        ) from exc


def site_row(session: Session, grant: Grant, site_id: int) -> FieldSite:
    site = session.scalar(
        select(FieldSite).where(FieldSite.id == site_id, FieldSite.grant_id == grant.id)
    )
    if site is None:
        raise NotFound(en("grant {grant} has no field site {site}", grant=grant.code, site=site_id))
    return site


def replace(
    engine: Engine,
    principal: Principal,
    code: str,
    site_id: int,
    path: Path,
    filename: str,
    options: UploadOptions,
    limits: UploadLimits,
    *,
    new_name: str | None = None,
    rules: SiteRules | None = None,
) -> dict[str, Any]:
    """Replace one site's geometry with the single feature of an uploaded file."""
    with transaction(engine, actor=principal.username) as session:
        grant = get_grant(session, code)
        require_editor(principal, grant)
        site = site_row(session, grant, site_id)
        report = check_file(session, grant, path, filename, options, limits, rules)
        if len(report.gdf) != 1:
            raise InvalidInput(
                en(
                    "a replacement must hold exactly one feature; this file has {count}",
                    count=len(report.gdf),
                )
            )
        body = in_language(report.to_dict())
        if not report.ok:
            raise InvalidInput(en("the replacement has errors; nothing was changed"), details=body)
        g = report.gdf
        name = (new_name or site.name).strip()[:200]
        if name != site.name and session.scalar(
            select(FieldSite.id).where(FieldSite.grant_id == grant.id, FieldSite.name == name)
        ):
            raise Conflict(
                en(
                    "grant {grant} already has a site named {name}",
                    grant=grant.code,
                    name=repr(name),
                )
            )
        changed = site.geom_hash != g["geom_hash"].iloc[0] or name != site.name
        if changed:
            site.name = name
            site.geom = from_shape(g.geometry.iloc[0], srid=STORAGE_EPSG)
            site.geom_hash = g["geom_hash"].iloc[0]
            site.uploaded_by = principal.username or ""
            site.source = public_source(grant, filename)
            site.uploaded_at = func.now()
            _flush(session)
        body.update({"grant": grant.code, "site_id": site.id, "changed": bool(changed)})
        return body


def remove(engine: Engine, principal: Principal, code: str, site_id: int) -> None:
    """Delete a site (its rows stay in the audit log and the site's history)."""
    with transaction(engine, actor=principal.username) as session:
        grant = get_grant(session, code)
        require_editor(principal, grant)
        site_row(session, grant, site_id)
        session.execute(delete(FieldSite).where(FieldSite.id == site_id))


def _feature(row: dict[str, Any], private: bool) -> dict[str, Any]:
    geom = json.loads(row.pop("geojson"))
    if not private:
        row.pop("uploaded_by", None)
    for k, v in list(row.items()):
        if hasattr(v, "isoformat"):
            row[k] = v.isoformat()
    return {"type": "Feature", "id": row["id"], "geometry": geom, "properties": row}


def list_sites(
    engine: Engine, principal: Principal, code: str, site_id: int | None = None
) -> dict[str, Any]:
    """The grant's sites as a GeoJSON FeatureCollection (uploader names for the privileged)."""
    with transaction(engine) as session:
        grant = get_grant(session, code)
        private = principal.sees_sensitive or principal.may_edit_sites(grant.id)
        # the read-only role cannot read uploaders' names: only the privileged select them
        rows = session.execute(ls.grant_sites(grant.id, site_id, privileged=private)).mappings()
        feats = [_feature(dict(r), private) for r in rows]
    return {"type": "FeatureCollection", "grant": grant.code, "features": feats}


def get_site(engine: Engine, principal: Principal, code: str, site_id: int) -> dict[str, Any]:
    fc = list_sites(engine, principal, code, site_id)
    if fc["features"]:
        return fc["features"][0]
    raise NotFound(en("grant {grant} has no field site {site}", grant=code, site=site_id))


def versions(engine: Engine, principal: Principal, code: str, site_id: int) -> list[dict[str, Any]]:
    """Every past state of a site (from the audit log), newest first."""
    with transaction(engine) as session:
        grant = get_grant(session, code)
        if principal.is_anonymous:
            raise Unauthenticated(en("log in to see the history of a site"))
        if not (principal.sees_sensitive or principal.may_edit_sites(grant.id)):
            raise Forbidden(
                en("only the grant's grantees, analysts and administrators see history")
            )
        rows = session.execute(history.site_versions(site_id, grant.id)).mappings().all()
    if not rows:
        raise NotFound(
            en(
                "grant {grant} has no field site {site}, now or in the past",
                grant=code,
                site=site_id,
            )
        )
    out = []
    for r in rows:
        state = r["after"] or r["before"]
        out.append(
            {
                "version_id": r["version_id"],
                "action": r["action"],
                "actor": r["actor"],
                "at": r["at"].isoformat(),
                "name": state.get("name"),
                "geom_hash": state.get("geom_hash"),
                "geometry": state.get("geom"),
                "previous_geometry": (r["before"] or {}).get("geom"),
            }
        )
    return out
