"""Evidence files (photos, PDFs): type sniffed from content, limits, location metadata.

The type of a file is read from its first bytes, never from its name or the content type a
browser sent. Photos are decoded with Pillow (which also guards against decompression
bombs) and, unless the reporter chooses to keep it, re-encoded without the EXIF GPS block, so
where a photo was taken is not given away.

Examples
--------
>>> sniff_media_type(b"%PDF-1.7 ...")
'application/pdf'
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from geo.errors import InvalidInput, TooLarge, UnreadableFile

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
MEDIA_TYPES = (JPEG, PNG, PDF)
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}

#: EXIF tag of the GPS IFD pointer.
GPS_IFD = 0x8825
#: EXIF tags that name a person (removed for anonymous reporters).
IDENTITY_TAGS = (0x013B, 0x8298, 0xA430, 0xA431, 0x9C9D)  # Artist, Copyright, owner, serial, XP
#: At most this many pixels in a photo (about 60 megapixels).
MAX_PIXELS = 60_000_000

_MAGIC = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"%PDF-", PDF),
)


@dataclass(frozen=True)
class Evidence:
    """A checked evidence file, ready to store."""

    data: bytes
    media_type: str
    sha256: str
    width: int | None = None
    height: int | None = None
    location_kept: bool = False

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.media_type]

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def sniff_media_type(data: bytes) -> str | None:
    """The media type read from the file's first bytes, or None if not a supported type."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    return None


def gps_tags(data: bytes) -> dict[int, object]:
    """The EXIF GPS tags of an image (empty if it has none)."""
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        return dict(exif.get_ifd(GPS_IFD)) if exif else {}


def _open_image(data: bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_PIXELS:
                raise TooLarge(
                    f"{name} has {im.width}×{im.height} pixels; photos may have at most "
                    f"{MAX_PIXELS // 1_000_000} megapixels"
                )
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(f"{name} has too many pixels to be a photo") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableFile(f"{name} is damaged or not a complete image: {exc}") from None
    return im


def _reencode(im: Image.Image, media_type: str, *, keep_gps: bool, anonymous: bool) -> bytes:
    exif = im.getexif()
    if not keep_gps and GPS_IFD in exif:
        del exif[GPS_IFD]
    if anonymous:
        for tag in IDENTITY_TAGS:
            exif.pop(tag, None)
    out = io.BytesIO()
    if media_type == JPEG:
        icc = im.info.get("icc_profile")
        kwargs = {"quality": "keep"} if getattr(im, "format", None) == "JPEG" else {"quality": 92}
        im.save(out, format="JPEG", exif=exif.tobytes(), icc_profile=icc, **kwargs)
    else:
        im.save(out, format="PNG", exif=exif.tobytes())
    return out.getvalue()


def check_evidence(
    data: bytes,
    *,
    name: str = "the file",
    max_photo_bytes: int,
    max_pdf_bytes: int,
    keep_location: bool = False,
    anonymous: bool = False,
) -> Evidence:
    """Check one evidence file and return what to store.

    Parameters
    ----------
    data : bytes
        The file as uploaded.
    name : str
        How to name the file in messages.
    max_photo_bytes, max_pdf_bytes : int
        Size limits.
    keep_location : bool
        Keep the photo's EXIF GPS block (the reporter chose to); otherwise it is removed.
    anonymous : bool
        Also remove EXIF tags that name a person (artist, copyright, camera owner).

    Raises
    ------
    InvalidInput, UnreadableFile, TooLarge
    """
    if not data:
        raise UnreadableFile(f"{name} is empty")
    media_type = sniff_media_type(data)
    if media_type is None:
        raise InvalidInput(
            f"{name} is not a JPEG or PNG photo or a PDF document (judged by its content, "
            "not its name)"
        )
    limit = max_pdf_bytes if media_type == PDF else max_photo_bytes
    if len(data) > limit:
        kind = "PDF documents" if media_type == PDF else "photos"
        raise TooLarge(
            f"{name} is {len(data) / 1e6:.1f} MB; {kind} may be at most {limit / 1e6:.1f} MB"
        )
    if media_type == PDF:
        if b"%%EOF" not in data[-2048:]:
            raise UnreadableFile(f"{name} is not a complete PDF document")
        return Evidence(data, PDF, hashlib.sha256(data).hexdigest())
    im = _open_image(data, name)
    with im:
        width, height = im.size
        had_gps = bool(im.getexif().get_ifd(GPS_IFD))
        if keep_location and not anonymous:
            clean = data
        else:
            clean = _reencode(im, media_type, keep_gps=keep_location, anonymous=anonymous)
    return Evidence(
        clean,
        media_type,
        hashlib.sha256(clean).hexdigest(),
        width=width,
        height=height,
        location_kept=keep_location and had_gps,
    )
