"""SpanIndex: the binary-search token spans long texts use agree with the scanning helpers."""
import numpy as np

from common.tokenize import SpanIndex, char_to_token_span, is_exact

# tokens of a text like "ab cd的e": words, a gap (a space), single characters, one two-character token
OFFSETS = [(0, 2), (3, 5), (5, 6), (6, 8), (9, 10), (10, 11)]


def test_span_index_agrees_with_char_to_token_span_on_every_character_span():
    index = SpanIndex(OFFSETS)
    for start in range(12):
        for end in range(start + 1, 13):
            span = char_to_token_span(OFFSETS, start, end)
            assert index.overlapping(start, end) == span, (start, end)
            exact = [span] if span and is_exact(OFFSETS, *span, start, end) else []
            assert index.exact([start], end - start) == exact, (start, end)


def test_span_index_looks_up_many_occurrences_at_once():
    offsets = [(i, i + 1) for i in range(100_000)]  # one token per character
    index = SpanIndex(offsets)
    starts = np.arange(0, 100_000, 7)
    assert index.exact(starts, 3) == [(s, s + 2) for s in starts.tolist() if s + 3 <= 100_000]
    assert index.exact([], 3) == [] and SpanIndex([]).exact([0], 1) == [] and SpanIndex([]).overlapping(0, 1) is None
