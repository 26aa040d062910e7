"""Generated token ids -> one submission line (and the goal the model planned).

Tokens are split into goal and reply at the first [MASK] (dialog.encode), joined back into text
(WordPiece "##" pieces glued, a space only between two Latin words), slot tags filled back with
the sample's own values, and the reply re-segmented with jieba keeping the session's names whole
(`dialog.postprocess.Segmenter`): one line of space-separated words, never empty.

The BERT tokenizer lower-cases, so Latin words come back lower-case; a word that the sample writes
with capitals (a name, "NBA") gets the sample's spelling back. ASCII double quotes (how curly ones are
read and written: dialog.encode) become “ or ” again by where they stand (`curly_quotes`).
"""
import re
from dataclasses import dataclass

from dialog.data import TOPIC_MARK
from dialog.encode import GOAL_END

SPECIAL = frozenset({"[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"})
_LATIN = re.compile(r"[0-9A-Za-z]")
_LATIN_WORD = re.compile(r"[0-9A-Za-z]+(?:['.\-][0-9A-Za-z]+)*")


@dataclass
class Reply:
    line: str          # the submission line
    goal_type: str     # the goal the model wrote before the reply ("" if it wrote none)
    goal_topic: str


def tokens_text(tokens):
    """Token strings -> text: "##" pieces glued to the previous token, special tokens dropped, a
    space between two Latin words."""
    text = ""
    for token in tokens:
        if token in SPECIAL:
            continue
        if token.startswith("##") and len(token) > 2:
            text += token[2:]
        elif text and _LATIN.match(text[-1]) and _LATIN.match(token[0]):
            text += " " + token
        else:
            text += token
    return text


def spellings(texts):
    """{lower-case Latin word: its spelling with capitals} of the words written with capitals in `texts`."""
    found = {}
    for text in texts:
        for word in _LATIN_WORD.findall(text):
            if word != word.lower():
                found.setdefault(word.lower(), word)
    return found


def restore_case(text, spelled):
    if not spelled:
        return text
    return _LATIN_WORD.sub(lambda m: spelled.get(m.group(0).lower(), m.group(0)), text)


CLOSES_BEFORE = frozenset("，。！？；、：,.!?;:）)」』》")   # a quote before these closes
CLOSES_AFTER = frozenset("。！？!?…")                   # and so does one after the end of a sentence


def curly_quotes(text):
    """'"' -> “ or ”: closing before punctuation, at the end, or after a sentence's end; else
    opening unless a quote is open. (References hold unpaired quotes too: 站 起来 ” 。)"""
    out, is_open = [], False
    for i, ch in enumerate(text):
        if ch != '"':
            out.append(ch)
            continue
        before = next((c for c in reversed(text[:i]) if c != " "), "")
        after = next((c for c in text[i + 1:] if c != " "), "")
        closing = not after or after in CLOSES_BEFORE or before in CLOSES_AFTER or is_open
        out.append("”" if closing else "“")
        is_open = not closing
    return "".join(out)


def decode_reply(example, tokens, segmenter, spelled=None):
    """Reply of one example from its generated token strings."""
    if GOAL_END in tokens:
        at = tokens.index(GOAL_END)
        goal, reply = tokens_text(tokens[:at]), tokens_text(tokens[at + 1:])
    else:
        goal, reply = "", tokens_text(tokens)
    goal_type, _, topic = goal.partition(TOPIC_MARK)
    if example.slots is not None:
        reply, topic = example.slots.fill(reply), example.slots.fill(topic)
    reply = curly_quotes(restore_case(reply, spelled or {}))
    return Reply(segmenter(reply, example.names), goal_type.strip(), topic.strip())
