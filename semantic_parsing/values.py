"""Candidate values of a question: what a decoder may write as a value literal.

`candidates(question, db)` finds, in order of trust:
  * cell: a cell of the database that occurs in the question as it is (cells of number columns
    and plain numbers are left to the numbers below);
  * date: `2019年12月24日/号` -> "2019-12-24", `2019年12月` -> "2019-12", `2019-1-2` -> "2019-01-02";
  * number: Arabic numbers (also with `万`/`亿`/`千`/`百` multiplied out, `%` divided out, so
    `60%` gives 60 and 0.6), Chinese numerals (`三` 3, `十五` 15, `两千` 2000, `1.5万` 15000);
  * snapped: a cell that shares a long piece with the question (at least 2 characters and at least
    60% of the cell, 50% when the question names the cell's column) - `北京` in the question snaps
    to the cell `北京市`;
  * binary: the values of binary (是/否) columns, and the numbers 0 and 1, always;
  * span (optional): any piece of the question up to `max_span` characters, as a string - DuSQL's
    content files hold a few rows per table, so many gold strings are in no cell;
  * like (optional): `"%x%"` for the cell, snapped and span strings of up to `max_like` characters.
Each literal appears once, with the most trusted kind. `literals()` gives the token set for
`grammar.Constraint`; `cells_in_question()` the cells to show the encoder per column.
Strings holding a quote are dropped: DuSQL's SQL cannot write them.
"""
import re
from dataclasses import dataclass

from common.text import longest_common_run
from semantic_parsing.sql import IUE_OPS, format_number, format_value

_KINDS = ("cell", "date", "number", "snapped", "binary", "span", "like")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10 ** 4, "亿": 10 ** 8}
_CN_NUMERAL = re.compile("[零〇一二两三四五六七八九十百千万亿]+")
_ARABIC = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(%|万亿|亿|万|千|百)?")
_DATE_CN = re.compile(r"(\d{4})年(\d{1,2})月(?:(\d{1,2})[日号])?")
_DATE_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?!\d)")
_SPAN_BREAK = re.compile(r"[\s，。？！、；：,.?!;:（）()《》“”\"'「」]")
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")
_MULTIPLIERS = {"万亿": 10 ** 12, "亿": 10 ** 8, "万": 10 ** 4, "千": 1000, "百": 100}


@dataclass(frozen=True)
class Candidate:
    literal: str        # the SQL token: '"北京"', '400', '"2019-01-01"'
    value: object       # the value as in the structured sql: '北京', 400, '2019-01-01'
    kind: str           # one of cell, date, number, snapped, binary, span, like
    span: tuple = None  # (start, end) in the question, when the value comes from a piece of it
    columns: tuple = ()  # column ids whose cells gave the value


def chinese_number(text):
    """Value of a Chinese numeral (`十五` 15, `两千零五` 2005, `三万五千` 35000), or None."""
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS and ch not in _CN_BIG for ch in text):
        return None
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            if digit is not None and digit != 0 and _CN_DIGITS[ch] != 0:
                return None  # two digits in a row: 一二 is not a number
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            section += digit or 0
            if section == 0:
                return None
            total += section * _CN_BIG[ch]
            section, digit = 0, None
    return total + section + (digit or 0)


