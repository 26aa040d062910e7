"""Self-contained HTML pages: token attributions (`explanation_page`) and evaluation reports
(`report_page`).

A page is one UTF-8 file that needs nothing else: inline CSS, a few lines of inline JavaScript (table
sorting), no external script, style, font or image. Every text that comes from data is escaped.
The font stack lists the common CJK fonts of Linux, macOS and Windows, so Chinese reads well anywhere.
"""
import difflib
import html
import math
import re
from collections import Counter
from dataclasses import dataclass

FONTS = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", '
         '"Microsoft YaHei", "WenQuanYi Micro Hei", "Heiti SC", SimHei, system-ui, sans-serif')

STYLE = """
body { font-family: FONTS; margin: 24px auto; max-width: 1180px; padding: 0 16px; color: #1d1d1f;
       line-height: 1.5; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.note { color: #555; font-size: 13px; }
.item { margin: 18px 0 30px; }
.block { margin: 10px 0; padding: 8px 10px; border: 1px solid #e2e2e2; border-radius: 6px; }
.label { font-weight: 600; }
.stats { color: #555; font-size: 12px; margin-left: 8px; }
.warn { color: #b00020; font-weight: 600; }
.tokens { font-size: 17px; line-height: 2.1; margin-top: 4px; overflow-wrap: anywhere; }
.tok { padding: 2px 0; border-radius: 2px; }
.mark { box-shadow: inset 0 -3px 0 #111; }
.legend .mark { padding: 0 4px; }
.special { font-size: 11px; font-family: monospace; border: 1px solid #bbb; padding: 1px 3px;
           margin: 0 3px; vertical-align: middle; }
.legend { display: inline-flex; align-items: center; gap: 8px; font-size: 12px; color: #444; }
.ramp { width: 220px; height: 12px; border: 1px solid #ccc;
        background: linear-gradient(to right, #0000ff, #ffffff, #ff0000); }
.metrics { font-size: 18px; background: #f4f6fa; padding: 10px 14px; border-radius: 6px; }
.metrics b { margin-right: 4px; }
.metrics span { margin-right: 22px; white-space: nowrap; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 10px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; background: #f4f6fa; }
th[aria-sort="ascending"]::after { content: " ▲"; font-size: 10px; }
th[aria-sort="descending"]::after { content: " ▼"; font-size: 10px; }
.bar { display: inline-block; width: 70px; height: 9px; background: #eee; margin-right: 6px; }
.bar span { display: block; height: 100%; background: #4a7bd0; }
table.examples { width: 100%; }
.examples th, .examples td { text-align: left; }
.text { max-height: 150px; overflow: auto; font-size: 13px; color: #333; white-space: pre-line; }
.side { width: 26%; }
.side ul { margin: 0; padding-left: 18px; }
del.missing, li.missing { background: #ffd7d7; color: #8a0000; text-decoration: none; }
ins.spurious, li.spurious { background: #d4f5d4; color: #005a00; text-decoration: none; }
li.missing { list-style-type: "−  "; }
li.spurious { list-style-type: "+  "; }
.key { font-size: 12px; color: #555; }
.empty { color: #999; font-style: italic; }
""".replace("FONTS", FONTS)

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.querySelectorAll("th");
  headers.forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") === "descending";
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute("data-sort"), y = b.cells[column].getAttribute("data-sort");
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y, "zh") : nx - ny;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


SPECIAL_TOKEN = re.compile(r"\[[A-Za-z]+\]")  # [CLS], [SEP], [PAD], [UNK]: shown as chips without offsets
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def escape(value):
    """Text for HTML content or a quoted attribute; control characters (not allowed in HTML) show as U+FFFD."""
    return CONTROL_CHARACTERS.sub("\ufffd", html.escape(str(value), quote=True))


def page(title, body, script=""):
    """A whole HTML document around `body` (already HTML); `script` is inline JavaScript."""
    script_tag = f"<script>{script}</script>\n" if script else ""
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{escape(title)}</h1>\n{body}\n{script_tag}</body>\n</html>\n")


def write_page(path, document):
    """Write an HTML document atomically (UTF-8)."""
    from common.io import atomic_write
    with atomic_write(path) as f:
        f.write(document)


# Explanations ---------------------------------------------------------------------------------

