"""DuIE 2.0 data: the schema, validated loading, sliding windows and the sparse training targets.

Target layout (one score matrix per channel over the token positions of a window, [CLS] = 0):
- channel 0: subject spans (head, tail); channel 1: object spans, i.e. the value of any object slot;
- channels 2 .. 2+n-1: head-to-head links, one per link type; 2+n .. 2+2n-1: tail-to-tail links.
Link types, from the schema: (predicate, "@value", "subject") joins a subject to its main object, and
each extra slot k of a complex predicate has two, (predicate, k, "subject") from the subject and
(predicate, k, "@value") from the main object to the slot value. The official schema gives 48 + 2 * 7
= 62 link types, 126 channels. See ie_relation/__init__.py for why.

Strings carry no offsets in DuIE, so each value is looked up in the text (without surrounding spaces,
which no token covers). A span is usable only if its tokens cover it exactly (a value that starts or
ends inside a token cannot be decoded back and is counted as lost). In a window every occurrence of an entity string is marked as an entity; the links of
an SPO join the occurrences inside the window that lie closest together, and are only written when the
whole SPO (subject and all slots) fits the window, so a perfect model never emits a truncated SPO.
"""
import bisect
from dataclasses import dataclass, field

from common.io import DataError, SkipCounter, read_jsonl
from common.tokenize import SpanIndex, find_all, sentence_windows

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


def check_spo(spo, schema, where):
    """(field, message) of the first way one SPO is not of the schema's form (the record is then not
    valid), or None. Its values may still be empty or absent from the text: see value_problem."""
    if not isinstance(spo, dict):
        return where, "must be an object"
    predicate = spo.get("predicate")
    if not isinstance(predicate, str) or predicate not in schema.slots:
        return f"{where}.predicate", f"unknown predicate {predicate!r} (not in the schema)"
    if "subject" not in spo:
        return f"{where}.subject", "missing"
    obj = spo.get("object")
    if not isinstance(obj, dict) or MAIN not in obj:
        return f"{where}.object", f"must be an object with a '{MAIN}' slot"
    for slot in obj:
        if slot not in schema.slots[predicate]:
            return f"{where}.object.{slot}", f"slot not in the schema of predicate {predicate!r}"
    for name, value in spo_values(spo):
        if value is not None and not isinstance(value, str):
            return f"{where}.{name}", f"must be a string, got {type(value).__name__}"
    return None


def spo_values(spo):
    """(field name, value) of the subject and every object slot of a well-formed SPO."""
    return [("subject", spo["subject"]), *((f"object.{slot}", value) for slot, value in spo["object"].items())]


def value_problem(value, text):
    """Why one SPO value cannot be a target, or None. Surrounding spaces are no problem: the target is
    the value without them (tokens never cover a space), when the text holds that."""
    if value is None or not value.strip():
        return "empty"
    if value.strip() not in text:
        return f"{value!r} does not occur in the text"
    return None


SPO = "SPO"                       # SkipCounter kinds of ie_relation's files
SPACED = "spaced value"
DUPLICATE = "duplicate text"


def load_records(path, schema, labelled=True, on_error="raise"):
    """Read a DuIE JSON Lines file -> (records, skip counter), one record per non-blank line.

    A record is {"text", "spo_list"} (spo_list empty when unlabelled). An SPO with an empty value or a
    value that is not in the text is dropped and counted (skips.drop), the rest of the record stays. A
    line that is not a valid record (not JSON, no text, an SPO not of the schema's form) raises a
    DataError naming file, line and field, or with on_error = "skip" is logged, counted and kept as a
    placeholder {"text": its text or "", "spo_list": [], "skipped": True}: it gives no training
    example and no gold, and predict and the oracle answer it with no SPO, so that every input line
    has its output line. Texts are the key of the official metric: a later line with the same text
    replaces an earlier one there (noted in the summary).
    """
    skips = SkipCounter(on_error)
    records, first_line = [], {}
    for line, obj in read_jsonl(path, skip=skips, keep_skipped=True):
        if obj is None:  # not a JSON object: read_jsonl has counted it
            records.append(placeholder(None))
            continue
        try:
            record = _parse_record(obj, schema, labelled, path, line, skips)
        except DataError as error:
            skips(error)
            records.append(placeholder(obj))
            continue
        text = record["text"]
        if text in first_line:
            skips.note(DUPLICATE, DataError(path, line, f"same text as line {first_line[text]} (a later line "
                                            "replaces an earlier one when scoring)", field="text"))
        first_line.setdefault(text, line)
        records.append(record)
    return records, skips


