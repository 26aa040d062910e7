"""BERT tokenisation with the exact character span of every token, and sliding windows.

Built on bert4keras's `Tokenizer` (its vocabulary handling, character classes and WordPiece), but
tokenising character by character so that every token keeps the half-open span [start, end) of the
*original* text it came from. Spaces and control characters belong to no token. A word that WordPiece
cannot split becomes one `[UNK]` token spanning the whole word, as in BERT.

Lower-casing is done per character (bert4keras lower-cases the whole string), so the tokens equal
bert4keras's for every text except context-dependent lower-casing (a Greek final sigma), where
ours are the ones that keep their offsets.
"""
import bisect
import unicodedata
from dataclasses import dataclass

import numpy as np

CACHE_TEXTS = 200_000  # texts kept by encode_cached: the DuIE train set (~171k) fits, memory stays bounded


@dataclass
class Encoding:
    """Tokens of one text without [CLS]/[SEP]; offsets[i] = (start, end) of token i in the text."""
    tokens: list
    ids: list
    offsets: list

    def __len__(self):
        return len(self.ids)


class OffsetTokenizer:
    def __init__(self, vocab_path, lower=True, word_maxlen=200):
        from common import backend
        backend.setup()
        from bert4keras.tokenizers import Tokenizer, load_vocab

        self.vocab = load_vocab(vocab_path)
        self._bert = Tokenizer(self.vocab, do_lower_case=lower, word_maxlen=word_maxlen)
        self.lower = lower
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in self.vocab]
        if missing:
            raise ValueError(f"{vocab_path}: vocabulary lacks {', '.join(missing)}")
        self.pad_id, self.unk_id = self.vocab["[PAD]"], self.vocab["[UNK]"]
        self.cls_id, self.sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        self._cache = {}

    def _normalise(self, ch):
        if not self.lower:
            return ch
        text = unicodedata.normalize("NFD", ch.lower())
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    def encode(self, text):
        """Tokenise `text` (no [CLS]/[SEP]); returns an Encoding with exact character offsets."""
        bert = self._bert
        tokens, offsets = [], []
        word = []  # (normalised character, index in text)

        def flush():
            if not word:
                return
            chars = "".join(c for c, _ in word)
            pieces = bert._word_piece_tokenize(chars)
            if len(pieces) == 1 and pieces[0] == chars and chars not in self.vocab:
                pieces = None  # unsplittable: one [UNK] for the whole word
            if pieces is None:
                tokens.append("[UNK]")
                offsets.append((word[0][1], word[-1][1] + 1))
            else:
                at = 0
                for piece in pieces:
                    n = len(bert.stem(piece))
                    tokens.append(piece)
                    offsets.append((word[at][1], word[at + n - 1][1] + 1))
                    at += n
            word.clear()

        for i, original in enumerate(text):
            for ch in self._normalise(original):
                if bert._is_punctuation(ch) or bert._is_cjk_character(ch):
                    flush()
                    tokens.append(ch)
                    offsets.append((i, i + 1))
                elif bert._is_space(ch):
                    flush()
                elif ord(ch) == 0 or ord(ch) == 0xFFFD or bert._is_control(ch):
                    continue
                else:
                    word.append((ch, i))
        flush()
        ids = [self.vocab.get(t, self.unk_id) for t in tokens]
        return Encoding(tokens, ids, offsets)

    def encode_cached(self, text):
        """encode() memoised per text: tracks encode the same text once per epoch and per window."""
        enc = self._cache.get(text)
        if enc is None:
            if len(self._cache) > CACHE_TEXTS:
                self._cache.clear()
            enc = self._cache[text] = self.encode(text)
        return enc

    def wrap(self, ids_a, ids_b=None):
        """[CLS] a [SEP] (b [SEP]) -> (token_ids, segment_ids)."""
        token_ids = [self.cls_id, *ids_a, self.sep_id]
        segment_ids = [0] * len(token_ids)
        if ids_b is not None:
            token_ids += [*ids_b, self.sep_id]
            segment_ids += [1] * (len(ids_b) + 1)
        return token_ids, segment_ids


