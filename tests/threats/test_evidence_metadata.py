"""Published evidence gives nothing away about who sent it.

Each test builds a file the way a camera or an office suite fills it (owner name, serial
numbers, comments, XMP, IPTC, thumbnails, text chunks; PDF document information, XMP,
JavaScript, actions, attachments), sends it as an anonymous reporter, has an analyst publish
the report, downloads the evidence as the public, and reads the served bytes back with tools
other than the one that wrote them: ExifTool (Debian libimage-exiftool-perl, installed by
scripts/system.sh), pypdf, and a plain byte search (through every Flate stream of a PDF).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image, ImageCms, PngImagePlugin
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from api.settings import Settings
from tests.threats.conftest import stored, submit

#: Strings that would identify the reporter; none may be served.
NAME = "Zhanna Reporter"
BODY_SERIAL = "SN-8842-XYZ"
LENS_SERIAL = "LN-5531-QRS"
MARKERS = (NAME, BODY_SERIAL, LENS_SERIAL)
#: Where the photo was taken (Kok-Jailau).
LAT, LON = 43.14, 76.98
#: ExifTool groups a cleaned photo may show: the file itself, JFIF, the colour profile.
PHOTO_GROUPS = {
    "ExifTool",
    "System",
    "File",
    "JFIF",
    "PNG",
    "ICC-header",
    "ICC_Profile",
    "ICC-chrm",
    "ICC-meas",
    "ICC-view",
    "Composite",
}

# ---------------------------------------------------------------------------------------------
# Independent readers
# ---------------------------------------------------------------------------------------------


def exiftool(data: bytes) -> dict[str, Any]:
    """Every tag ExifTool finds (all groups, unknown and embedded ones too)."""
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-u", "-ee", "-G1", "-s", "-"],
        input=data,
        capture_output=True,
        check=True,
    )
    tags: dict[str, Any] = json.loads(out.stdout)[0]
    return tags


def pdf_texts(data: bytes) -> list[bytes]:
    """The PDF's bytes and every Flate stream in it, decompressed."""
    texts = [data]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            texts.append(zlib.decompressobj().decompress(m.group(1)))
        except zlib.error:
            continue
    return texts


