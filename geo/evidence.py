"""Evidence files (photos, PDFs): type sniffed from content, limits, metadata removed.

The type of a file is read from its first bytes, never from its name or the content type a
browser sent. Evidence may come from someone who must stay anonymous, so what is stored (and
later published) keeps only a whitelist of what the file carried:

- **Photos** are decoded with Pillow (which also guards against decompression bombs) and
  encoded again from their pixels. The EXIF orientation is applied to the pixels, so the tag
  is not needed; the colour (ICC) profile is kept. Nothing else is written: no EXIF (camera
  owner, serial numbers, user comment, maker notes, thumbnails), no XMP, no IPTC/Photoshop
  block, no JPEG comment, no PNG text chunks. Where the photo was taken (the EXIF GPS
  position, altitude, time and direction) is written back only when the reporter chose to
  keep it; the free-text GPS fields are not.
- **PDF documents** are rewritten with pikepdf (qpdf) without document information, XMP
  metadata, file identifiers, JavaScript, automatic or outgoing actions (open, additional,
  launch, web address, form submission), embedded files and attachment annotations, XFA
  forms, private application data; JPEG images inside lose their metadata segments. Only
  what the document still refers to is written, so older revisions and orphaned objects go
  too. A PDF that cannot be opened without a password, or at all, is refused.

Examples
--------
>>> sniff_media_type(b"%PDF-1.7 ...")
'application/pdf'
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geo.errors import InvalidInput, TooLarge, UnreadableFile
from geo.lazy import lazy_module
from geo.messages import en

if TYPE_CHECKING:
    import pikepdf
    from PIL import Image, ImageOps, JpegImagePlugin
else:  # imported when a file is first checked, not when a server starts (geo.lazy)
    pikepdf = lazy_module("pikepdf")
    Image = lazy_module("PIL.Image")
    ImageOps = lazy_module("PIL.ImageOps")
    JpegImagePlugin = lazy_module("PIL.JpegImagePlugin")

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}

#: EXIF tag of the GPS IFD pointer.
GPS_IFD = 0x8825
#: GPS tags kept when the reporter keeps the location: version, latitude, longitude,
#: altitude, time, satellites' precision, speed, track and direction, datum, date,
#: positioning error. Free text (processing method, area information) is never kept.
GPS_KEPT_TAGS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14, 15, 16, 17, 18, 29, 31})
#: At most this many pixels in a photo (about 60 megapixels).
MAX_PIXELS = 60_000_000
#: Version of the metadata rules this module applies: raise it whenever they remove more, so
#: that ``irbis threats clean-evidence`` passes files stored under older rules through again
#: (1: GPS and a few identity tags removed; 2: a whitelist of metadata, PDFs rewritten).
METADATA_RULES = 2

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


# ---------------------------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------------------------


def _open_image(data: bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_PIXELS:
                raise TooLarge(
                    en(
                        "{name} has {width}×{height} pixels; photos may have at most {most} "
                        "megapixels",
                        name=name,
                        width=im.width,
                        height=im.height,
                        most=MAX_PIXELS // 1_000_000,
                    )
                )
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(en("{name} has too many pixels to be a photo", name=name)) from None
    except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableFile(
            en("{name} is damaged or not a complete image: {reason}", name=name, reason=str(exc))
        ) from None
    return im


def _kept_gps(im: Image.Image) -> dict[int, object]:
    """The GPS tags to write back: the whitelisted ones that can be written again, and only
    if latitude and longitude are among them (else none: no partial position)."""
    try:
        gps = im.getexif().get_ifd(GPS_IFD)
    except (OSError, SyntaxError, ValueError, TypeError, struct.error):
        return {}
    kept: dict[int, object] = {}
    for tag, value in sorted(gps.items()):
        if tag not in GPS_KEPT_TAGS:
            continue
        trial = Image.Exif()
        trial[GPS_IFD] = {**kept, tag: value}
        try:
            trial.tobytes()
        except (TypeError, ValueError, OverflowError, struct.error):
            continue  # a value of the wrong type: left out
        kept[tag] = value
    return kept if {2, 4} <= kept.keys() else {}


def _reencode(
    im: Image.Image, media_type: str, gps: dict[int, object]
) -> tuple[bytes, Image.Image]:
    """The photo encoded again from its pixels, upright, with only the ICC profile (and the
    given GPS tags). Returns the bytes and the upright image."""
    icc = im.info.get("icc_profile")
    transparency = im.info.get("transparency")
    upright = ImageOps.exif_transpose(im)
    upright.info = {}  # nothing read from the file is written back unless named below
    params: dict[str, object] = {}
    if icc:
        params["icc_profile"] = icc
    if gps:
        exif = Image.Exif()
        exif[GPS_IFD] = gps
        params["exif"] = exif.tobytes()
    out = io.BytesIO()
    if media_type == JPEG:
        if isinstance(im, JpegImagePlugin.JpegImageFile) and im.quantization:
            # the photo's own quantization tables and subsampling: no visible loss
            params["qtables"] = im.quantization
            params["subsampling"] = JpegImagePlugin.get_sampling(im)
        else:
            params["quality"] = 92
        upright.save(out, format="JPEG", **params)
    else:
        if transparency is not None:
            params["transparency"] = transparency
        upright.save(out, format="PNG", **params)
    return out.getvalue(), upright


# ---------------------------------------------------------------------------------------------
# PDF documents
# ---------------------------------------------------------------------------------------------

#: Keys removed from every dictionary and stream of a PDF.
_PDF_REMOVED_KEYS = (
    "/Metadata",  # XMP, on the catalog, pages, images, fonts...
    "/PieceInfo",  # private data of the application that wrote the file
    "/JS",
    "/JavaScript",
    "/OpenAction",
    "/AA",  # additional actions: on open, close, page view, field focus...
    "/EmbeddedFiles",
    "/EF",  # the file inside a file specification
    "/RichMediaContent",
    "/XFA",
)
#: Actions that stay inside the document; any other (JavaScript, Launch, URI, SubmitForm,
#: ImportData, GoToR, GoToE, Sound, Movie, Rendition...) is removed.
_PDF_SAFE_ACTIONS = frozenset({"/GoTo", "/Named", "/Thread", "/SetOCGState", "/Trans"})
#: Actions removed under whatever key they are found.
_PDF_UNSAFE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/URI",
        "/SubmitForm",
        "/ImportData",
        "/GoToR",
        "/GoToE",
        "/Sound",
        "/Movie",
        "/Rendition",
        "/RichMediaExecute",
    }
)
#: Annotations removed from pages: attachments and media that play or run something.
_PDF_REMOVED_ANNOTATIONS = frozenset(
    {"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
)
#: Catalog entries removed: web base address, portfolio view, document requirements.
_PDF_REMOVED_CATALOG_KEYS = ("/URI", "/Collection", "/Requirements")
#: JPEG segments kept in images inside a PDF: JFIF header, ICC profile, Adobe colour flags.
_JPEG_KEPT_APP = {0xE0: b"JFIF\x00", 0xE2: b"ICC_PROFILE\x00", 0xEE: b"Adobe"}


def strip_jpeg_segments(data: bytes) -> bytes | None:
    """A JPEG stream without its metadata segments (EXIF, XMP, IPTC, comments, trailers),
    losslessly: the compressed pixels are copied as they are. None if the data is not a JPEG
    whose segments can be followed."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out = bytearray(b"\xff\xd8")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is pixels, up to the last end marker
            end = data.rfind(b"\xff\xd9")
            out += data[i : end + 2] if end > i else data[i:]
            return bytes(out)
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segment = data[i : i + 2 + length]
        if length < 2 or len(segment) < 2 + length:
            return None
        metadata = marker == 0xFE or 0xE0 <= marker <= 0xEF
        prefix = _JPEG_KEPT_APP.get(marker)
        if not metadata or (prefix is not None and segment[4:].startswith(prefix)):
            out += segment
        i += 2 + length
    return None


