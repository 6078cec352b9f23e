"""Field sites of a grant: list, upload (dry run or commit), replace, delete, history."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.auth.principal import PrincipalDep
from api.deps import EngineDep, ReaderDep, SettingsDep
from api.services import sites
from api.settings import Settings
from geo.errors import InvalidInput, TooLarge
from geo.messages import en, number

router = APIRouter(prefix="/api/grants/{code}/sites", tags=["field sites"])

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
CodePath = Annotated[
    str,
    PathParam(
        max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="Grant code, e.g. SOS-CA-EX-01"
    ),
]
SiteId = Annotated[int, PathParam(ge=1, le=2_147_483_647)]
FORM_OVERHEAD = 64 * 1024
MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "GeoJSON, zipped Shapefile, GeoPackage, KML/KMZ, "
                            "CSV (WKT or lon/lat columns) or FlatGeobuf",
                        }
                    },
                }
            }
        },
    }
}


async def _save_upload(request: Request, settings: Settings, folder: Path) -> tuple[Path, str]:
    """Stream the multipart field ``file`` to ``folder``, enforcing the size limit."""
    limit = settings.uploads.max_bytes
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise InvalidInput(en("send the upload with a Content-Length header"))
    if int(length) > limit + FORM_OVERHEAD:
        raise TooLarge(
            en(
                "the upload is {size} bytes; at most {most} are accepted",
                size=number(int(length)),
                most=number(limit),
            )
        )
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise InvalidInput(en("send the file as multipart/form-data, in a field named 'file'"))
    async with request.form(max_files=1, max_fields=20, max_part_size=FORM_OVERHEAD) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(en("the form has no file: send it in a field named 'file'"))
        raw_name = re.sub(r"[\x00-\x1f\x7f]", "", upload.filename or "upload")[:200]
        name = Path(raw_name.replace("\\", "/")).name or "upload"
        target = folder / ("upload" + Path(name).suffix.lower()[:10])
        size = 0
        with target.open("wb") as out:
            while chunk := await upload.read(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(
                        en(
                            "{name}: more than {most} bytes; uploads are limited",
                            name=name,
                            most=number(limit),
                        )
                    )
                await run_in_threadpool(out.write, chunk)  # disk writes off the loop
    return target, name


def _options(
    epsg: int | None,
    swap_xy: bool,
    name_field: str | None,
    layer: str | None,
    licence: str | None,
    confirm_repairs: bool = False,
) -> sites.UploadOptions:
    return sites.UploadOptions(
        epsg=epsg,
        swap_xy=swap_xy,
        name_field=name_field,
        layer=layer,
        licence=licence,
        confirm_repairs=confirm_repairs,
    )


EpsgQ = Annotated[
    int | None,
    Query(ge=1, le=999_999, description="EPSG code of the coordinates, if the file has no CRS"),
]
SwapQ = Annotated[bool, Query(description="Swap x and y (files with latitude first)")]
NameQ = Annotated[
    str | None,
    Query(max_length=100, pattern=PRINTABLE, description="Attribute with site names"),
]
LayerQ = Annotated[
    str | None, Query(max_length=200, pattern=PRINTABLE, description="Layer of a GeoPackage")
]
ConfirmQ = Annotated[
    bool,
    Query(
        description="Accept repairs of invalid geometry that change a site's area by more "
        "than the configured tolerance (IRBIS_UPLOADS_MAX_REPAIR_CHANGE, 10 %)"
    ),
]
LicenceQ = Annotated[
    str | None, Query(max_length=500, pattern=PRINTABLE, description="Licence of the data")
]


@router.get("", summary="The grant's field sites (GeoJSON)")
def list_sites(code: CodePath, principal: PrincipalDep, engine: ReaderDep) -> dict[str, Any]:
    return sites.list_sites(engine, principal, code)


@router.post(
    "",
    summary="Upload field sites: a dry run returns the report and a preview; a commit stores",
    openapi_extra=MULTIPART_BODY,
    responses={
        201: {"description": "Stored"},
        400: {"description": "Unreadable, invalid or refused file"},
        401: {"description": "Not logged in"},
        403: {"description": "Not a grantee of this grant"},
        413: {"description": "Too large"},
    },
)
async def upload_sites(
    request: Request,
    code: CodePath,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    dry_run: Annotated[bool, Query(description="Only validate and preview")] = True,
    epsg: EpsgQ = None,
    swap_xy: SwapQ = False,
    name_field: NameQ = None,
    layer: LayerQ = None,
    licence: LicenceQ = None,
    confirm_repairs: ConfirmQ = False,
) -> JSONResponse:
    # who may write is checked before the body is read
    await run_in_threadpool(_check_editor, engine, principal, code)
    with tempfile.TemporaryDirectory(prefix="irbis-upload-") as tmp:
        path, name = await _save_upload(request, settings, Path(tmp))
        body, changed = await run_in_threadpool(
            sites.upload,
            engine,
            principal,
            code,
            path,
            name,
            _options(epsg, swap_xy, name_field, layer, licence, confirm_repairs),
            sites.limits_for(settings.uploads),
            dry_run=dry_run,
            rules=sites.rules_for(settings.uploads),
        )
    return JSONResponse(body, status_code=201 if changed else 200)


def _check_editor(engine: EngineDep, principal: PrincipalDep, code: str) -> None:
    from api.db.engine import transaction

    with transaction(engine) as session:
        sites.require_editor(principal, sites.get_grant(session, code))


@router.get("/{site_id}", summary="One field site (GeoJSON feature)")
def get_site(
    code: CodePath, site_id: SiteId, principal: PrincipalDep, engine: ReaderDep
) -> dict[str, Any]:
    return sites.get_site(engine, principal, code, site_id)


@router.put(
    "/{site_id}",
    summary="Replace a site's geometry with the one feature of an uploaded file",
    openapi_extra=MULTIPART_BODY,
)
async def replace_site(
    request: Request,
    code: CodePath,
    site_id: SiteId,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    name: Annotated[str | None, Query(min_length=1, max_length=200, pattern=PRINTABLE)] = None,
    epsg: EpsgQ = None,
    swap_xy: SwapQ = False,
    layer: LayerQ = None,
    confirm_repairs: ConfirmQ = False,
) -> dict[str, Any]:
    await run_in_threadpool(_check_editor, engine, principal, code)
    with tempfile.TemporaryDirectory(prefix="irbis-upload-") as tmp:
        path, fname = await _save_upload(request, settings, Path(tmp))
        return await run_in_threadpool(
            lambda: sites.replace(
                engine,
                principal,
                code,
                site_id,
                path,
                fname,
                _options(epsg, swap_xy, None, layer, None, confirm_repairs),
                sites.limits_for(settings.uploads),
                new_name=name,
                rules=sites.rules_for(settings.uploads),
            )
        )


@router.delete("/{site_id}", status_code=204, summary="Delete a site (its history is kept)")
def delete_site(
    code: CodePath, site_id: SiteId, principal: PrincipalDep, engine: EngineDep
) -> Response:
    sites.remove(engine, principal, code, site_id)
    return Response(status_code=204)


@router.get("/{site_id}/versions", summary="Every past state of a site, newest first")
def site_versions(
    code: CodePath, site_id: SiteId, principal: PrincipalDep, engine: ReaderDep
) -> list[dict[str, Any]]:
    return sites.versions(engine, principal, code, site_id)
