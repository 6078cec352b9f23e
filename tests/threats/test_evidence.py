"""geo.evidence: types from content, limits, metadata removed (GPS unless kept)."""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image
from pypdf import PdfReader

from geo.errors import InvalidInput, TooLarge, UnreadableFile
from geo.evidence import (
    GPS_IFD,
    PDF,
    check_evidence,
    gps_tags,
    sniff_media_type,
    strip_jpeg_segments,
)

LIMITS = {"max_photo_bytes": 2_000_000, "max_pdf_bytes": 2_000_000}
ARTIST = 0x013B


def photo_with_gps(fmt: str = "JPEG", size: tuple[int, int] = (80, 60)) -> bytes:
    """A photo whose EXIF says where (Kok-Jailau) and who took it."""
    im = Image.new("RGB", size, (90, 140, 70))
    exif = Image.Exif()
    exif[ARTIST] = "Aigerim Reporter"
    exif[GPS_IFD] = {1: "N", 2: (43.0, 8.0, 24.0), 3: "E", 4: (76.0, 58.0, 48.0)}
    out = io.BytesIO()
    im.save(out, format=fmt, exif=exif)
    return out.getvalue()


def plain_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 180, 160)).save(out, format="JPEG")
    return out.getvalue()


def minimal_pdf() -> bytes:
    """A one-page PDF written by hand, without a cross-reference table (qpdf rebuilds it)."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def test_fixture_photo_has_gps() -> None:
    assert gps_tags(photo_with_gps())[2] == (43.0, 8.0, 24.0)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_gps_is_removed_by_default(fmt: str) -> None:
    ev = check_evidence(photo_with_gps(fmt), **LIMITS)
    assert gps_tags(ev.data) == {}
    assert not ev.location_kept
    assert (ev.width, ev.height) == (80, 60)
    with Image.open(io.BytesIO(ev.data)) as im:
        assert im.format == fmt
        assert not im.getexif()  # no other EXIF either


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_gps_is_kept_when_the_reporter_chooses(fmt: str) -> None:
    ev = check_evidence(photo_with_gps(fmt), keep_location=True, **LIMITS)
    assert gps_tags(ev.data)[4] == (76.0, 58.0, 48.0)
    assert ev.location_kept


def test_identifying_tags_go_even_when_the_location_is_kept() -> None:
    ev = check_evidence(photo_with_gps(), keep_location=True, **LIMITS)
    with Image.open(io.BytesIO(ev.data)) as im:
        assert ARTIST not in im.getexif()
        assert set(im.getexif()) == {GPS_IFD}
    assert gps_tags(ev.data)  # the location was kept, as chosen


def test_keeping_the_location_of_a_photo_without_one() -> None:
    ev = check_evidence(plain_photo(), keep_location=True, **LIMITS)
    assert gps_tags(ev.data) == {} and not ev.location_kept


def test_type_comes_from_content_not_name() -> None:
    assert sniff_media_type(photo_with_gps()) == "image/jpeg"
    assert sniff_media_type(minimal_pdf()) == PDF
    with pytest.raises(InvalidInput, match="not a JPEG or PNG photo or a PDF"):
        check_evidence(b"MZ\x90\x00 this is an exe", name="photo.jpg", **LIMITS)
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    with pytest.raises(InvalidInput, match="not a JPEG or PNG"):
        check_evidence(gif.getvalue(), name="x.png", **LIMITS)


def test_too_many_bytes() -> None:
    big = photo_with_gps()
    with pytest.raises(TooLarge, match=r"photos may be at most"):
        check_evidence(big, max_photo_bytes=len(big) - 1, max_pdf_bytes=10**7)


def test_too_many_pixels() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # 81 megapixels, a few kB
    with pytest.raises(TooLarge, match=r"megapixels|too many pixels"):
        check_evidence(out.getvalue(), **LIMITS)


def test_truncated_photo() -> None:
    data = photo_with_gps(size=(400, 300))
    with pytest.raises(UnreadableFile, match="damaged"):
        check_evidence(data[: len(data) // 2], **LIMITS)


def test_pdf_is_accepted_and_checked() -> None:
    ev = check_evidence(minimal_pdf(), **LIMITS)
    assert ev.media_type == PDF and ev.extension == "pdf"
    with pytest.raises(UnreadableFile, match="not a complete PDF"):
        check_evidence(b"%PDF-1.4\n" + b"0" * 100, **LIMITS)


def test_empty_file() -> None:
    with pytest.raises(UnreadableFile, match="empty"):
        check_evidence(b"", **LIMITS)


def test_multi_picture_photo_and_trailing_data_are_dropped() -> None:
    """A phone's multi-picture JPEG (a second image with its own EXIF) and data appended
    after the picture (as motion photos do) are not kept."""
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 0, 0), (0, 0, 255))]
    exif = Image.Exif()
    exif[ARTIST] = "Aigerim Reporter"
    out = io.BytesIO()
    frames[0].save(out, format="MPO", save_all=True, append_images=frames[1:], exif=exif)
    data = out.getvalue() + b"MotionPhoto of Aigerim Reporter"
    assert data.count(b"Aigerim Reporter") == 3
    ev = check_evidence(data, **LIMITS)
    assert b"Aigerim" not in ev.data and b"MPF" not in ev.data
    with Image.open(io.BytesIO(ev.data)) as im:
        assert im.format == "JPEG" and getattr(im, "n_frames", 1) == 1
        assert im.convert("RGB").getpixel((10, 10))[0] > 200  # type: ignore[index]


def test_pdf_with_only_an_owner_password_is_served_unlocked() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="", owner="owner-secret"))
    ev = check_evidence(out.getvalue(), **LIMITS)
    assert b"/Encrypt" not in ev.data
    assert len(PdfReader(io.BytesIO(ev.data)).pages) == 1


def test_pdf_needing_a_password_is_refused() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    with pytest.raises(InvalidInput, match="protected with a password"):
        check_evidence(out.getvalue(), name="permit.pdf", **LIMITS)


def test_jpeg_segments_stripped_losslessly() -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[ARTIST] = "Aigerim Reporter"
    Image.new("RGB", (16, 16), (1, 2, 3)).save(
        out, format="JPEG", exif=exif, comment=b"Aigerim Reporter"
    )
    data = out.getvalue()
    clean = strip_jpeg_segments(data + b"trailer Aigerim Reporter")
    assert clean is not None
    assert b"Aigerim" not in clean and clean.endswith(b"\xff\xd9")
    scan = data.index(b"\xff\xda")
    assert clean.endswith(data[scan:])  # the compressed pixels, byte for byte
    assert strip_jpeg_segments(b"not a jpeg") is None
    assert strip_jpeg_segments(data[:30]) is None  # cut inside a segment


def test_a_malformed_gps_position_is_left_out_not_an_error() -> None:
    """A GPS latitude stored as text (as some software writes it) cannot be written back:
    the position is not kept (no partial position), and the photo is still accepted."""
    data = photo_with_gps()
    latitude = b"\x00\x02\x00\x05\x00\x00\x00\x03"  # tag 2, RATIONAL, 3 values (big-endian)
    assert data.count(latitude) == 1
    data = data.replace(latitude, b"\x00\x02\x00\x02\x00\x00\x00\x18")  # the same bytes as text
    assert isinstance(gps_tags(data)[2], str)
    ev = check_evidence(data, keep_location=True, **LIMITS)
    assert gps_tags(ev.data) == {} and not ev.location_kept
    assert (ev.width, ev.height) == (80, 60)


def _one_page_pdf() -> tuple[pikepdf.Pdf, pikepdf.Dictionary]:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 100))
    return pdf, pdf.pages[0].obj


def _saved(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_pdf_scripts_metadata_and_files_go_under_any_key() -> None:
    """Found by what they are, not only where the specification puts them."""
    pdf, page = _one_page_pdf()
    page["/PrivateAction"] = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('Aigerim Reporter')")
    )
    page["/PrivateLink"] = pikepdf.Dictionary(
        S=pikepdf.Name.URI, URI=pikepdf.String("https://example.org/aigerim-reporter")
    )
    page["/PrivateXMP"] = pdf.make_stream(
        b"<x:xmpmeta>Aigerim Reporter</x:xmpmeta>", Type=pikepdf.Name.Metadata
    )
    page["/PrivateFile"] = pdf.make_stream(b"Aigerim Reporter", Type=pikepdf.Name.EmbeddedFile)
    page["/Kept"] = pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=[page, pikepdf.Name.Fit])
    ev = check_evidence(_saved(pdf), **LIMITS)
    assert b"Aigerim" not in ev.data and b"aigerim" not in ev.data
    served = PdfReader(io.BytesIO(ev.data)).pages[0]
    assert "/Kept" in served and not {"/PrivateAction", "/PrivateLink"} & set(served.keys())
    assert not {"/PrivateXMP", "/PrivateFile"} & set(served.keys())


def test_pdf_with_a_damaged_jpeg_image_is_refused() -> None:
    pdf, page = _one_page_pdf()
    page["/Resources"] = pikepdf.Dictionary(
        XObject=pikepdf.Dictionary(
            Im1=pdf.make_stream(
                b"\xff\xd8\xff\xe1\xff\xf0Exif\x00\x00Aigerim Reporter",  # cut short
                Type=pikepdf.Name.XObject,
                Subtype=pikepdf.Name.Image,
                Width=4,
                Height=4,
                BitsPerComponent=8,
                ColorSpace=pikepdf.Name.DeviceRGB,
                Filter=pikepdf.Name.DCTDecode,
            )
        )
    )
    with pytest.raises(UnreadableFile, match="damaged JPEG image"):
        check_evidence(_saved(pdf), name="permit.pdf", **LIMITS)