class _DamagedImage(Exception):
    """A JPEG image in a PDF whose metadata cannot be told from its pixels."""


def _is_unsafe_action(action: object, depth: int = 0) -> bool:
    """Whether an action (or one chained after it with /Next) leaves the document or runs
    something. A chain too long to follow counts as unsafe."""
    if depth > 32:
        return True
    if isinstance(action, pikepdf.Array):  # a list of actions
        return any(_is_unsafe_action(a, depth + 1) for a in action)
    if not isinstance(action, pikepdf.Dictionary):
        return False
    if str(action.get("/S", "")) not in _PDF_SAFE_ACTIONS:
        return True
    following = action.get("/Next")
    return following is not None and _is_unsafe_action(following, depth + 1)


def _is_removed_value(value: object) -> bool:
    """Whether a value is removed under whatever key it is found: an action that runs
    something or leaves the document, XMP metadata, an embedded file."""
    if isinstance(value, pikepdf.Stream):
        return (
            value.get("/Type") in (pikepdf.Name.Metadata, pikepdf.Name.EmbeddedFile)
            or value.get("/Subtype") == pikepdf.Name.XML
        )
    if isinstance(value, pikepdf.Dictionary):
        return "/JS" in value or str(value.get("/S", "")) in _PDF_UNSAFE_ACTIONS
    return False


