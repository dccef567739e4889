"""What a file that no format recognises turns out to be: the reason the agency reads instead of "unknown"."""

from __future__ import annotations

from portal.plugins.problems import FileProblem
from portal.plugins.records import N_
from portal.plugins.tabular import detect_bom, sample_text
from portal.plugins.workbook import ZIP_MAGIC, is_whole_zip, xlsx_sample_problem

# Files agencies send by mistake, by their first bytes.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        N_("the file is an Excel 97-2003 workbook (.xls) or another old Office document; save it as .xlsx or CSV"),
    ),
    (b"%PDF-", N_("the file is a PDF document, not a table")),
    (b"\x1f\x8b", N_("the file is gzip-compressed; upload the file inside it")),
    (b"Rar!\x1a\x07", N_("the file is a RAR archive; upload the file inside it")),
    (b"7z\xbc\xaf\x27\x1c", N_("the file is a 7-Zip archive; upload the file inside it")),
)


def describe_sample(sample: bytes, *, cut_at: int) -> FileProblem | None:
    """The problem the readers see in a file's first bytes, or None when they see none.

    ``sample`` is what the host sniffs (``read_sample``); ``cut_at`` is the size at which it
    stops reading a zip, so that a workbook too big to open from its sample is told apart from
    one that is damaged. None means the file reads as text or as a workbook and only its
    content (the header) fits no installed format.
    """
    if not sample:
        return FileProblem(N_("the file is empty"))
    if sample.startswith(ZIP_MAGIC):
        if len(sample) >= cut_at and not is_whole_zip(sample):
            return FileProblem(
                N_(
                    "the file is a zip archive (an .xlsx workbook?) larger than the %(size)s MB that format "
                    "detection reads; choose its format when you upload it"
                ),
                size=cut_at // (1024 * 1024),
            )
        return xlsx_sample_problem(sample)
    for magic, template in _MAGIC:
        if sample.startswith(magic):
            return FileProblem(template)
    try:
        detect_bom(sample)
    except FileProblem as problem:  # UTF-16 or UTF-32 with a byte order mark
        return problem
    head = sample[:4096]
    if _looks_like_utf16(head):
        return FileProblem(N_("the file is UTF-16 text without a byte order mark; save it as UTF-8 (or GBK) CSV"))
    if b"\x00" in head:
        return FileProblem(N_("the file contains NUL bytes: it is a binary file, not a text table"))
    if sample_text(sample) is None:
        return FileProblem(N_("the file is neither UTF-8 nor GBK text"))
    if not sample.strip():
        return FileProblem(N_("the file holds only blank lines"))
    return None


def _looks_like_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: NUL bytes on one side of every pair only (ASCII characters' high bytes)."""
    head = head[: len(head) // 2 * 2]
    if len(head) < 8:
        return False
    even, odd = head[0::2], head[1::2]
    for zeros, others, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.1 * len(zeros) and others.count(0) <= 0.01 * len(others):
            try:
                head.decode(codec)
            except UnicodeDecodeError:
                continue
            return True
    return False