def _number(value):
    """int when integral (and not huge), else float."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return int(value)
    return value


def _numbers(question):
    found = []
    for m in _ARABIC.finditer(question):
        base = float(m.group(1)) if "." in m.group(1) else int(m.group(1))
        unit = m.group(2)
        found.append((base, m.span(1)))
        if unit == "%":
            found.append((base / 100, m.span()))
        elif unit:
            found.append((base * _MULTIPLIERS[unit], m.span()))
    for m in _CN_NUMERAL.finditer(question):
        text = m.group()
        for start in range(len(text)):  # the longest reading of each start: 第三十 -> 三十
            for end in range(len(text), start, -1):
                value = chinese_number(text[start:end])
                if value is not None:
                    found.append((value, (m.start() + start, m.start() + end)))
                    break
    return [(_number(v), span) for v, span in found]


def _dates(question):
    found = []
    for pattern in (_DATE_CN, _DATE_ISO):
        for m in pattern.finditer(question):
            year, month, day = m.group(1), int(m.group(2)), m.group(3)
            if not 1 <= month <= 12 or (day and not 1 <= int(day) <= 31):
                continue
            text = f"{year}-{month:02d}" + (f"-{int(day):02d}" if day else "")
            found.append((text, m.span()))
    return found


def _cells(db):
    """{cell text: [column ids]} of the string cells of a database: not of number columns, not
    plain numbers (a gold query writes those as numbers), no quotes."""
    cells = {}
    for column in db.columns[1:]:
        if column.type == "number":
            continue
        for cell in db.column_values(column.id):
            cell = cell.strip()
            if cell and '"' not in cell and "'" not in cell and not _PLAIN_NUMBER.fullmatch(cell):
                ids = cells.setdefault(cell, [])
                if column.id not in ids:
                    ids.append(column.id)
    return cells


def candidates(question, db, spans=False, max_span=12, likes=False, max_like=6):
    """Candidate values of `question` over database `db` (see the module docstring)."""
    out = {}

    def add(value, kind, span=None, columns=()):
        try:
            literal = format_value(value)
        except ValueError:
            return
        known = out.get(literal)
        if known is None or _KINDS.index(kind) < _KINDS.index(known.kind):
            out[literal] = Candidate(literal, value, kind, span, tuple(columns))

    cells = _cells(db)
    bigrams = {question[i:i + 2] for i in range(len(question) - 1)}
    named = {c.id for c in db.columns[1:] if c.name in question}
    for cell, columns in cells.items():
        at = question.find(cell)
        if at >= 0:
            add(cell, "cell", (at, at + len(cell)), columns)
            continue
        if len(cell) < 2 or not any(cell[i:i + 2] in bigrams for i in range(len(cell) - 1)):
            continue
        share = 0.5 if named.intersection(columns) else 0.6
        common = longest_common_run(cell, question)
        if common >= 2 and common >= share * len(cell):
            add(cell, "snapped", None, columns)
    for column in db.columns[1:]:
        if column.type == "binary":
            for cell in db.column_values(column.id):
                if cell.strip():
                    add(cell.strip(), "binary", None, (column.id,))
    for value in (0, 1):
        add(value, "binary")
    for text, span in _dates(question):
        add(text, "date", span)
    for value, span in _numbers(question):
        add(value, "number", span)
    if spans:
        for start in range(len(question)):
            for end in range(start + 1, min(len(question), start + max_span) + 1):
                piece = question[start:end]
                if _SPAN_BREAK.search(piece):
                    break
                add(piece, "span", (start, end))
    if likes:
        for candidate in list(out.values()):
            if candidate.kind in ("cell", "snapped", "span") and isinstance(candidate.value, str) \
                    and len(candidate.value) <= max_like:
                add(f"%{candidate.value}%", "like", candidate.span, candidate.columns)
    return list(out.values())


def literals(found):
    """The literal tokens of candidates (for grammar.Constraint)."""
    return frozenset(c.literal for c in found)


def cells_in_question(question, db, found=None):
    """{column id: [cell values]} of the cell and snapped candidates (for the encoder input)."""
    shown = {}
    for candidate in found if found is not None else candidates(question, db):
        if candidate.kind in ("cell", "snapped"):
            for cid in candidate.columns:
                shown.setdefault(cid, []).append(candidate.value)
    return shown


def gold_values(sql):
    """The literal tokens of a structured `sql`'s values and limits, at every depth."""
    found = set()

    def walk(s):
        for cond in s["from"]["conds"][::2] + s["where"][::2] + s["having"][::2]:
            for value in cond[3:]:
                if isinstance(value, dict):
                    walk(value)
                elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    found.add(format_value(value))
        if s["limit"] is not None:
            found.add(format_number(s["limit"]))
        for kind, unit in s["from"]["table_units"]:
            if kind == "sql":
                walk(unit)
        for op in IUE_OPS:
            if s[op]:
                walk(s[op])
    walk(sql)
    return found