def _dct() -> tuple[Any, Any]:
    """The filter of a JPEG image stream, alone or as a list of one."""
    return (pikepdf.Name.DCTDecode, pikepdf.Array([pikepdf.Name.DCTDecode]))


def _strip_jpeg_stream(obj: pikepdf.Stream) -> None:
    """Remove the metadata segments of a JPEG image stream (one that says it is, or whose
    bytes are), in place."""
    filters = obj.get("/Filter")
    raw = obj.read_raw_bytes()
    if filters not in _dct() and not raw.startswith(b"\xff\xd8\xff"):
        return
    clean = strip_jpeg_segments(raw)
    if clean is None:
        raise _DamagedImage
    if clean != raw:
        parms = obj.get("/DecodeParms")
        obj.write(
            clean,
            filter=filters if isinstance(filters, pikepdf.Name | pikepdf.Array) else None,
            decode_parms=parms if isinstance(parms, pikepdf.Dictionary | pikepdf.Array) else None,
        )


def _scrub_pdf_dict(obj: pikepdf.Object) -> list[pikepdf.Object]:
    """Remove unwanted keys from one dictionary or stream; return its direct children."""
    for key in _PDF_REMOVED_KEYS:
        if key in obj:
            del obj[key]
    for key in ("/A", "/Next"):
        if key in obj and _is_unsafe_action(obj[key]):
            del obj[key]
    for key in list(obj.keys()):
        if _is_removed_value(obj[key]):
            del obj[key]
    if isinstance(obj, pikepdf.Stream):
        _strip_jpeg_stream(obj)
    return [v for _, v in obj.items()]


def _scrub_pdf(pdf: pikepdf.Pdf) -> None:
    """Remove metadata, scripts, actions and attachments from every object, in place."""
    trailer = pdf.trailer
    for key in list(trailer.keys()):
        if key != "/Root":  # /Info, /ID and anything else; qpdf writes /Size and a new /ID
            del trailer[key]
    root = pdf.Root
    for key in _PDF_REMOVED_CATALOG_KEYS:
        if key in root:
            del root[key]
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key in ("/JavaScript", "/EmbeddedFiles"):
            if key in names:
                del names[key]
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            kept = [
                a
                for a in annots
                if not (
                    isinstance(a, pikepdf.Dictionary)
                    and a.get("/Subtype") in _PDF_REMOVED_ANNOTATIONS
                )
            ]
            if len(kept) != len(annots):
                page.obj.Annots = pikepdf.Array(kept)
    # Every object in the file, and every dictionary nested directly inside one.
    todo: list[pikepdf.Object] = list(pdf.objects)
    while todo:
        obj = todo.pop()
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            children = _scrub_pdf_dict(obj)
        elif isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            continue
        todo.extend(c for c in children if isinstance(c, pikepdf.Object) and not c.is_indirect)


