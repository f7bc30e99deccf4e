"""PDFs made by the tests: text pages, image-only pages, encrypted, empty, damaged, and scans
of the real datasheets' pages.

Built with pypdf's PdfWriter and hand-written content streams, so each bad input is exactly
the kind of file it claims to be.
"""

import io
from pathlib import Path

import pypdfium2
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
)

LOREM = (
    "The MCX900 sensor measures pressure from 300 to 1100 hPa with an accuracy of 0.12 hPa.\n"
    "Supply voltage VDDIO ranges from 1.71 V to 3.6 V; the I2C address is 0x76 or 0x77.\n"
    "In normal mode the device cycles between measurement and standby periods automatically.\n"
    "The propagation delay tPD of the interrupt output is below 5 microseconds at 25 degrees.\n"
)


def _write(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: list[str]) -> PdfWriter:
    """A writer with one page per string, each line drawn in Helvetica (a real text layer)."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        ops = ["BT", "/F1 10 Tf", "13 TL", "50 740 Td"]
        ops += [f"({_escape(line)}) Tj T*" for line in text.split("\n")]
        ops.append("ET")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    return writer


def text_pdf_bytes(pages: list[str]) -> bytes:
    return _write(text_pdf(pages))


def sample_pages(count: int, tag: str = "") -> list[str]:
    return [f"Section {n} {tag}\n{LOREM}Register {n:02X}h controls channel {n}.\n" for n in range(1, count + 1)]


def encrypted_pdf(*, user_password: str, owner_password: str = "owner-secret", algorithm: str = "RC4-128") -> bytes:
    """Two text pages encrypted with pypdf: algorithm RC4-128, AES-128 or AES-256."""
    writer = text_pdf(sample_pages(2, "encrypted"))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    return _write(writer)


def image_only_pdf(pages: int = 3) -> bytes:
    """Pages that each draw a grey image and carry no text at all (a scan without OCR)."""
    writer = PdfWriter()
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        image = StreamObject()
        image._data = bytes(range(0, 256, 16)) * 4  # 8 x 8 pixels, 8-bit grey
        image.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(8),
                NameObject("/Height"): NumberObject(8),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/XObject"): DictionaryObject({NameObject("/Im1"): writer._add_object(image)})}
        )
        content = DecodedStreamObject()
        content.set_data(b"q 500 0 0 700 56 46 cm /Im1 Do Q")
        page[NameObject("/Contents")] = writer._add_object(content)
        page[NameObject("/MediaBox")] = ArrayObject([NumberObject(n) for n in (0, 0, 612, 792)])
    return _write(writer)


def zero_page_pdf() -> bytes:
    return _write(PdfWriter())


def scanned_pdf(pages: list[tuple[Path, int]], *, dpi: int = 200, keep_text: frozenset[int] = frozenset()) -> bytes:
    """Pages of real PDFs (path, 1-based number) as a scanner would give them: each rendered
    to a grey JPEG at `dpi` and drawn over a blank page of the same size, with no text layer.
    The pages whose index (0-based, in `pages`) is in `keep_text` are copied as they are, text
    layer and all, which makes a mixed PDF."""
    out = pypdfium2.PdfDocument.new()
    try:
        for index, (path, number) in enumerate(pages):
            source = pypdfium2.PdfDocument(str(path))
            try:
                if index in keep_text:
                    out.import_pages(source, [number - 1])
                    continue
                page = source[number - 1]
                width, height = page.get_size()
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                jpeg = io.BytesIO()
                bitmap.to_pil().save(jpeg, "JPEG", quality=85)
                bitmap.close()
                page.close()
                jpeg.seek(0)
                scan = out.new_page(width, height)
                image = pypdfium2.PdfImage.new(out)
                image.load_jpeg(jpeg, inline=True)
                image.set_matrix(pypdfium2.PdfMatrix().scale(width, height))
                scan.insert_obj(image)
                scan.gen_content()
                scan.close()
            finally:
                source.close()
        buffer = io.BytesIO()
        out.save(buffer)
        return buffer.getvalue()
    finally:
        out.close()
