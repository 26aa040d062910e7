import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from common.tokenize import char_to_token_span, find_all, pad, sentence_inputs, sentence_windows, windows

ALPHABET = list("北京是中国的首都上海大城市三体作者刘慈欣《》，。：？！“”（）、")
ALPHABET += list("abcXYZnbahelloworld0123456789２０ＡＢｃé -_.,!?()[]#$%\t\n") + ["\u200b", "\x00", "\u3000", "ﬁ", "İ"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory, tf):
    """A vocab of these texts only: which words are whole tokens is then known."""
    from common.tiny_bert import write_vocab
    from common.tokenize import OffsetTokenizer
    path = tmp_path_factory.mktemp("tokenize") / "vocab.txt"
    write_vocab(path, ["北京是中国的首都，上海是一个大城市。", "《三体》的作者是刘慈欣", "NBA 2019赛季 hello world ２０２０年"])
    return OffsetTokenizer(str(path))


def normalise(tokenizer, text):
    return "".join(c for ch in text for c in tokenizer._normalise(ch)
                   if not (tokenizer._bert._is_space(c) or tokenizer._bert._is_control(c)
                           or ord(c) in (0, 0xFFFD)))


def test_offsets_of_mixed_text(tokenizer):
    text = "《三体》作者 Hello world，NBA2019赛季 ２０２０年\t[UNK] é"
    enc = tokenizer.encode(text)
    pieces = [text[s:e] for s, e in enc.offsets]
    assert pieces[:4] == ["《", "三", "体", "》"]
    assert "Hello" in pieces and "world" in pieces and "，" in pieces
    assert enc.tokens[pieces.index("Hello")] == "hello"
    assert "".join(pieces[pieces.index("NBA"):pieces.index("赛")]) == "NBA2019"
    # full-width digits are not folded to ASCII (no NFKC): one WordPiece per character, offsets exact
    at = pieces.index("２")
    assert pieces[at:at + 4] == ["２", "０", "２", "０"] and enc.tokens[at:at + 4] == ["２", "##０", "##２", "##０"]
    assert pieces[-1] == "é" and enc.tokens[-1] == "e"
    assert "[" in pieces and "]" in pieces  # a literal "[UNK]" in text is text, not the special token
    assert len(enc.ids) == len(enc.tokens) == len(enc.offsets)


def test_unknown_word_is_one_unk_spanning_it(tokenizer):
    text = "北京 qqqqzzzz 上海"  # q and z are not in the tiny vocab
    enc = tokenizer.encode(text)
    unk = enc.tokens.index("[UNK]")
    assert text[slice(*enc.offsets[unk])] == "qqqqzzzz"
    assert enc.ids[unk] == tokenizer.unk_id


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_offsets_property(tokenizer, text):
    enc = tokenizer.encode(text)
    previous_end = 0
    for token, (start, end) in zip(enc.tokens, enc.offsets):
        assert 0 <= start < end <= len(text)
        assert start >= previous_end or unicodedata.normalize("NFD", text[start]) != text[start]
        previous_end = end
        if token != "[UNK]":
            assert normalise(tokenizer, text[start:end]) == tokenizer._bert.stem(token)
    # every character that is not space/control lies in some token
    covered = {i for s, e in enc.offsets for i in range(s, e)}
    for i, ch in enumerate(text):
        if normalise(tokenizer, ch):
            assert i in covered, (text, i)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=[c for c in ALPHABET if c not in "İ"], max_size=40))
def test_ids_equal_bert4keras(tokenizer, text):
    # bert4keras keeps an unsplittable word as its own string (looked up as [UNK]); ids agree
    assert tokenizer.encode(text).ids == tokenizer._bert.encode(text)[0][1:-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=40), st.data())
def test_char_token_span_round_trip(tokenizer, text, data):
    enc = tokenizer.encode(text)
    if not enc.offsets:
        return
    first = data.draw(st.integers(0, len(enc.offsets) - 1))
    last = data.draw(st.integers(first, len(enc.offsets) - 1))
    start, end = enc.offsets[first][0], enc.offsets[last][1]  # the characters tokens first..last cover
    assert char_to_token_span(enc.offsets, start, end) == (first, last)


def test_char_span_inside_a_token_and_in_gaps():
    offsets = [(0, 1), (1, 5), (6, 7)]  # "a" "bcde" " " "f"
    assert char_to_token_span(offsets, 2, 3) == (1, 1)
    assert char_to_token_span(offsets, 5, 6) is None  # only the space
    assert char_to_token_span(offsets, 4, 7) == (1, 2)
    assert char_to_token_span(offsets, 7, 8) is None


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 300), st.integers(1, 64), st.data())
def test_windows_cover_every_short_span(n, size, data):
    step = data.draw(st.integers(1, size))
    spans = windows(n, size, step)
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(0 < e - s <= size or n == 0 for s, e in spans)
    longest = size - step + 1
    for start in range(n):
        end = min(start + longest, n)
        assert any(s <= start and end <= e for s, e in spans)


def test_windows_reject_a_bad_step():
    with pytest.raises(ValueError):
        windows(10, 4, 5)
    with pytest.raises(ValueError):
        windows(10, 4, 0)


def test_find_all_overlapping():
    assert find_all("aaaa", "aa") == [0, 1, 2]
    assert find_all("abc", "") == []


def test_sentence_windows_leave_room_for_cls_sep_and_default_to_half_overlap():
    assert sentence_windows(5, maxlen=10) == [(0, 5)]
    assert sentence_windows(0, maxlen=10) == [(0, 1)]
    assert sentence_windows(20, maxlen=10) == [(0, 8), (4, 12), (8, 16), (12, 20)]
    assert sentence_windows(20, maxlen=10, step=6) == [(0, 8), (6, 14), (12, 20)]
    assert sentence_windows(20, maxlen=10, step=50) == [(0, 8), (8, 16), (16, 20)]


def test_pad_and_sentence_inputs():
    padded = pad([[5, 6, 7], [8]], value=9)
    assert padded.dtype == "int32" and padded.tolist() == [[5, 6, 7], [8, 9, 9]]
    token_ids, segment_ids = sentence_inputs([[2, 5, 3], [2, 3]])
    assert token_ids.tolist() == [[2, 5, 3], [2, 3, 0]] and segment_ids.tolist() == [[0, 0, 0], [0, 0, 0]]
