"""A streaming XLSX (Office Open XML) writer in constant memory.

Rows become worksheet XML as they arrive and go straight into a ZIP entry written to a
non-seekable stream (sizes in data descriptors), so the first bytes leave before the last
row is read and memory does not grow with the row count. Strings are inline (no shared
string table to keep), dates are serial numbers with a date style, the header row is bold
and frozen. A sheet holds at most 1,048,575 data rows and ~1.5 GiB of XML (ZIP entries
without Zip64); further rows continue on "name (2)", "name (3)"… Text longer than Excel's
32,767 characters per cell is cut there (the CSV has it whole).
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from typing import IO, Any
from xml.sax.saxutils import escape

MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows, one of them the header
MAX_SHEET_BYTES = 1536 * 1024 * 1024
MAX_CELL = 32_767
_EPOCH = date(1899, 12, 30).toordinal()
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NEEDS = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CONTENT_TYPES = (
    f'{HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    f'<Default Extension="xml" ContentType="{CT}.worksheet+xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/></Types>')
ROOT_RELS = (f'{HEAD}<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
             f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
STYLES = (
    f'{HEAD}<styleSheet xmlns="{NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="3">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    '</cellStyles></styleSheet>')
SHEET_START = (f'{HEAD}<worksheet xmlns="{NS}" xmlns:r="{REL}"><sheetViews><sheetView '
               'workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
               'state="frozen"/></sheetView></sheetViews><sheetData>')
SHEET_END = "</sheetData></worksheet>"


def column_letters(n: int) -> str:
    """1 → A, 27 → AA."""
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def text_cell(ref: str, value: str, style: str = "") -> str:
    """An inline string cell (illegal XML characters dropped, cut at Excel's limit)."""
    if len(value) > MAX_CELL:
        value = value[:MAX_CELL - 1] + "…"
    if _NEEDS.search(value):
        value = escape(_ILLEGAL.sub("", value))
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'


def cell(ref: str, value: Any, kind: str) -> str:
    """One cell of a Table Schema type: numbers stay numbers, dates become serials."""
    if value is None:
        return ""
    if kind == "boolean":
        return f'<c r="{ref}" t="b"><v>{1 if value else 0}</v></c>'
    if kind in ("integer", "number"):
        if isinstance(value, float) and not math.isfinite(value):
            return ""
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if kind == "date" and isinstance(value, date):
        day = value.date() if isinstance(value, datetime) else value
        return f'<c r="{ref}" s="1"><v>{day.toordinal() - _EPOCH}</v></c>'
    return text_cell(ref, str(value))


class Workbook:
    """Sheets of typed rows written as they come; `close()` writes the workbook part."""

    def __init__(self, out: IO[bytes], compresslevel: int = 1) -> None:
        self.zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self.zip.writestr("[Content_Types].xml", CONTENT_TYPES)
        self.zip.writestr("_rels/.rels", ROOT_RELS)
        self.zip.writestr("xl/styles.xml", STYLES)
        self.sheets: list[str] = []
        self._entry: Any = None

    def start_sheet(self, name: str, header: Sequence[str], types: Sequence[str]) -> None:
        """Begin a sheet; rows then go to `write_rows` until the next sheet or `close`."""
        self._end_sheet()
        self.sheets.append(_sheet_name(name, self.sheets))
        self._entry = self.zip.open(f"xl/worksheets/sheet{len(self.sheets)}.xml", "w")
        self._letters = [column_letters(i + 1) for i in range(len(header))]
        self._types, self._header, self._base = list(types), list(header), name
        self._row, self._bytes = 1, 0
        head = "".join(text_cell(f"{c}1", h, ' s="2"') for c, h in zip(self._letters, header,
                                                                       strict=True))
        self._put(f'{SHEET_START}<row r="1">{head}</row>')

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows (values in header order); continue on a new sheet when one is full."""
        parts = []
        for values in rows:
            if self._row > MAX_ROWS or self._bytes > MAX_SHEET_BYTES:
                self._put("".join(parts))
                parts = []
                self.start_sheet(f"{self._base} ({len(self.sheets) + 1})", self._header,
                                 self._types)
            self._row += 1
            n = str(self._row)
            parts.append(f'<row r="{n}">' + "".join([
                cell(letter + n, value, kind)
                for letter, value, kind in zip(self._letters, values, self._types,
                                               strict=True)]) + "</row>")
            if len(parts) >= 1000:
                self._put("".join(parts))
                parts = []
        self._put("".join(parts))

    def _put(self, text: str) -> None:
        if text:
            data = text.encode()
            self._bytes += len(data)
            self._entry.write(data)

    def _end_sheet(self) -> None:
        if self._entry is not None:
            self._put(SHEET_END)
            self._entry.close()
            self._entry = None

    def close(self) -> None:
        """Finish the last sheet, write the workbook and its relationships, end the ZIP."""
        self._end_sheet()
        sheets = "".join(f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in enumerate(self.sheets, 1))
        self.zip.writestr("xl/workbook.xml", f'{HEAD}<workbook xmlns="{NS}" xmlns:r="{REL}">'
                          f'<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets>'
                          '</workbook>')
        rels = "".join(f'<Relationship Id="rId{i}" Type="{REL}/worksheet" '
                       f'Target="worksheets/sheet{i}.xml"/>'
                       for i in range(1, len(self.sheets) + 1))
        rels += (f'<Relationship Id="rId{len(self.sheets) + 1}" Type="{REL}/styles" '
                 'Target="styles.xml"/>')
        self.zip.writestr("xl/_rels/workbook.xml.rels",
                          f'{HEAD}<Relationships xmlns="{PKG}">{rels}</Relationships>')
        self.zip.close()


def _sheet_name(name: str, taken: list[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique."""
    clean = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    candidate, n = clean, 2
    while candidate.lower() in (t.lower() for t in taken):
        candidate, n = f"{clean[:27]} ({n})", n + 1
    return candidate