def assert_no_identity(data: bytes, tags: dict[str, Any], texts: Sequence[bytes] = ()) -> None:
    listed = json.dumps(tags, ensure_ascii=False).lower()
    for marker in MARKERS:
        forms = (
            marker.encode(),
            marker.encode("utf-16-le"),
            marker.encode("utf-16-be"),
            marker.encode().hex().encode(),
        )
        for blob in [data, *texts]:
            low = blob.lower()
            for form in forms:
                assert form.lower() not in low, f"{marker!r} is in the served bytes"
        assert marker.lower() not in listed, f"{marker!r} is in a tag ExifTool lists"


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG up to its first scan."""
    markers, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return markers


def png_chunks(data: bytes) -> list[str]:
    chunks, i = [], 8
    while i + 8 <= len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        chunks.append(data[i + 4 : i + 8].decode("latin-1"))
        i += 12 + length
    return chunks


# ---------------------------------------------------------------------------------------------
# Files as cameras and office suites write them
# ---------------------------------------------------------------------------------------------

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exiftool_write(path: Path, *args: str) -> None:
    subprocess.run(
        ["exiftool", "-q", "-q", "-overwrite_original", *args, str(path)],
        check=True,
        capture_output=True,
    )


def camera_photo(tmp_path: Path, fmt: str = "JPEG") -> bytes:
    """A 120×90 photo, stored on its side (EXIF orientation 6: turn 90° clockwise to show),
    red in the stored top-left corner, with an sRGB profile and every identity tag a camera
    or photo software writes."""
    im = Image.new("RGB", (120, 90), (90, 140, 70))
    im.paste((255, 0, 0), (0, 0, 24, 24))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x927C] = f"MakerNote {BODY_SERIAL} {NAME}".encode()
    path = tmp_path / ("camera.jpg" if fmt == "JPEG" else "camera.png")
    if fmt == "JPEG":
        im.save(path, "JPEG", exif=exif, icc_profile=SRGB, quality=95)
    else:
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", NAME)
        info.add_text("Comment", f"compressed {NAME}", zip=True)
        info.add_itxt("Description", f"international {NAME}", lang="en")
        im.save(path, "PNG", exif=exif, icc_profile=SRGB, pnginfo=info)
    thumb = tmp_path / "thumb.jpg"
    t_exif = Image.Exif()
    t_exif[0x013B] = NAME  # the thumbnail's own Artist
    Image.new("RGB", (16, 12)).save(thumb, "JPEG", exif=t_exif)
    args = [
        f"-IFD0:Artist={NAME}",
        f"-IFD0:Copyright=(c) {NAME}",
        f"-IFD0:ImageDescription=Taken by {NAME}",
        f"-IFD0:XPAuthor={NAME}",
        f"-ExifIFD:OwnerName={NAME}",
        f"-ExifIFD:SerialNumber={BODY_SERIAL}",
        f"-ExifIFD:LensSerialNumber={LENS_SERIAL}",
        f"-ExifIFD:UserComment={NAME}",
        f"-GPSLatitude={LAT}",
        "-GPSLatitudeRef=N",
        f"-GPSLongitude={LON}",
        "-GPSLongitudeRef=E",
        f"-GPSAreaInformation={NAME}",
        f"-GPSProcessingMethod={BODY_SERIAL}",
        f"-XMP-dc:Creator={NAME}",
        f"-XMP-dc:Rights={NAME}",
        f"-XMP-aux:SerialNumber={BODY_SERIAL}",
    ]
    if fmt == "JPEG":
        args += [
            f"-IPTC:By-line={NAME}",
            f"-IPTC:CopyrightNotice={NAME}",
            f"-Comment={NAME}",  # JPEG COM segment
            f"-ThumbnailImage<={thumb}",
        ]
    else:
        args += [f"-PNG:Author={NAME}"]
    _exiftool_write(path, *args)
    return path.read_bytes()


def office_pdf(tmp_path: Path) -> bytes:
    """A two-page PDF as an office suite and a careless user would leave it."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont="/Helvetica"
        )
    )
    photo = io.BytesIO()
    p_exif = Image.Exif()
    p_exif[0x013B] = NAME
    p_exif.get_ifd(0x8769)[0xA431] = BODY_SERIAL
    Image.new("RGB", (40, 30), (20, 90, 200)).save(photo, "JPEG", exif=p_exif, comment=NAME)
    image = pikepdf.Stream(pdf, photo.getvalue())
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = 40, 30, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    for n, text in enumerate(("Evidence page one", "Evidence page two")):
        content = f"BT /F1 18 Tf 20 60 Td ({text}) Tj ET".encode()
        if n == 1:
            content += b" q 40 0 0 30 20 10 cm /Im1 Do Q"
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 300, 120],
            Contents=pdf.make_stream(content),
            Resources=pikepdf.Dictionary(
                Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Im1=image)
            ),
        )
        pdf.pages.append(pikepdf.Page(page))

    def js(code: str) -> pikepdf.Dictionary:
        return pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String(code))

    def embedded(name: str) -> pikepdf.Dictionary:
        stream = pikepdf.Stream(pdf, f"notes of {NAME}, camera {BODY_SERIAL}".encode())
        stream.Type = pikepdf.Name.EmbeddedFile
        return pikepdf.Dictionary(
            Type=pikepdf.Name.Filespec, F=name, UF=name, EF=pikepdf.Dictionary(F=stream)
        )

    xmp = (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        f"<dc:creator><rdf:Seq><rdf:li>{NAME}</rdf:li></rdf:Seq></dc:creator>"
        f"<pdf:Producer>Writer {BODY_SERIAL}</pdf:Producer>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()
    root = pdf.Root
    root.Metadata = pdf.make_stream(xmp, Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)
    root.OpenAction = js(f"app.alert('{NAME}')")
    root.AA = pikepdf.Dictionary(WC=js(f"app.alert('{BODY_SERIAL}')"))
    root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=["init", js(f"var who = '{NAME}';")]),
        EmbeddedFiles=pikepdf.Dictionary(Names=["notes.txt", embedded("notes.txt")]),
    )
    root.AcroForm = pikepdf.Dictionary(
        Fields=[], XFA=pdf.make_stream(f"<xdp>{NAME}</xdp>".encode())
    )
    first, second = pdf.pages[0].obj, pdf.pages[1].obj
    first.Metadata = pdf.make_stream(xmp, Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)
    first.PieceInfo = pikepdf.Dictionary(
        Writer=pikepdf.Dictionary(Private=pikepdf.String(NAME), LastModified="D:20260901")
    )
    first.AA = pikepdf.Dictionary(O=js(f"app.alert('{LENS_SERIAL}')"))
    first.Annots = [
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.FileAttachment,
            Rect=[10, 10, 30, 30],
            FS=embedded("camera-log.txt"),
        ),
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[40, 10, 90, 30],
            A=pikepdf.Dictionary(
                S=pikepdf.Name.URI, URI=pikepdf.String(f"https://example.org/{BODY_SERIAL}")
            ),
        ),
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[100, 10, 150, 30],
            A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String(f"{LENS_SERIAL}.exe")),
        ),
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[160, 10, 210, 30],
            A=pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=[second, pikepdf.Name.Fit]),
        ),
    ]
    pdf.docinfo = pdf.make_indirect(
        pikepdf.Dictionary(
            Author=pikepdf.String(NAME),
            Creator=pikepdf.String(f"Writer on the laptop of {NAME}"),
            Producer=pikepdf.String(f"LibreOffice {BODY_SERIAL}"),
            Title=pikepdf.String("Permit"),
        )
    )
    path = tmp_path / "permit.pdf"
    pdf.save(path)
    return path.read_bytes()


