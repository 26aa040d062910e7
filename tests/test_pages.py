"""HTML pages, read back with the standard library's parser: every token coloured, no external
resource, one table row per class, escaping, and the gold/prediction differences."""
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from common.explain import Attribution
from common.pages import (Block, Item, attribution_colour, class_row, compare, explanation_page,
                          report_page, write_page)

HOSTILE = '<script>alert("x")</script> & "quoted" \'single\' \x00\x85'
SHOWN = HOSTILE.replace("\x00", "\ufffd").replace("\x85", "\ufffd")  # control characters are not HTML


class Elements(HTMLParser):
    """Every element with its tag, attrs, the text directly inside it ("text") and all the text
    inside it ("all"); plus the contents of <script> and <style>."""

    def __init__(self, document):
        super().__init__(convert_charrefs=True)
        self.elements, self.open, self.scripts, self.styles = [], [], [], []
        self.feed(document)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "all": ""}
        self.elements.append(element)
        if tag not in ("br", "meta", "input", "img", "link"):
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self.open:
            element["all"] += data
        if self.open:
            self.open[-1]["text"] += data
            if self.open[-1]["tag"] == "script":
                self.scripts.append(data)
            if self.open[-1]["tag"] == "style":
                self.styles.append(data)

    def with_class(self, name):
        return [e for e in self.elements if name in e["attrs"].get("class", "").split()]


def _external_references(document):
    parsed = Elements(document)
    found = [v for e in parsed.elements for k, v in e["attrs"].items()
             if k in ("src", "href") or (k == "style" and "url(" in v)]
    found += re.findall(r"url\([^)]*\)|@import", " ".join(parsed.styles))
    found += [e["tag"] for e in parsed.elements if e["tag"] in ("link", "img", "iframe", "object", "embed")]
    found += [e["attrs"]["src"] for e in parsed.elements if e["tag"] == "script" and "src" in e["attrs"]]
    return found


def _items():
    text = "NBA 2019赛季 范冰冰"
    tokens = ["[CLS]", "nba", "2019", "赛", "季", "范", "冰", "冰", "[SEP]"]
    offsets = [None, (0, 3), (4, 8), (8, 9), (9, 10), (11, 12), (12, 13), (13, 14), None]
    positive = Attribution(np.array([0.0, 0.5, -0.25, 0.1, 0.0, 2.0, 0.3, 0.3, -0.05]), 1.2, -1.7, 0.0004)
    hostile = Block(HOSTILE, [0.1] * len(tokens), completeness_error=0.2)
    return [Item("first " + HOSTILE, tokens, [Block.of("SPO (杨阳, 获奖, 飞天奖)", positive), hostile],
                 offsets, text),
            Item("", ["[CLS]", "hel", "##lo", HOSTILE, "[SEP]"], [Block("reply token 好", [1, -1, 0, 0.5, 0])])]


def test_every_token_of_every_block_is_shown_with_its_colour_and_value():
    items = _items()
    parsed = Elements(explanation_page("解释 " + HOSTILE, items))
    spans = parsed.with_class("tok")
    assert len(spans) == sum(len(item.tokens) * len(item.blocks) for item in items)
    for span in spans:
        assert re.fullmatch(r"background:#[0-9a-f]{6};color:#[0-9a-f]{6}", span["attrs"]["style"])
    first = spans[:9]
    # the text's own spelling and spacing: NBA (not nba), a space before 2019 and before 范
    assert "".join(s["text"] for s in first[1:-1]) == "NBA2019赛季范冰冰"
    assert parsed.with_class("tokens")[0]["all"] == "[CLS]NBA 2019赛季 范冰冰[SEP]"
    # normalised per block by the largest |attribution| (2.0 at 范): 范 is full red, -0.25 is light blue
    assert first[5]["attrs"]["style"].startswith("background:#ff0000")
    assert first[2]["attrs"]["style"].startswith("background:" + attribution_colour(-0.125))
    assert first[0]["attrs"]["style"].startswith("background:#ffffff")
    assert first[5]["attrs"]["title"] == "范: +2"
    assert first[2]["attrs"]["title"] == "2019: -0.25"
    assert [s["text"] for s in spans[-5:]] == ["[CLS]", "hel", "lo", SHOWN, "[SEP]"]
    assert [s["attrs"]["class"] for s in spans[-5:]] == ["tok special", "tok", "tok", "tok", "tok special"]