def placeholder(obj):
    """The stand-in of a skipped line: its text if it has one, no SPO, no training example, no gold."""
    text = obj.get("text") if isinstance(obj, dict) else None
    return {"text": text if isinstance(text, str) else "", "spo_list": [], "skipped": True}


def is_placeholder(record):
    return record.get("skipped", False)


def _parse_record(obj, schema, labelled, path, line, skips):
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise DataError(path, line, "missing or not a non-empty string", field="text")
    if not labelled:
        return {"text": text, "spo_list": []}
    spo_list = obj.get("spo_list")
    if not isinstance(spo_list, list):
        raise DataError(path, line, "missing or not a list", field="spo_list")
    kept = []
    for i, spo in enumerate(spo_list):
        where = f"spo_list[{i}]"
        problem = check_spo(spo, schema, where)
        if problem:
            raise DataError(path, line, problem[1], field=problem[0])
        bad = [(name, why) for name, value in spo_values(spo) if (why := value_problem(value, text))]
        if bad:
            name, why = bad[0]
            skips.drop(SPO, DataError(path, line, why, field=f"{where}.{name}"))
            continue
        for name, value in spo_values(spo):
            if value != value.strip():
                skips.note(SPACED, DataError(path, line, f"{value!r}: targets and predictions use "
                                             f"{value.strip()!r}", field=f"{where}.{name}"))
        kept.append(spo)
    return {"text": text, "spo_list": kept}


# -- windows and targets ---------------------------------------------------------------------------

@dataclass
class Window:
    """One model input: tokens [start, end) of record `record`, wrapped in [CLS] ... [SEP].

    Model position p (1 <= p <= end - start) is token start + p - 1, whose characters are offsets[p - 1].
    Token ids and offsets are cut from the record's encoding when asked for, so the many overlapping
    windows of a long text hold no copies of it.
    """
    record: int
    encoding: object = field(repr=False)   # common.tokenize.Encoding of the record's text
    start: int
    end: int
    wrap: object = field(repr=False)        # the tokenizer's wrap: ids -> ([CLS] ids [SEP], segments)
    targets: list = field(default_factory=list)  # (channel, head position, tail position)

    @property
    def token_ids(self):
        return self.wrap(self.encoding.ids[self.start:self.end])[0]

    @property
    def offsets(self):
        return self.encoding.offsets[self.start:self.end]

    def __len__(self):
        return self.end - self.start + 2


UNALIGNED = "values without an exact token span"
NO_WINDOW = "SPOs in no window whole"


def encode_record(index, record, tokenizer, schema, maxlen, step=0, with_targets=True, lost=None):
    """One record -> its windows (with targets when `with_targets`); a placeholder has none.

    `lost` (optional Counter) counts what the targets cannot express: values with no exact token span
    anywhere (UNALIGNED), SPOs that fit no window whole (NO_WINDOW). A value is looked up without its
    surrounding spaces, which no token covers.
    """
    if is_placeholder(record):
        return []
    text = record["text"]
    encoding = tokenizer.encode_cached(text)
    spans = {}
    if with_targets and record["spo_list"]:
        index_of = SpanIndex(encoding.offsets)
        for spo in record["spo_list"]:
            for _, value in spo_values(spo):
                value = value.strip()
                if value not in spans:
                    spans[value] = index_of.exact(find_all(text, value), len(value))
                    if not spans[value] and lost is not None:
                        lost[UNALIGNED] += 1
    result, placed = [], set()
    for start, end in sentence_windows(len(encoding), maxlen, step):
        window = Window(index, encoding, start, end, tokenizer.wrap)
        if with_targets:
            window.targets = window_targets(record, spans, schema, start, end, placed)
        result.append(window)
    if lost is not None and with_targets:
        lost[NO_WINDOW] += len(record["spo_list"]) - len(placed)
    return result


def window_targets(record, spans, schema, start, end, placed):
    """Positive (channel, head, tail) cells of the window covering tokens [start, end)."""
    def inside(value):
        found = spans[value.strip()]  # sorted by first token: binary search, then the few inside
        at, result = bisect.bisect_left(found, (start,)), []
        while at < len(found) and found[at][0] < end:
            a, b = found[at]
            if b < end:
                result.append((a - start + 1, b - start + 1))
            at += 1
        return result

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
