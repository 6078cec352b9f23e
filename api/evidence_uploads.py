"""Evidence files sent with a form (threat reports, monitoring records): read within their
size limits, then each decoded and written again without its metadata (``geo.evidence``)."""

from __future__ import annotations

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from api.settings import Settings
from geo.errors import TooLarge
from geo.evidence import Evidence, check_evidence


async def read_capped(upload: UploadFile, limit: int, what: str) -> bytes:
    """The upload's bytes, or :class:`TooLarge` if it has more than ``limit``."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(
            f"{upload.filename or what} is larger than {limit / 1e6:.1f} MB, the limit for {what}"
        )
    return data


async def checked_evidence(
    files: list[UploadFile], settings: Settings, *, keep_location: bool
) -> list[Evidence]:
    """Every size limit before any file is decoded, then each file cleaned (CPU work, off the
    event loop)."""
    limit = max(settings.uploads.max_photo_bytes, settings.uploads.max_bytes)
    total = 0
    raws = []
    for f in files:
        raw = await read_capped(f, limit, "evidence files")
        total += len(raw)
        if total > settings.uploads.max_bytes:
            raise TooLarge(
                f"the evidence files together exceed {settings.uploads.max_bytes / 1e6:.0f} MB; "
                "send fewer or smaller files"
            )
        raws.append((f, raw))
    checked = []
    for f, raw in raws:
        checked.append(
            await run_in_threadpool(
                check_evidence,
                raw,
                name=f.filename or "an evidence file",
                max_photo_bytes=settings.uploads.max_photo_bytes,
                max_pdf_bytes=settings.uploads.max_bytes,
                keep_location=keep_location,
            )
        )
    return checked