def clean_pdf(data: bytes, name: str = "the file") -> bytes:
    """The PDF rewritten without metadata, scripts, actions and embedded files.

    Raises
    ------
    InvalidInput
        The PDF is protected with a password.
    UnreadableFile
        The PDF is damaged beyond what qpdf can repair.
    """
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            _scrub_pdf(pdf)
            out = io.BytesIO()
            pdf.save(
                out,
                deterministic_id=True,  # a new identifier, from the cleaned content
                fix_metadata_version=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,  # streams copied as is
            )
    except _DamagedImage:
        raise UnreadableFile(
            en(
                "{name} holds a damaged JPEG image, so its metadata cannot be removed; save or "
                "print the document to PDF again and send that",
                name=name,
            )
        ) from None
    except pikepdf.PasswordError:
        raise InvalidInput(
            en(
                "{name} is protected with a password; save it without the password and send it "
                "again",
                name=name,
            )
        ) from None
    except (pikepdf.PdfError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        detail = str(exc).split(": ", 1)[-1][:200]  # qpdf names the temporary file first
        raise UnreadableFile(
            en("{name} is a damaged PDF document: {reason}", name=name, reason=detail)
        ) from None
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Checking an evidence file
# ---------------------------------------------------------------------------------------------


def check_evidence(
    data: bytes,
    *,
    name: str = en("the file"),
    max_photo_bytes: int,
    max_pdf_bytes: int,
    keep_location: bool = False,
) -> Evidence:
    """Check one evidence file and return what to store, with its metadata removed.

    Parameters
    ----------
    data : bytes
        The file as uploaded.
    name : str
        How to name the file in messages.
    max_photo_bytes, max_pdf_bytes : int
        Size limits.
    keep_location : bool
        Keep the photo's GPS position (the reporter chose to); otherwise it is removed.
        Every other piece of metadata is removed either way (see the module's docstring).

    Raises
    ------
    InvalidInput, UnreadableFile, TooLarge
    """
    if not data:
        raise UnreadableFile(en("{name} is empty", name=name))
    media_type = sniff_media_type(data)
    if media_type is None:
        raise InvalidInput(
            en(
                "{name} is not a JPEG or PNG photo or a PDF document (judged by its content, "
                "not its name)",
                name=name,
            )
        )
    limit = max_pdf_bytes if media_type == PDF else max_photo_bytes
    if len(data) > limit:
        sizes = {"name": name, "size": f"{len(data) / 1e6:.1f}", "most": f"{limit / 1e6:.1f}"}
        raise TooLarge(
            en("{name} is {size} MB; PDF documents may be at most {most} MB", **sizes)
            if media_type == PDF
            else en("{name} is {size} MB; photos may be at most {most} MB", **sizes)
        )
    if media_type == PDF:
        if b"%%EOF" not in data[-2048:]:
            raise UnreadableFile(en("{name} is not a complete PDF document", name=name))
        clean = clean_pdf(data, name)
        return Evidence(clean, PDF, hashlib.sha256(clean).hexdigest())
    im = _open_image(data, name)
    with im:
        gps = _kept_gps(im) if keep_location else {}
        clean, upright = _reencode(im, media_type, gps)
        width, height = upright.size
    return Evidence(
        clean,
        media_type,
        hashlib.sha256(clean).hexdigest(),
        width=width,
        height=height,
        location_kept=bool(gps),
    )