def pad(rows, value=0):
    """int32 array (len(rows), longest row): each row left-aligned, the rest filled with `value`."""
    out = np.full((len(rows), max(len(row) for row in rows)), value, dtype="int32")
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def sentence_inputs(rows, pad_id=0):
    """Model inputs [token_ids, segment_ids] of a batch of single-sentence rows (segment 0)."""
    token_ids = pad(rows, pad_id)
    return [token_ids, np.zeros_like(token_ids)]


def char_to_token_span(offsets, start, end):
    """Tokens [first, last] (inclusive) that overlap characters [start, end); None if none does."""
    ends = [e for _, e in offsets]
    first = bisect.bisect_right(ends, start)
    if first >= len(offsets) or offsets[first][0] >= end:
        return None
    last = first
    while last + 1 < len(offsets) and offsets[last + 1][0] < end:
        last += 1
    return first, last


def is_exact(offsets, first, last, start, end):
    """True when tokens first..last cover exactly the characters [start, end)."""
    return offsets[first][0] == start and offsets[last][1] == end


def windows(n_tokens, size, step):
    """(start, end) token ranges of windows of at most `size` tokens, one starting every `step` tokens,
    covering [0, n_tokens). Any span of at most size - step + 1 tokens lies whole in some window.
    The last window ends at n_tokens."""
    if size <= 0 or not 0 < step <= size:
        raise ValueError(f"need size > 0 and 0 < step <= size, got size={size}, step={step}")
    spans, start = [], 0
    while True:
        end = min(start + size, n_tokens)
        spans.append((start, end))
        if end >= n_tokens:
            return spans
        start += step


def sentence_windows(n_tokens, maxlen, step=0):
    """Windows of a single-sentence input: room for [CLS] and [SEP] in `maxlen`, one starting every
    `step` tokens (0: half a window), covering at least one token."""
    size = max(maxlen - 2, 1)
    step = min(step, size) if step else max(size // 2, 1)
    return windows(max(n_tokens, 1), size, step)


def find_all(text, sub):
    """Start offsets of every (possibly overlapping) occurrence of `sub` in `text`."""
    found, at = [], text.find(sub)
    while at != -1 and sub:
        found.append(at)
        at = text.find(sub, at + 1)
    return found


class SpanIndex:
    """Token spans of character spans by binary search: O(log n) per lookup on a text of n tokens
    (`char_to_token_span` scans the offsets), so long texts with many occurrences stay fast."""

    def __init__(self, offsets):
        self.starts = np.fromiter((s for s, _ in offsets), dtype=np.int64, count=len(offsets))
        self.ends = np.fromiter((e for _, e in offsets), dtype=np.int64, count=len(offsets))

    def overlapping(self, start, end):
        """Tokens [first, last] overlapping characters [start, end), as char_to_token_span; None if none."""
        first = int(np.searchsorted(self.ends, start, side="right"))
        if first >= len(self.starts) or self.starts[first] >= end:
            return None
        return first, int(np.searchsorted(self.starts, end, side="left")) - 1

    def exact(self, char_starts, length):
        """[(first, last)] token spans covering exactly [s, s + length), for each s of `char_starts`
        whose characters whole tokens cover (others are left out)."""
        n = len(self.starts)
        starts = np.asarray(char_starts, dtype=np.int64)
        if not n or not len(starts):
            return []
        first = np.searchsorted(self.starts, starts, side="left")
        last = np.searchsorted(self.ends, starts + length, side="right") - 1
        ok = (first < n) & (last >= 0) & (first <= last)
        ok[ok] &= (self.starts[first[ok]] == starts[ok]) & (self.ends[last[ok]] == starts[ok] + length)
        return list(zip(first[ok].tolist(), last[ok].tolist()))
