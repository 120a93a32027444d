"""How text from Boomi (or a reviewer) is written into cells that people open: the one home of
the rules against formula injection, invisible characters and control characters.

Three forms, each with one job:

- :func:`neutralise_csv_cell` / :func:`restore_csv_cell`: a CSV cell no spreadsheet in any
  locale evaluates, on one line, and read back exactly.
- :func:`xlsx_text` / :func:`xlsx_restore`: text an XLSX file can hold (XML forbids most control
  characters), read back exactly; XLSX cells are always written as text, never as formulas.
- :func:`visible_text`: what a person is shown (report, the workbook's display columns):
  control characters, direction marks and zero-width characters made visible, so a name cannot
  hide or reorder text. Not reversible; never used for ids.

Names come from Boomi and anyone who can edit a Boomi user can choose them, so every one of
these functions must hold for arbitrary text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "FORMULA_TRIGGERS",
    "neutralise_csv_cell",
    "restore_csv_cell",
    "visible_text",
    "xlsx_restore",
    "xlsx_text",
]

#: Characters that make a spreadsheet cell a formula (or DDE command) when a cell starts with them.
FORMULA_TRIGGERS = frozenset("=+-@\t\r")

# The mark that a CSV cell was neutralised (and so must be restored on reading). Spreadsheets
# show a cell starting with ' as text; ' is also what is inserted after a separator.
_MARK = "'"
# A cell starts at the start of the value, and -- when a spreadsheet splits a line at another
# separator than the one the file was written with (Excel in a ';' locale opening a ',' file,
# or the reverse) -- right after any ',' or ';' inside the value. Quotes and spaces there do not
# protect: lenient CSV parsers drop or keep them and still see the '=' behind. _TRIGGER matches
# such a cell start that would be evaluated (FORMULA_TRIGGERS) or that starts with our mark.
_SEPARATORS = frozenset(",;")
_TRIGGER = re.compile(r"""[" ]*[=+\-@\t\r']""")
_INNER_TRIGGER = re.compile(r"""[,;][" ]*[=+\-@\t\r']""")

# Line breaks a spreadsheet or a line-based tool could split a row at, other control
# characters, and lone surrogates (which UTF-8 cannot encode): written as backslash escapes
# inside a neutralised cell, so every value stays on one line of the file.
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_CSV_RISK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NEEDS_ESCAPE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape_char(char: str) -> str:
    escaped = _ESCAPES.get(char)
    if escaped is not None:
        return escaped
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def neutralise_csv_cell(value: str) -> str:
    """The CSV form of ``value``: one line, evaluated by no spreadsheet in any locale.

    A value is written unchanged unless it needs one of these, in which case it is *marked*
    with a leading ``'`` (spreadsheets show such a cell as text) and:

    - a ``'`` is inserted after every ``,`` or ``;`` that is followed (after optional quotes
      and spaces) by ``=``, ``+``, ``-``, ``@``, tab, CR or ``'``: a spreadsheet splitting the
      line at that separator (a ``;`` locale opening a ``,`` file) sees a cell starting with
      ``'``, not a formula;
    - backslashes, line breaks, tabs and other control characters are written as ``\\\\``,
      ``\\n``, ``\\r``, ``\\t``, ``\\xNN`` or ``\\uNNNN``, so the value stays on one line.

    Needed when the value starts (after optional quotes and spaces) with one of those
    characters or ``'``, has such a character after a ``,`` or ``;``, or holds a control
    character or line break. :func:`restore_csv_cell` gives back the exact value.
    """
    if not (_TRIGGER.match(value) or _INNER_TRIGGER.search(value) or _CSV_RISK.search(value)):
        return value
    parts = [_MARK]
    for index, char in enumerate(value):
        parts.append(_escape_char(char) if _NEEDS_ESCAPE.match(char) else char)
        if char in _SEPARATORS and _TRIGGER.match(value, index + 1):
            parts.append(_MARK)
    return "".join(parts)


def restore_csv_cell(value: str) -> str:
    """The value :func:`neutralise_csv_cell` was given (a cell without the mark is as written).

    Drops the leading ``'``, one ``'`` right after each ``,`` or ``;``, and decodes the
    backslash escapes; an unknown escape is kept as typed.
    """
    if not value.startswith(_MARK):
        return value
    out: list[str] = []
    index, end = 1, len(value)
    while index < end:
        char = value[index]
        if char == "\\" and index + 1 < end:
            kind = value[index + 1]
            if kind in _UNESCAPES:
                out.append(_UNESCAPES[kind])
                index += 2
                continue
            width = {"x": 2, "u": 4}.get(kind, 0)
            digits = value[index + 2 : index + 2 + width]
            if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                out.append(chr(int(digits, 16)))
                index += 2 + width
                continue
        out.append(char)
        index += 1
        if char in _SEPARATORS and index < end and value[index] == _MARK:
            index += 1
    return "".join(out)


# XML 1.0 cannot hold these at all (openpyxl raises IllegalCharacterError), CR does not survive
# XML line-end normalisation, and '_xHHHH_' is itself the escape: all written as '_xHHHH_', the
# escape Excel and LibreOffice use (ECMA-376 ST_Xstring), and decoded by :func:`xlsx_restore`.
_XLSX_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_XLSX_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def xlsx_text(value: str) -> str:
    """``value`` as an XLSX cell can hold it: exact for ids, never an invalid file."""
    return _XLSX_UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def xlsx_restore(value: str) -> str:
    """Decode the ``_xHHHH_`` escapes of an XLSX cell (ours, Excel's or LibreOffice's)."""
    if "_x" not in value:
        return value
    return _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


# Shown as <U+XXXX>: characters that draw nothing yet change what is shown -- direction
# overrides and isolates (U+202A-U+202E, U+2066-U+2069), zero-width and joiner characters
# (U+200B-U+200F, U+2060, U+FEFF), tag characters, line/paragraph separators, C1 controls,
# lone surrogates and non-characters.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Zl", "Zp", "Cs"})


def _shown(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # control pictures: U+241B "␛" for ESC, U+2400 "␀" for NUL
    if code == 0x7F:
        return "\u2421"  # ␡
    if 0x80 <= code <= 0x9F or code in (0xFFFE, 0xFFFF) or unicodedata.category(char) in _HIDDEN_CATEGORIES:
        return f"<U+{code:04X}>"
    return char


def visible_text(value: str) -> str:
    """``value`` as shown to a person: nothing hidden, nothing reordered.

    C0 control characters (tab and line breaks included) become their control pictures
    (``␛`` for ESC, ``␊`` for a line feed), DEL becomes ``␡``; direction marks and overrides,
    zero-width characters, other invisible format characters, line separators, C1 controls
    and non-characters become ``<U+XXXX>``. Printable text is unchanged.
    """
    if value.isprintable():
        return value
    return "".join(_shown(char) for char in value)
