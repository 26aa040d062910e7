"""Score matrices -> SPOs: the one decoder used by evaluation during training, predict and the oracle.

Per window: the cells above threshold give subject spans (channel 0), object spans (channel 1) and
head-head / tail-tail links (see data.py for the channel layout). A subject s and an object o form
(s, predicate, o) when both the head link and the tail link of (predicate, "@value", "subject") join
them. An extra slot k of that predicate takes the object span v when v is linked, heads and tails, both
from s by (predicate, k, "subject") and from o by (predicate, k, "@value"). A slot with several such
values yields one SPO per value (a product over the slots). Model positions map back to characters
through the window's token offsets, so every string is a slice of the original text.
Windows of one record are merged by set union.

numpy only (no TensorFlow import here); the model is run by ie_relation.track.
"""
import itertools
from collections import defaultdict

import numpy as np

from ie_relation.data import MAIN, N_ENTITY_CHANNELS, OBJECT, SUBJECT


PERFECT, ABSENT = 1.0, -1.0  # an oracle's logits on target cells and everywhere else


def perfect_scores(window, n_channels):
    """The dense scores a perfect model gives a window: its target cells above 0, all others below."""
    size = len(window)
    scores = np.full((n_channels, size, size), ABSENT, dtype="float32")
    for channel, head, tail in window.targets:
        scores[channel, head, tail] = PERFECT
    return scores


def window_cells(scores, max_spans, entity_threshold=0.0, link_threshold=0.0):
    """Dense scores (channels, L, L) of one window -> (entities, links), sets of (channel, a, b) cells.

    Entities: the cells of channels 0/1 above threshold, at most `max_spans` per channel (best first).
    Links: only the cells above threshold that join heads (tails) of those spans - the only link cells the
    decoder can use. This bounds work and memory even for an untrained model that scores almost every
    cell positive (the whole link tensor of a window would be millions of cells).
    """
    entities = set()
    for channel in (SUBJECT, OBJECT):
        heads, tails = np.nonzero(scores[channel] > entity_threshold)
        if len(heads) > max_spans:
            best = np.argsort(-scores[channel, heads, tails], kind="stable")[:max_spans]
            heads, tails = heads[best], tails[best]
        entities.update((channel, int(h), int(t)) for h, t in zip(heads, tails))
    n_links = (scores.shape[0] - N_ENTITY_CHANNELS) // 2
    links = set()
    for first, positions in ((N_ENTITY_CHANNELS, sorted({h for _, h, _ in entities})),
                             (N_ENTITY_CHANNELS + n_links, sorted({t for _, _, t in entities}))):
        if not positions:
            continue
        index = np.asarray(positions)
        block = scores[first:first + n_links][:, index[:, None], index[None, :]] > link_threshold
        for channel, i, j in np.argwhere(block).tolist():
            links.add((first + channel, positions[i], positions[j]))
    return entities, links


def decode_window(entities, links, schema, n_positions, max_spos):
    """Cells of one window -> [(predicate, subject span, {slot: span})], spans as model positions.
    Spans touching [CLS], [SEP] or padding (outside 1..n_positions) are dropped. At most `max_spos`
    SPOs per window (real sentences hold a few dozen at most; an untrained model linking everything
    to everything would otherwise enumerate millions of slot combinations)."""
    def valid(h, t):
        return 1 <= h <= t <= n_positions

    subjects = defaultdict(list)  # head position -> spans
    objects = defaultdict(list)
    for channel, h, t in entities:
        if valid(h, t):
            (subjects if channel == SUBJECT else objects)[h].append((h, t))
    heads, tails = defaultdict(set), defaultdict(set)  # channel -> {(a, b)}
    for channel, a, b in links:
        (heads if channel < N_ENTITY_CHANNELS + schema.n_links else tails)[channel].add((a, b))

    def linked(link, a, b):
        return ((a[0], b[0]) in heads.get(schema.head_channel(link), ())
                and (a[1], b[1]) in tails.get(schema.tail_channel(link), ()))

    found = []
    for predicate, slots in schema.slots.items():
        main_link = (predicate, MAIN, "subject")
        for sh, oh in heads.get(schema.head_channel(main_link), ()):
            for s in subjects.get(sh, ()):
                for o in objects.get(oh, ()):
                    if not linked(main_link, s, o):
                        continue
                    options = [[(MAIN, o)]]
                    for slot in slots[1:]:
                        values = [(slot, v) for spans in objects.values() for v in spans
                                  if linked((predicate, slot, "subject"), s, v)
                                  and linked((predicate, slot, MAIN), o, v)]
                        if values:
                            options.append(values)
                    for combination in itertools.product(*options):
                        if len(found) >= max_spos:
                            return found
                        found.append((predicate, s, dict(combination)))
    return found


def to_strings(window, text, spos):
    """Model-position spans -> strings cut from `text` with the window's offsets."""
    def cut(span):
        return text[window.offsets[span[0] - 1][0]:window.offsets[span[1] - 1][1]]

    return [(predicate, cut(s), tuple((slot, cut(v)) for slot, v in sorted(obj.items())))
            for predicate, s, obj in spos]


def to_record(text, spo_tuples, schema):
    """Merged SPO tuples of one text -> a submission line (types filled in from the schema)."""
    spo_list = []
    for predicate, subject, obj in spo_tuples:
        obj = dict(obj)
        spo_list.append({"predicate": predicate, "subject": subject,
                         "subject_type": schema.subject_type(predicate),
                         "object": obj, "object_type": schema.object_type(predicate, obj)})
    return {"text": text, "spo_list": spo_list}


def merge(records, windows, window_cells_list, schema, max_spos):
    """Decoded cells of every window -> one submission line per record, in record order; the SPOs
    of a record's windows are united, in first-seen order."""
    found = [dict() for _ in records]
    for window, (entities, links) in zip(windows, window_cells_list):
        text = records[window.record]["text"]
        spos = decode_window(entities, links, schema, len(window.offsets), max_spos)
        for spo in to_strings(window, text, spos):
            found[window.record][spo] = None
    return [to_record(r["text"], list(spos), schema) for r, spos in zip(records, found)]
