"""Samples -> model examples: the selected context is the source, "goal | reply" the target.

A training sample and a test input go through the same function, so the model reads at test time
exactly what it was trained on. The context gets `maxlen - max_target_len` tokens ([CLS] and [SEP]
included) and is chosen by `dialog.context.select_context`; the target is the goal (`type ： topic`),
the [MASK] token, the reply and the closing [SEP], cut at `max_target_len` tokens (counted in `lost`).
[MASK] marks the goal's end: every BERT vocabulary has it and no text contains it. With slots, the sample's names are typed tags in context and target alike; the SlotMap
goes with the example so that decoding can fill them back.

The Chinese BERT vocabularies have no curly double quotes (“ ” are [UNK], ~500 times in the
knowledge of 60 real sessions and in 3% of the replies): they are read and written as ASCII '"'
when the vocabulary lacks them, and decoding turns '"' pairs back into “ ” (dialog.decode).
"""
from dataclasses import dataclass, field

from dialog.context import select_context
from dialog.data import goal_text
from dialog.postprocess import names_of
from dialog.slots import SlotCollision, SlotMap, slot_sample

TARGET_CUT = "targets cut at max_target_len"
CURLY_QUOTES = {"“": '"', "”": '"'}
GOAL_END = "[MASK]"
UNSLOTTED = "samples kept without slot tags (their text holds a tag-shaped string)"


@dataclass
class Example:
    index: int                                    # the sample's position among the records
    source: list                                  # [CLS] context [SEP]
    target: list = field(default_factory=list)    # goal | reply [SEP]; [] without targets
    slots: SlotMap = None                         # the tags context and target were written with
    names: list = field(default_factory=list)     # the sample's names, kept whole by re-segmentation


def context_budget(maxlen, max_target_len):
    """Tokens of the context text: what the target and [CLS] ... [SEP] leave of maxlen."""
    return maxlen - max_target_len - 2


def goal_end_id(tokenizer):
    if GOAL_END not in tokenizer.vocab:
        raise ValueError(f"the vocabulary has no {GOAL_END} token (it ends the goal in a target)")
    return tokenizer.vocab[GOAL_END]


def ascii_quotes(text, vocab):
    """Curly double quotes -> '"' when the vocabulary lacks them (one character for one: same length)."""
    for curly, plain in CURLY_QUOTES.items():
        if curly not in vocab and plain in vocab:
            text = text.replace(curly, plain)
    return text


def source_text(sample, tokenizer, maxlen, max_target_len, history_share, slots=False, lost=None):
    """(context text the source encodes, the sample as shown (tags in), its SlotMap or None); `lost`
    counts samples that could not take tags."""
    slot_map, shown = None, sample
    if slots:
        slot_map = SlotMap.build(sample.knowledge, sample.user_profile, sample.goals)
        try:
            shown = slot_sample(sample, slot_map)
        except SlotCollision:
            slot_map = None
            if lost is not None:
                lost[UNSLOTTED] += 1

    def count_tokens(text):
        return len(tokenizer.encode_cached(text))

    context = select_context(shown, count_tokens, context_budget(maxlen, max_target_len), history_share)
    return ascii_quotes(context.text(), tokenizer.vocab), shown, slot_map


def encode_sample(index, sample, tokenizer, maxlen, max_target_len, history_share, slots=False,
                  with_targets=True, lost=None):
    """One Example; `lost` (a Counter) counts cut targets and samples that could not take tags."""
    text, shown, slot_map = source_text(sample, tokenizer, maxlen, max_target_len, history_share, slots, lost)
    source = [tokenizer.cls_id, *tokenizer.encode_cached(text).ids, tokenizer.sep_id]
    target = []
    if with_targets and shown.goal is not None:
        ids = [*tokenizer.encode(goal_text(shown.goal)).ids, goal_end_id(tokenizer),
               *tokenizer.encode(ascii_quotes(shown.response, tokenizer.vocab)).ids]
        if len(ids) > max_target_len - 1:
            ids = ids[:max_target_len - 1]
            if lost is not None:
                lost[TARGET_CUT] += 1
        target = [*ids, tokenizer.sep_id]
    return Example(index, source, target, slot_map, names_of(sample))
