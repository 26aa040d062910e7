"""DuIE 2.0 data: the schema, validated loading, sliding windows and the sparse training targets.

Target layout (one score matrix per channel over the token positions of a window, [CLS] = 0):
- channel 0: subject spans (head, tail); channel 1: object spans, i.e. the value of any object slot;
- channels 2 .. 2+n-1: head-to-head links, one per link type; 2+n .. 2+2n-1: tail-to-tail links.
Link types, from the schema: (predicate, "@value", "subject") joins a subject to its main object, and
each extra slot k of a complex predicate has two, (predicate, k, "subject") from the subject and
(predicate, k, "@value") from the main object to the slot value. The official schema gives 48 + 2 * 7
= 62 link types, 126 channels. See ie_relation/__init__.py for why.

Strings carry no offsets in DuIE, so each value is looked up in the text. A span is usable only if its
tokens cover it exactly (a value that starts or ends inside a token cannot be decoded back and is
counted as lost). In a window every occurrence of an entity string is marked as an entity; the links of
an SPO join the occurrences inside the window that lie closest together, and are only written when the
whole SPO (subject and all slots) fits the window, so a perfect model never emits a truncated SPO.
"""
from dataclasses import dataclass, field

from common.io import DataError, SkipCounter, read_jsonl
from common.tokenize import char_to_token_span, find_all, is_exact, sentence_windows

SUBJECT, OBJECT = 0, 1   # the entity channels
N_ENTITY_CHANNELS = 2    # link channels follow them
MAIN = "@value"


class Schema:
    """The predicates of schema.json and the link types (channels) derived from them."""

    def __init__(self, entries):
        self.entries = {e["predicate"]: e for e in entries}
        self.slots = {p: [MAIN] + sorted(k for k in e["object_type"] if k != MAIN)
                      for p, e in self.entries.items()}
        self.links = []
        for predicate, slots in self.slots.items():
            self.links.append((predicate, MAIN, "subject"))
            for slot in slots[1:]:
                self.links += [(predicate, slot, "subject"), (predicate, slot, MAIN)]
        self.link_index = {link: i for i, link in enumerate(self.links)}

    @property
    def n_links(self):
        return len(self.links)

    @property
    def n_channels(self):
        return N_ENTITY_CHANNELS + 2 * len(self.links)

    def head_channel(self, link):
        return N_ENTITY_CHANNELS + self.link_index[link]

    def tail_channel(self, link):
        return N_ENTITY_CHANNELS + len(self.links) + self.link_index[link]

    def subject_type(self, predicate):
        return self.entries[predicate]["subject_type"]

    def object_type(self, predicate, slots):
        types = self.entries[predicate]["object_type"]
        return {slot: types[slot] for slot in slots}


def load_schema(path):
    entries = []
    for line, obj in read_jsonl(path, required=("predicate", "subject_type", "object_type")):
        types = obj["object_type"]
        if not isinstance(obj["predicate"], str) or not obj["predicate"]:
            raise DataError(path, line, "must be a non-empty string", field="predicate")
        if not isinstance(types, dict) or MAIN not in types:
            raise DataError(path, line, f"must be an object with a '{MAIN}' slot", field="object_type")
        if any(e["predicate"] == obj["predicate"] for e in entries):
            raise DataError(path, line, f"predicate {obj['predicate']!r} listed twice", field="predicate")
        entries.append(obj)
    if not entries:
        raise DataError(path, None, "schema lists no predicate")
    return Schema(entries)


def check_spo(spo, text, schema, where):
    """Yield (field, message) for every problem of one SPO."""
    if not isinstance(spo, dict):
        yield where, "must be an object"
        return
    predicate = spo.get("predicate")
    if predicate not in schema.slots:
        yield f"{where}.predicate", f"unknown predicate {predicate!r} (not in the schema)"
        return
    values = {"subject": spo.get("subject")}
    obj = spo.get("object")
    if not isinstance(obj, dict) or MAIN not in obj:
        yield f"{where}.object", f"must be an object with a '{MAIN}' slot"
        return
    for slot, value in obj.items():
        if slot not in schema.slots[predicate]:
            yield f"{where}.object.{slot}", f"slot not in the schema of predicate {predicate!r}"
        values[f"object.{slot}"] = value
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            yield f"{where}.{name}", "must be a non-empty string"
        elif value not in text:
            yield f"{where}.{name}", f"{value!r} does not occur in the text"


def load_records(path, schema, labelled=True, on_error="raise"):
    """Read a DuIE JSON Lines file -> (records, skip counter). A record is {"text", "spo_list"}
    (spo_list empty when unlabelled). A bad line raises a DataError naming file, line and field, or
    with on_error = "skip" is logged, counted and left out."""
    skip = SkipCounter(on_error)
    records = []
    for line, obj in read_jsonl(path, skip=skip):
        problems = list(_check_record(obj, schema, labelled))
        if problems:
            name, message = problems[0]
            skip(DataError(path, line, message, field=name))
            continue
        records.append({"text": obj["text"], "spo_list": obj["spo_list"] if labelled else []})
    return records, skip