@dataclass
class Block:
    """One explained prediction: its label and one attribution per token of the item; `marked`:
    indices of the tokens that are the prediction itself (its span), underlined."""
    label: str
    attributions: list
    completeness_error: float = None
    value: float = None
    baseline_value: float = None
    marked: list = None

    @classmethod
    def of(cls, label, result, marked=None):
        """From a `common.explain.Attribution`."""
        return cls(label, list(result.attributions), result.completeness_error, result.value,
                   result.baseline_value, marked)


@dataclass
class Item:
    """One input: its tokens as the model saw them ([CLS] and [SEP] included) and the blocks.

    offsets[i] is (start, end) of token i in `text`, or None for a token that has no characters
    ([CLS], [SEP], [PAD]). With `text`, tokens are shown as the text spells them and the
    characters between tokens (spaces) are kept; without it, the token strings are shown (with a
    space where offsets leave a gap). Attributions must be cut to the tokens (no padding).
    A pair input (question + passage): join the texts, e.g. question + "\n" + passage, and shift
    the passage's offsets by len(question) + 1.
    """
    title: str
    tokens: list
    blocks: list
    offsets: list = None
    text: str = None


def attribution_colour(share):
    """Background for a share in [-1, 1]: blue (negative) through white (0) to red (positive)."""
    share = max(-1.0, min(1.0, float(share))) if math.isfinite(share) else 0.0
    fade = round(255 * (1 - abs(share)))
    return f"#ff{fade:02x}{fade:02x}" if share >= 0 else f"#{fade:02x}{fade:02x}ff"


def explanation_page(title, items, note=""):
    """HTML page: for each item, one block per prediction with every token coloured by its
    attribution, normalised per block by the largest absolute attribution of that block."""
    legend = ('<div class="legend"><span>negative</span><span class="ramp"></span><span>positive</span>'
              '<span>(per block: colour = attribution / max |attribution| of the block; '
              'hover a token for its value)</span><span class="mark">underlined</span>'
              '<span>the prediction itself, where it is a span</span></div>')
    parts = [f'<p class="note">{escape(note)}</p>' if note else "", legend]
    for number, item in enumerate(items, 1):
        parts.append(_item_html(item, number))
    return page(title, "\n".join(parts))


def _item_html(item, number):
    n = len(item.tokens)
    offsets = item.offsets if item.offsets is not None else [None] * n
    if len(offsets) != n:
        raise ValueError(f"item {item.title!r}: {n} tokens but {len(offsets)} offsets")
    shown = [_token_surface(item, token, offset) for token, offset in zip(item.tokens, offsets)]
    if item.offsets is not None:
        special = [offset is None for offset in offsets]
    else:
        special = [bool(SPECIAL_TOKEN.fullmatch(token)) for token in item.tokens]
    gaps = _gaps(item, offsets)
    blocks = []
    for block in item.blocks:
        values = [float(v) for v in block.attributions]
        if len(values) != n:
            raise ValueError(f"item {item.title!r}, block {block.label!r}: {len(values)} attributions "
                             f"for {n} tokens")
        scale = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
        marked = set(block.marked or ())
        spans = []
        for i, (text, value) in enumerate(zip(shown, values)):
            share = value / scale if scale else 0.0
            ink = "#ffffff" if abs(share) > 0.55 else "#111111"
            kind = ("tok special" if special[i] else "tok") + (" mark" if i in marked else "")
            spans.append(f'{gaps[i]}<span class="{kind}" style="background:{attribution_colour(share)};'
                         f'color:{ink}" title="{escape(item.tokens[i])}: {value:+.4g}">{escape(text)}</span>')
        blocks.append(f'<div class="block"><span class="label">{escape(block.label)}</span>'
                      f'<span class="stats">{_block_stats(block, values, scale)}</span>'
                      f'<div class="tokens">{"".join(spans)}</div></div>')
    heading = escape(item.title) if item.title else f"input {number}"
    return f'<div class="item"><h2>{heading}</h2>{"".join(blocks)}</div>'


def _token_surface(item, token, offset):
    if offset is not None and item.text is not None:
        return item.text[offset[0]:offset[1]]
    return token[2:] if token.startswith("##") and len(token) > 2 else token


def _gaps(item, offsets):
    """What goes before each token: the text between it and the previous token (whitespace
    collapsed to one space, a line break where it holds one), a space where the text is not known,
    nothing inside a word."""
    gaps, previous_end = [], None
    for offset in offsets:
        gap = ""
        if offset is not None and previous_end is not None:
            start = offset[0]
            if start > previous_end:
                gap = item.text[previous_end:start] if item.text is not None else " "
                gap = "<br>" if "\n" in gap else escape(re.sub(r"\s+", " ", gap))  # a new line stays one
            elif start < previous_end:
                gap = "<br>"  # offsets went back: a new segment of the input
        gaps.append(gap)
        previous_end = offset[1] if offset is not None else previous_end
    return gaps