def test_each_block_shows_its_completeness_error_and_flags_a_large_one():
    parsed = Elements(explanation_page("t", _items()))
    stats = [s for s in parsed.with_class("stats")]
    assert len(stats) == 3
    assert "completeness error 0.04%" in stats[0]["text"]
    assert "F(x) = 1.2" in stats[0]["text"] and "F(baseline) = -1.7" in stats[0]["text"]
    assert [w["text"] for w in parsed.with_class("warn")] == ["completeness error 20%"]
    labels = [label["text"] for label in parsed.with_class("label")]
    assert labels == ["SPO (杨阳, 获奖, 飞天奖)", SHOWN, "reply token 好"]


def test_attribution_colours_run_from_blue_through_white_to_red():
    assert [attribution_colour(v) for v in (-1, -0.5, 0, 0.5, 1, 7, float("nan"))] == [
        "#0000ff", "#8080ff", "#ffffff", "#ff8080", "#ff0000", "#ff0000", "#ffffff"]


def test_a_block_that_does_not_match_its_tokens_is_refused():
    item = Item("x", ["[CLS]", "a", "[SEP]"], [Block("label", [0.1, 0.2])])
    with pytest.raises(ValueError, match="2 attributions for 3 tokens"):
        explanation_page("t", [item])


def _report():
    classes = [("人物", 8, 2, 2), {"name": "地点", "tp": 0, "fp": 0, "fn": 3},
               ("作品 " + HOSTILE, 1, 3, 0)]
    examples = [("a", "范冰冰主演了电影", ["范冰冰"], "范冰", 0.8),
                ("b", HOSTILE, [("杨阳", "获奖", "飞天奖"), ("杨阳", "国籍", "中国")],
                 [("杨阳", "获奖", "飞天奖"), ("杨阳", "获奖", HOSTILE)], 0.5),
                {"id": "c", "text": "完美", "gold": "对", "pred": "对", "score": 1.0}]
    return report_page("报告 " + HOSTILE, {"f1": 0.61234, "precision": 0.7, "recall": 0.55, "n": 3},
                       classes, examples, max_examples=2)


def test_report_has_the_metric_line_one_row_per_class_and_a_sorting_script():
    parsed = Elements(_report())
    assert parsed.with_class("metrics")[0]["tag"] == "p"
    assert parsed.with_class("metrics")[0]["all"] == "f10.6123precision0.7000recall0.5500n3"
    table = parsed.with_class("classes")[0]
    assert "sortable" in table["attrs"]["class"].split()
    start = parsed.elements.index(table)
    rows = [e for e in parsed.elements[start:] if e["tag"] == "tr"][:4]  # header row + class rows
    cells = [e for e in parsed.elements[start:] if e["tag"] == "td"]
    assert len(rows) == 4 and len([e for e in parsed.elements if e["tag"] == "tr"]) == 4 + 3
    people = [c["attrs"]["data-sort"] for c in cells[:8]]
    assert people == ["人物", "0.800000", "0.800000", "0.800000", "10", "8", "2", "2"]
    assert [c["attrs"]["data-sort"] for c in cells[8:12]] == ["地点", "0.000000", "0.000000", "0.000000"]
    assert cells[16]["attrs"]["data-sort"] == "作品 " + SHOWN
    assert len(parsed.scripts) == 1
    assert "table.sortable" in parsed.scripts[0] and "addEventListener(\"click\"" in parsed.scripts[0]
    assert len(parsed.with_class("bar")) == 3 * 3