def _check_record(obj, schema, labelled):
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        yield "text", "missing or not a non-empty string"
        return
    if not labelled:
        return
    spo_list = obj.get("spo_list")
    if not isinstance(spo_list, list):
        yield "spo_list", "missing or not a list"
        return
    for i, spo in enumerate(spo_list):
        yield from check_spo(spo, text, schema, f"spo_list[{i}]")


# -- windows and targets ---------------------------------------------------------------------------

@dataclass
class Window:
    """One model input: tokens [start, end) of record `record`, wrapped in [CLS] ... [SEP].

    Model position p (1 <= p <= end - start) is token start + p - 1, whose characters are offsets[p - 1].
    """
    record: int
    token_ids: list
    offsets: list
    targets: list = field(default_factory=list)  # (channel, head position, tail position)

    def __len__(self):
        return len(self.token_ids)


def exact_spans(text, value, offsets):
    """Token spans (first, last) that cover an occurrence of `value` in `text` exactly."""
    spans = []
    for start in find_all(text, value):
        span = char_to_token_span(offsets, start, start + len(value))
        if span is not None and is_exact(offsets, *span, start, start + len(value)):
            spans.append(span)
    return spans


UNALIGNED = "values without an exact token span"
NO_WINDOW = "SPOs in no window whole"


def encode_record(index, record, tokenizer, schema, maxlen, step=0, with_targets=True, lost=None):
    """One record -> its windows (with targets when `with_targets`).

    `lost` (optional Counter) counts what the targets cannot express: values with no exact token span
    anywhere (UNALIGNED), SPOs that fit no window whole (NO_WINDOW).
    """
    text = record["text"]
    encoding = tokenizer.encode_cached(text)
    ranges = sentence_windows(len(encoding), maxlen, step)
    spans = {}
    if with_targets:
        for spo in record["spo_list"]:
            for value in (spo["subject"], *spo["object"].values()):
                if value not in spans:
                    spans[value] = exact_spans(text, value, encoding.offsets)
                    if not spans[value] and lost is not None:
                        lost[UNALIGNED] += 1
    result, placed = [], set()
    for start, end in ranges:
        window = Window(index, tokenizer.wrap(encoding.ids[start:end])[0], encoding.offsets[start:end])
        if with_targets:
            window.targets = window_targets(record, spans, schema, start, end, placed)
        result.append(window)
    if lost is not None and with_targets:
        lost[NO_WINDOW] += len(record["spo_list"]) - len(placed)
    return result


def window_targets(record, spans, schema, start, end, placed):
    """Positive (channel, head, tail) cells of the window covering tokens [start, end)."""
    def inside(value):
        return [(a - start + 1, b - start + 1) for a, b in spans[value] if start <= a and b < end]

    cells = set()
    for i, spo in enumerate(record["spo_list"]):
        predicate, obj = spo["predicate"], spo["object"]
        subjects, mains = inside(spo["subject"]), inside(obj[MAIN])
        extras = {slot: inside(value) for slot, value in obj.items() if slot != MAIN}
        cells.update((SUBJECT, h, t) for h, t in subjects)
        for value_spans in (mains, *extras.values()):
            cells.update((OBJECT, h, t) for h, t in value_spans)
        if not subjects or not mains or not all(extras.values()):
            continue  # the SPO does not fit this window whole: no links here
        s, o = min(((s, o) for s in subjects for o in mains), key=lambda p: (abs(p[0][0] - p[1][0]), p))
        pairs = [((predicate, MAIN, "subject"), s, o)]
        for slot, value_spans in extras.items():
            v = min(value_spans, key=lambda v: (abs(v[0] - s[0]) + abs(v[0] - o[0]), v))
            pairs += [((predicate, slot, "subject"), s, v), ((predicate, slot, MAIN), o, v)]
        for link, a, b in pairs:
            cells.add((schema.head_channel(link), a[0], b[0]))
            cells.add((schema.tail_channel(link), a[1], b[1]))
        placed.add(i)
    return sorted(cells)


def collate_targets(windows, n_channels):
    """Sparse targets of a batch (common.pointer): (batch, channels, k, 2) (head, tail) positions."""
    from common.pointer import sparse_targets
    return sparse_targets([window.targets for window in windows], n_channels)


def encode_records(records, tokenizer, schema, maxlen, step=0, with_targets=True, lost=None):
    """Windows of every record, in record order."""
    return [window for i, record in enumerate(records)
            for window in encode_record(i, record, tokenizer, schema, maxlen, step, with_targets, lost)]