def _block_stats(block, values, scale):
    parts = []
    if block.value is not None and block.baseline_value is not None:
        parts.append(f"F(x) = {block.value:.4g} · F(baseline) = {block.baseline_value:.4g} · "
                     f"sum of attributions = {sum(values):.4g}")
    if block.completeness_error is not None:
        error = f"completeness error {100 * block.completeness_error:.2g}%"
        parts.append(f'<span class="warn">{error}</span>' if block.completeness_error > 0.05 else error)
    parts.append(f"max |attribution| = {scale:.3g}")
    return " · ".join(parts)


# Reports --------------------------------------------------------------------------------------

@dataclass
class ClassRow:
    name: str
    precision: float
    recall: float
    f1: float
    support: int
    counts: tuple = None  # (tp, fp, fn) when known


def class_row(row):
    """A ClassRow from (name, tp, fp, fn), (name, precision, recall, f1, support), or a dict with
    'name' and either 'tp'/'fp'/'fn' or 'precision'/'recall'/'f1'/'support'."""
    if isinstance(row, ClassRow):
        return row
    if isinstance(row, dict):
        if {"tp", "fp", "fn"} <= set(row):
            row = (row["name"], row["tp"], row["fp"], row["fn"])
        else:
            row = (row["name"], row["precision"], row["recall"], row["f1"], row["support"])
    if len(row) == 4:
        name, tp, fp, fn = row
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return ClassRow(str(name), precision, recall, f1, tp + fn, (tp, fp, fn))
    if len(row) == 5:
        name, precision, recall, f1, support = row
        return ClassRow(str(name), float(precision), float(recall), float(f1), support)
    raise ValueError(f"a class row is (name, tp, fp, fn) or (name, precision, recall, f1, support), got {row!r}")


@dataclass
class Example:
    id: object
    text: str
    gold: object
    pred: object
    score: float


def example_row(row):
    """An Example from (id, text, gold, pred, score) or a dict with those keys."""
    if isinstance(row, Example):
        return row
    if isinstance(row, dict):
        return Example(row["id"], row["text"], row["gold"], row["pred"], row["score"])
    return Example(*row)


def report_page(title, metrics, classes, examples, max_examples=50, note="", class_title="class"):
    """HTML page: the metric line, a sortable per-class table, and the `max_examples` lowest-scored
    examples with gold and prediction side by side, their differences marked.

    metrics: {name: value} in the order to show (the official metric first). classes: rows for
    `class_row`; `class_title` heads their first column. examples: rows for `example_row`; gold and
    pred are strings (compared character by character) or collections of items (compared as
    multisets: missing and spurious items marked).
    """
    metric_line = "".join(f"<span><b>{escape(name)}</b>{escape(_number(value))}</span>"
                          for name, value in metrics.items())
    parts = [f'<p class="metrics">{metric_line}</p>', f'<p class="note">{escape(note)}</p>' if note else ""]
    rows = [class_row(row) for row in classes]
    parts.append(f"<h2>Per class ({len(rows)})</h2>"
                 '<p class="key">click a column header to sort by it (again: reverse)</p>'
                 + _class_table(rows, class_title))
    chosen = sorted((example_row(row) for row in examples), key=_score_key)[:max_examples]
    parts.append(f"<h2>Worst examples ({len(chosen)}, lowest score first)</h2>"
                 '<p class="key">gold: <del class="missing">missing from the prediction</del> · '
                 'prediction: <ins class="spurious">not in the gold</ins></p>' + _example_table(chosen))
    return page(title, "\n".join(parts), SORT_SCRIPT)