def test_report_shows_the_worst_examples_first_with_their_differences_marked():
    document = _report()
    parsed = Elements(document)
    table = parsed.with_class("examples")[0]
    ids = [e["text"] for e in parsed.elements[parsed.elements.index(table):] if e["tag"] == "td"][::4]
    assert ids == ["b", "a"]  # scores 0.5 then 0.8; the perfect example is past max_examples
    assert [e["text"] for e in parsed.with_class("missing") if e["tag"] == "li"] == ["(杨阳, 国籍, 中国)"]
    assert [e["text"] for e in parsed.with_class("spurious") if e["tag"] == "li"] == [f"(杨阳, 获奖, {SHOWN})"]
    assert [e["text"] for e in parsed.with_class("missing") if e["tag"] == "del"][1:] == ["冰"]  # [0]: the key


def test_text_from_data_never_becomes_markup():
    for document in (explanation_page(HOSTILE, _items()), _report()):
        parsed = Elements(document)
        assert len([e for e in parsed.elements if e["tag"] == "script"]) <= 1
        assert not any("alert" in script for script in parsed.scripts)
        assert '<script>alert' not in document and "&lt;script&gt;alert(&quot;x&quot;)" in document
        assert parsed.elements[0]["tag"] == "html" and 'charset="utf-8"' in document
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", document)


def test_pages_reference_nothing_outside_themselves():
    for document in (explanation_page("t", _items()), _report()):
        assert _external_references(document) == []
        parsed = Elements(document)
        assert not any("http" in s or "//" in s for s in parsed.scripts + parsed.styles)
        assert "Noto Sans CJK SC" in " ".join(parsed.styles)


def test_compare_strings_character_by_character():
    gold, pred = compare("范冰冰女士", "范冰冰小姐")
    assert gold == '范冰冰<del class="missing">女士</del>'
    assert pred == '范冰冰<ins class="spurious">小姐</ins>'
    assert compare("<a>", "<a>") == ("&lt;a&gt;", "&lt;a&gt;")
    assert "(empty)" in compare("", "x")[0]


def test_compare_a_string_with_several_accepted_answers_uses_the_closest():
    gold, pred = compare(["北京", "北京市中心", "北京市"], "北京市区")
    assert gold.startswith("北京市") and "also accepted: 北京 · 北京市中心" in gold
    assert pred == '北京市<ins class="spurious">区</ins>'


def test_compare_collections_as_multisets_of_items():
    gold, pred = compare([("a", "b"), ("a", "b"), {"role": "时间", "argument": "昨天"}], {("a", "b"), "c"})
    assert gold == ('<ul><li>(a, b)</li><li class="missing">(a, b)</li>'
                    '<li class="missing">{role: 时间, argument: 昨天}</li></ul>')
    assert sorted(re.findall(r"<li[^>]*>[^<]*</li>", pred)) == ['<li class="spurious">c</li>', "<li>(a, b)</li>"]
    assert "(none)" in compare([], [])[0]


def test_class_rows_from_counts_or_from_scores():
    row = class_row(("x", 3, 1, 2))
    assert (row.precision, row.recall, row.support, row.counts) == (0.75, 0.6, 5, (3, 1, 2))
    assert row.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert class_row({"name": "y", "precision": 0.5, "recall": 1, "f1": 0.667, "support": 4}).counts is None
    with pytest.raises(ValueError, match="class row"):
        class_row(("z", 1, 2))
    with pytest.raises(ValueError, match="example 'q': score must be a number"):
        report_page("t", {}, [], [("q", "text", "a", "b", None)])


def test_write_page_writes_utf8_atomically(tmp_path):
    document = explanation_page("页", _items())
    path = tmp_path / "out" / "page.html"
    write_page(path, document)
    assert path.read_text(encoding="utf-8") == document
    assert os.listdir(path.parent) == ["page.html"]
