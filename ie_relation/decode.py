"""Score matrices -> SPOs: the one decoder used by evaluation during training, predict and the oracle.

Per window (`window_spos`): the cells above threshold give subject spans (channel 0) and object spans
(channel 1), at most `max_spans` of each, best first, inside the window's tokens. A subject s and an
object o form (s, predicate, o) when both the head link and the tail link of (predicate, "@value",
"subject") join them. An extra slot k of that predicate takes the object span v when v is linked,
heads and tails, both from s by (predicate, k, "subject") and from o by (predicate, k, "@value"). A
slot with several such values yields one SPO per value (a product over the slots). Links are read from
the scores at the kept spans only (a `Selection`: the spans and the links between them), never
enumerated over the whole window, and a window yields at most `max_spos` SPOs: an untrained model that
scores every cell positive costs a window a few milliseconds. At predict time the model's graph makes
the Selection (ie_relation.model.build_selector), so the dense (channels, L, L) scores never leave it. The SPOs leave the window as character spans (through the window's token offsets).

Per record (`merge`): the SPOs of its windows are united in first-seen order, at most
`max_record_spos` of them, and every string is a slice of the original text. Windows arrive one at a
time, so a long text never holds more than its capped SPOs.

numpy only (no TensorFlow import here); the model is run by ie_relation.track.
"""
import itertools

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


def entity_spans(scores, channel, n_positions, threshold, max_spans):
    """(heads, tails): int arrays of the spans of `channel` above threshold with 1 <= head <= tail <=
    n_positions (never [CLS], [SEP] or padding), at most `max_spans`, best first, then sorted by position."""
    block = scores[channel, 1:n_positions + 1, 1:n_positions + 1]
    heads, tails = np.nonzero(np.triu(block > threshold))
    if len(heads) > max_spans:
        best = np.argsort(-block[heads, tails], kind="stable")[:max_spans]
        heads, tails = heads[best], tails[best]
    order = np.lexsort((tails, heads))
    return heads[order] + 1, tails[order] + 1


class Selection:
    """What the SPOs of one window are read from: its kept subject and object spans ((heads, tails)
    int arrays, from `entity_spans`) and, for every link type l (schema.link_index), whether subject i
    is linked to object j (`subject_object[l, i, j]`) and object i to object j (`object_object[l, i, j]`),
    heads and tails both above the link threshold. `select` makes it from dense scores; the model's
    graph makes the same from a batch (ie_relation.model.build_selector), so only this leaves it."""

    def __init__(self, subjects, objects, subject_object, object_object):
        self.subjects, self.objects = subjects, objects
        self.subject_object, self.object_object = subject_object, object_object


def links_between(scores, n_links, a_spans, b_spans, threshold):
    """(n_links, len(a), len(b)) bool: span a linked to span b, head-head and tail-tail, for every link type."""
    (a_heads, a_tails), (b_heads, b_tails) = a_spans, b_spans
    heads = scores[N_ENTITY_CHANNELS:N_ENTITY_CHANNELS + n_links]
    tails = scores[N_ENTITY_CHANNELS + n_links:N_ENTITY_CHANNELS + 2 * n_links]
    return ((heads[:, a_heads[:, None], b_heads[None, :]] > threshold)
            & (tails[:, a_tails[:, None], b_tails[None, :]] > threshold))


def select(scores, n_positions, n_links, max_spans, entity_threshold=0.0, link_threshold=0.0):
    """Dense scores (channels, L, L) of one window with `n_positions` tokens -> its Selection."""
    subjects = entity_spans(scores, SUBJECT, n_positions, entity_threshold, max_spans)
    objects = entity_spans(scores, OBJECT, n_positions, entity_threshold, max_spans)
    return Selection(subjects, objects, links_between(scores, n_links, subjects, objects, link_threshold),
                     links_between(scores, n_links, objects, objects, link_threshold))


def window_spos(scores, n_positions, schema, max_spans, max_spos, entity_threshold=0.0, link_threshold=0.0):
    """Dense scores (channels, L, L) of one window with `n_positions` tokens -> at most `max_spos`
    [(predicate, subject span, ((slot, span), ...) sorted by slot)], spans as (head, tail) positions."""
    selection = select(scores, n_positions, schema.n_links, max_spans, entity_threshold, link_threshold)
    return selection_spos(selection, schema, max_spos)