# ---------------------------------------------------------------------------------------------
# Through the application: sent anonymously, published, downloaded by the public
# ---------------------------------------------------------------------------------------------


def publish_evidence(
    as_user: Any, client: Any, name: str, data: bytes, media_type: str, **form: Any
) -> bytes:
    r = submit(
        as_user("advocate"),
        anonymous="true",
        title=f"Evidence metadata check: {name}",
        files=[("evidence", (name, data, media_type))],
        **form,
    )
    assert r.status_code == 201, r.text
    report_id, url = r.json()["id"], r.json()["evidence"][0]
    analyst = as_user("analyst")
    for state in ("under_review", "published"):
        step = analyst.post(f"/reports/{report_id}/state", data={"to_state": state})
        assert step.status_code == 200, step.text
    served = client.get(url)  # the public, logged out
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == media_type
    assert served.headers["cache-control"].startswith("public")
    content: bytes = served.content
    return content


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_camera_photo_is_served_without_identity(
    tx_as_user: Any, tx_client: Any, tmp_path: Path, fmt: str
) -> None:
    sent = camera_photo(tmp_path, fmt)
    before = exiftool(sent)
    # the photo really carries what a camera writes (else the test proves nothing)
    for tag in (
        "IFD0:Artist",
        "IFD0:XPAuthor",
        "ExifIFD:OwnerName",
        "ExifIFD:SerialNumber",
        "ExifIFD:LensSerialNumber",
        "ExifIFD:UserComment",
        "ExifIFD:MakerNoteUnknownText",
        "GPS:GPSLatitude",
        "GPS:GPSAreaInformation",
        "XMP-dc:Creator",
        "XMP-aux:SerialNumber",
    ):
        assert tag in before, tag
    if fmt == "JPEG":
        for tag in ("IPTC:By-line", "File:Comment", "IFD1:ThumbnailImage"):
            assert tag in before, tag
    else:
        for tag in ("PNG:Author", "PNG:Comment", "PNG:Description-en"):
            assert tag in before, tag
    media_type = "image/jpeg" if fmt == "JPEG" else "image/png"
    served = publish_evidence(tx_as_user, tx_client, f"camera.{fmt.lower()}", sent, media_type)
    tags = exiftool(served)
    assert_no_identity(served, tags)
    groups = {key.split(":", 1)[0] for key in tags if ":" in key}
    assert groups <= PHOTO_GROUPS, groups - PHOTO_GROUPS
    assert not any("GPS" in key or "Orientation" in key for key in tags)
    if fmt == "JPEG":
        # start, JFIF, ICC profile, tables, frame, huffman tables, scan: no APP1/APP13/COM
        assert set(jpeg_segments(served)) <= {0xD8, 0xE0, 0xE2, 0xDB, 0xC0, 0xC4, 0xDD, 0xDA}
    else:
        assert set(png_chunks(served)) <= {"IHDR", "iCCP", "IDAT", "IEND"}
    # the photo still shows what was taken: upright, same colour profile
    with Image.open(io.BytesIO(served)) as im:
        assert im.format == fmt and im.size == (90, 120)
        assert im.info.get("icc_profile") == SRGB
        rgb = im.convert("RGB")
        red, green, _ = rgb.getpixel((80, 8))  # type: ignore[misc]
        assert red > 200 and green < 70  # the red corner turned to the top right
        assert rgb.getpixel((8, 8))[0] < 150  # type: ignore[index]


def test_a_kept_location_keeps_only_the_position(
    tx_as_user: Any, tx_client: Any, tmp_path: Path
) -> None:
    served = publish_evidence(
        tx_as_user,
        tx_client,
        "kept.jpg",
        camera_photo(tmp_path),
        "image/jpeg",
        keep_location="true",
    )
    tags = exiftool(served)
    assert_no_identity(served, tags)
    assert tags["Composite:GPSLatitude"] == pytest.approx(LAT, abs=1e-4) or str(
        tags["Composite:GPSLatitude"]
    ).startswith("43 deg 8' 24")
    assert "GPS:GPSLongitude" in tags
    extra = {k for k in tags if k.startswith(("IFD0:", "ExifIFD:", "IFD1:", "XMP", "IPTC"))}
    assert not extra, extra
    assert not {"GPS:GPSAreaInformation", "GPS:GPSProcessingMethod"} & set(tags)
    with Image.open(io.BytesIO(served)) as im:
        assert im.size == (90, 120)