def _number(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _score_key(example):
    try:
        return float(example.score)
    except (TypeError, ValueError):
        raise ValueError(f"example {example.id!r}: score must be a number, got {example.score!r}") from None


def _class_table(rows, class_title="class"):
    with_counts = bool(rows) and all(row.counts is not None for row in rows)
    headers = [class_title, "precision", "recall", "F1", "support"] + (["tp", "fp", "fn"] if with_counts else [])
    body = []
    for row in rows:
        cells = [f'<td data-sort="{escape(row.name)}">{escape(row.name)}</td>']
        for value in (row.precision, row.recall, row.f1):
            width = 100 * max(0.0, min(1.0, value))
            cells.append(f'<td data-sort="{value:.6f}"><span class="bar"><span style="width:{width:.1f}%">'
                         f'</span></span>{value:.4f}</td>')
        counts = [row.support] + (list(row.counts) if with_counts else [])
        cells += [f'<td data-sort="{escape(count)}">{escape(count)}</td>' for count in counts]
        body.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (f'<table class="sortable classes"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _example_table(examples):
    body = []
    for example in examples:
        gold, pred = compare(example.gold, example.pred)
        body.append(f'<tr><td>{escape(example.id)}<br><span class="key">score {escape(_number(float(example.score)))}'
                    f'</span></td><td><div class="text">{escape(example.text)}</div></td>'
                    f'<td class="side">{gold}</td><td class="side">{pred}</td></tr>')
    return ('<table class="examples"><thead><tr><th>id</th><th>text</th><th>gold</th><th>prediction</th>'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table>')


def format_item(item):
    """How an item reads on the page: tuples as (a, b, c), dicts as {key: value, ...}."""
    if isinstance(item, str):
        return item
    if item is None:
        return "∅"
    if isinstance(item, dict):
        return "{" + ", ".join(f"{key}: {format_item(value)}" for key, value in item.items()) + "}"
    if isinstance(item, (list, tuple)):
        return "(" + ", ".join(format_item(value) for value in item) + ")"
    return str(item)


def compare(gold, pred):
    """(gold HTML, prediction HTML) with the differences marked.

    Two strings: a character diff. A collection of gold strings (several accepted answers) and one
    predicted string: a character diff against the closest gold answer. Two collections: items
    compared as multisets by how they read (`format_item`). Anything else: its text, diffed.
    """
    if isinstance(gold, str) and isinstance(pred, str):
        return _char_diff(gold, pred)
    if _is_collection(gold) and isinstance(pred, str) and gold and all(isinstance(g, str) for g in gold):
        closest = max(gold, key=lambda g: difflib.SequenceMatcher(None, g, pred, autojunk=False).ratio())
        marked_gold, marked_pred = _char_diff(closest, pred)
        others = list(gold)
        others.remove(closest)
        if others:
            marked_gold += '<br><span class="key">also accepted: ' + " · ".join(escape(g) for g in others) + "</span>"
        return marked_gold, marked_pred
    if _is_collection(gold) and _is_collection(pred):
        return _item_diff(list(gold), list(pred))
    return _char_diff(format_item(gold), format_item(pred))


def _is_collection(value):
    return isinstance(value, (list, tuple, set, frozenset))


def _char_diff(gold, pred):
    if not gold and not pred:
        return '<span class="empty">(empty)</span>', '<span class="empty">(empty)</span>'
    matcher = difflib.SequenceMatcher(None, gold, pred, autojunk=False)
    marked_gold, marked_pred = [], []
    for op, g0, g1, p0, p1 in matcher.get_opcodes():
        if op == "equal":
            marked_gold.append(escape(gold[g0:g1]))
            marked_pred.append(escape(pred[p0:p1]))
            continue
        if g1 > g0:
            marked_gold.append(f'<del class="missing">{escape(gold[g0:g1])}</del>')
        if p1 > p0:
            marked_pred.append(f'<ins class="spurious">{escape(pred[p0:p1])}</ins>')
    empty = '<span class="empty">(empty)</span>'
    return "".join(marked_gold) or empty, "".join(marked_pred) or empty


def _item_diff(gold, pred):
    gold_text, pred_text = [format_item(g) for g in gold], [format_item(p) for p in pred]
    unmatched_pred = Counter(pred_text)
    unmatched_gold = Counter(gold_text)
    gold_marks, pred_marks = [], []
    for text in gold_text:
        found = unmatched_pred[text] > 0
        unmatched_pred[text] -= found
        gold_marks.append(f'<li>{escape(text)}</li>' if found else f'<li class="missing">{escape(text)}</li>')
    for text in pred_text:
        found = unmatched_gold[text] > 0
        unmatched_gold[text] -= found
        pred_marks.append(f'<li>{escape(text)}</li>' if found else f'<li class="spurious">{escape(text)}</li>')
    empty = '<span class="empty">(none)</span>'
    return (f"<ul>{''.join(gold_marks)}</ul>" if gold_marks else empty,
            f"<ul>{''.join(pred_marks)}</ul>" if pred_marks else empty)