def selection_spos(selection, schema, max_spos):
    """A window's Selection -> its SPOs, as `window_spos`."""
    (s_heads, s_tails), (o_heads, o_tails) = selection.subjects, selection.objects
    if not len(s_heads) or not len(o_heads):
        return []

    def linked(table, links):
        return table[[schema.link_index[link] for link in links]]

    predicates = list(schema.slots)
    main = linked(selection.subject_object, [(p, MAIN, "subject") for p in predicates])
    spans_s = list(zip(s_heads.tolist(), s_tails.tolist()))
    spans_o = list(zip(o_heads.tolist(), o_tails.tolist()))
    found = []
    for p in np.flatnonzero(main.any(axis=(1, 2))).tolist():
        if len(found) >= max_spos:
            break
        predicate, extra_slots = predicates[p], schema.slots[predicates[p]][1:]
        if extra_slots:
            from_subject = linked(selection.subject_object, [(predicate, k, "subject") for k in extra_slots])
            from_object = linked(selection.object_object, [(predicate, k, MAIN) for k in extra_slots])
        for i, j in np.argwhere(main[p])[:max_spos - len(found)].tolist():  # each pair gives >= 1 SPO
            options = [[(MAIN, spans_o[j])]]
            for k, slot in enumerate(extra_slots):
                values = np.flatnonzero(from_subject[k, i] & from_object[k, j]).tolist()
                if values:
                    options.append([(slot, spans_o[v]) for v in values])
            for combination in itertools.product(*options):
                if len(found) >= max_spos:
                    return found
                found.append((predicate, spans_s[i], tuple(sorted(combination))))
    return found


def spo_cells(spo, schema):
    """The (channel, head, tail) cells whose logits made one SPO of `window_spos` (model positions):
    its subject and object spans, the head and tail links of subject to main object, and for each
    extra slot those from the subject and from the main object to its value."""
    predicate, (s_head, s_tail), obj = spo
    slots = dict(obj)
    o_head, o_tail = slots[MAIN]
    cells = [(SUBJECT, s_head, s_tail)] + [(OBJECT, head, tail) for _, (head, tail) in obj]
    joins = [((predicate, MAIN, "subject"), (s_head, s_tail), (o_head, o_tail))]
    for slot, value in obj:
        if slot != MAIN:
            joins += [((predicate, slot, "subject"), (s_head, s_tail), value),
                      ((predicate, slot, MAIN), (o_head, o_tail), value)]
    for link, a, b in joins:
        cells += [(schema.head_channel(link), a[0], b[0]), (schema.tail_channel(link), a[1], b[1])]
    return cells


def char_spos(window, spos):
    """SPOs with model-position spans -> the same with character spans (start, end) of the text."""
    offsets = window.offsets

    def chars(span):
        return offsets[span[0] - 1][0], offsets[span[1] - 1][1]

    return [(predicate, chars(s), tuple((slot, chars(v)) for slot, v in obj)) for predicate, s, obj in spos]


def to_record(text, spo_tuples, schema):
    """Merged SPO tuples of one text -> a submission line (types filled in from the schema)."""
    spo_list = []
    for predicate, subject, obj in spo_tuples:
        obj = dict(obj)
        spo_list.append({"predicate": predicate, "subject": subject,
                         "subject_type": schema.subject_type(predicate),
                         "object": obj, "object_type": schema.object_type(predicate, obj)})
    return {"text": text, "spo_list": spo_list}


def merge(records, windows, window_outputs, schema, max_record_spos):
    """SPOs (character spans, from `char_spos`) of every window -> one submission line per record, in
    record order. `window_outputs` may be lazy: each is used once, as it comes. A record's SPOs are
    united in first-seen order, at most `max_record_spos`."""
    found = {}
    for window, spos in zip(windows, window_outputs):
        kept = found.setdefault(window.record, {})
        text = records[window.record]["text"]
        for predicate, (s0, s1), obj in spos:
            if len(kept) >= max_record_spos:
                break
            kept[predicate, text[s0:s1], tuple((slot, text[a:b]) for slot, (a, b) in obj)] = None
    return [to_record(r["text"], found.get(i, ()), schema) for i, r in enumerate(records)]