FORBIDDEN_PDF_KEYS = {
    "/JS",
    "/JavaScript",
    "/OpenAction",
    "/AA",
    "/EmbeddedFiles",
    "/EF",
    "/Metadata",
    "/XFA",
    "/PieceInfo",
}


def _walk(obj: Any, seen: set[tuple[int, int]]) -> list[DictionaryObject]:
    """Every dictionary reachable from obj (pypdf objects)."""
    found: list[DictionaryObject] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, IndirectObject):
            if (o.idnum, o.generation) in seen:
                continue
            seen.add((o.idnum, o.generation))
            o = o.get_object()
        if isinstance(o, DictionaryObject):
            found.append(o)
            stack.extend(o.values())
        elif isinstance(o, ArrayObject):
            stack.extend(o)
    return found


def test_an_office_pdf_is_served_rewritten_without_identity(
    tx_as_user: Any, tx_client: Any, tmp_path: Path
) -> None:
    sent = office_pdf(tmp_path)
    before = PdfReader(io.BytesIO(sent))
    assert before.metadata and before.metadata.author == NAME and before.attachments
    catalog = before.trailer["/Root"].get_object()
    assert isinstance(catalog, DictionaryObject) and "/OpenAction" in catalog
    served = publish_evidence(tx_as_user, tx_client, "permit.pdf", sent, "application/pdf")
    tags = exiftool(served)
    assert_no_identity(served, tags, pdf_texts(served))
    assert not {k for k in tags if k.startswith(("PDF:Author", "PDF:Creator", "PDF:Producer"))}
    assert not {k for k in tags if k.startswith("XMP")}
    reader = PdfReader(io.BytesIO(served))
    assert not reader.metadata and reader.xmp_metadata is None
    assert "/Info" not in reader.trailer
    assert reader.attachments == {}
    for d in _walk(reader.trailer, set()):
        assert not FORBIDDEN_PDF_KEYS & set(d.keys()), FORBIDDEN_PDF_KEYS & set(d.keys())
        assert d.get("/S") not in (NameObject("/JavaScript"), "/Launch", "/URI")
        assert d.get("/Subtype") != "/FileAttachment"
    # still the same document: two pages, their size and text, the photo on page two
    assert len(reader.pages) == 2
    assert [float(p.mediabox.width) for p in reader.pages] == [300.0, 300.0]
    assert "Evidence page one" in reader.pages[0].extract_text()
    assert "Evidence page two" in reader.pages[1].extract_text()
    (image,) = reader.pages[1].images
    assert image.image is not None and image.image.size == (40, 30)
    # the link inside the document stays; the outgoing and launching ones go
    kinds = [a.get_object().get("/A", {}).get("/S") for a in reader.pages[0].get("/Annots", [])]
    assert kinds.count("/GoTo") == 1 and "/URI" not in kinds and "/Launch" not in kinds


def test_a_password_protected_pdf_is_refused(
    tx_as_user: Any, tmp_path: Path, db_tx, tx_settings: Settings
) -> None:
    path = tmp_path / "locked.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(path, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    before = stored(db_tx.engine, tx_settings.var_dir)
    r = submit(
        tx_as_user("advocate"),
        anonymous="true",
        files=[("evidence", ("locked.pdf", path.read_bytes(), "application/pdf"))],
    )
    assert r.status_code == 400, r.text
    assert "password" in r.json()["description"] and "locked.pdf" in r.json()["description"]
    assert stored(db_tx.engine, tx_settings.var_dir) == before


def test_a_damaged_pdf_is_refused_without_server_details(
    tx_as_user: Any, db_tx, tx_settings: Settings
) -> None:
    broken = b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 9 0 R>>\nxref garbage\n%%EOF\n"
    before = stored(db_tx.engine, tx_settings.var_dir)
    r = submit(
        tx_as_user("advocate"), files=[("evidence", ("broken.pdf", broken, "application/pdf"))]
    )
    assert r.status_code == 400, r.text
    message = r.json()["description"]
    assert "broken.pdf is a damaged PDF document" in message
    assert "/tmp" not in message and str(tx_settings.var_dir) not in message
    assert stored(db_tx.engine, tx_settings.var_dir) == before
