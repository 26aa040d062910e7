"""DuEE data: the event schema, validated records, token windows and sparse training targets.

Head layout of the model output (and of the targets), H heads in all:
    [0, n_roles)                          one span head per (event_type, role)
    [n_roles, n_roles + n_links)          head links (start of a, start of b) per event type (or shared)
    [n_roles + n_links, n_roles + 2 n_links)  tail links (end of a, end of b)
Positions are window positions: 0 is [CLS], token k of the window is position k + 1.
"""
from dataclasses import dataclass, field

from common.io import DataError, SkipCounter, read_jsonl
from common.tokenize import char_to_token_span, is_exact, sentence_inputs, sentence_windows

INEXACT = "arguments without an exact token span"


@dataclass
class Argument:
    role: str
    start: int          # character offsets [start, end) in the text
    end: int
    text: str
    alias: list = field(default_factory=list)


@dataclass
class Event:
    event_type: str
    arguments: list


@dataclass
class Record:
    id: object
    text: str
    events: list        # [] for unlabelled input


class Schema:
    """Event types and their roles, from `event_schema.json` (JSON Lines, one event type a line)."""

    def __init__(self, role_lists, links_per_event_type=True):
        self.event_types = list(role_lists)
        self.roles = [(t, r) for t in self.event_types for r in role_lists[t]]
        self.role_head = {pair: i for i, pair in enumerate(self.roles)}
        self.type_index = {t: i for i, t in enumerate(self.event_types)}
        self.links_per_event_type = links_per_event_type
        self.n_links = len(self.event_types) if links_per_event_type else 1

    @property
    def n_heads(self):
        return len(self.roles) + 2 * self.n_links

    def head_link(self, event_type):
        return len(self.roles) + (self.type_index[event_type] if self.links_per_event_type else 0)

    def tail_link(self, event_type):
        return self.head_link(event_type) + self.n_links


def load_schema(path, links_per_event_type=True):
    role_lists = {}
    for line, obj in read_jsonl(path, required=("event_type", "role_list")):
        event_type, role_list = obj["event_type"], obj["role_list"]
        if not isinstance(event_type, str) or not event_type:
            raise DataError(path, line, "must be a non-empty string", field="event_type")
        if event_type in role_lists:
            raise DataError(path, line, f"event type {event_type!r} listed twice", field="event_type")
        if not isinstance(role_list, list) or not all(
                isinstance(r, dict) and isinstance(r.get("role"), str) for r in role_list):
            raise DataError(path, line, 'must be a list of {"role": str}', field="role_list")
        role_lists[event_type] = list(dict.fromkeys(r["role"] for r in role_list))
    if not role_lists:
        raise DataError(path, None, "no event types")
    return Schema(role_lists, links_per_event_type)


def _parse_record(path, line, obj, schema, labelled):
    if "id" not in obj or obj["id"] is None:
        raise DataError(path, line, "missing", field="id")
    text = obj.get("text")
    if not isinstance(text, str):
        raise DataError(path, line, "missing or not a string", field="text")
    events = []
    if labelled:
        event_list = obj.get("event_list")
        if not isinstance(event_list, list):
            raise DataError(path, line, "missing or not a list", field="event_list")
        for e, event in enumerate(event_list):
            where = f"event_list[{e}]"
            if not isinstance(event, dict):
                raise DataError(path, line, "not an object", field=where)
            event_type = event.get("event_type")
            if event_type not in schema.type_index:
                raise DataError(path, line, f"unknown event type {event_type!r}", field=f"{where}.event_type")
            arguments = event.get("arguments")
            if not isinstance(arguments, list):
                raise DataError(path, line, "missing or not a list", field=f"{where}.arguments")
            parsed = []
            for a, arg in enumerate(arguments):
                at = f"{where}.arguments[{a}]"
                if not isinstance(arg, dict):
                    raise DataError(path, line, "not an object", field=at)
                role, value, start = arg.get("role"), arg.get("argument"), arg.get("argument_start_index")
                if (event_type, role) not in schema.role_head:
                    raise DataError(path, line, f"role {role!r} is not a role of {event_type}", field=f"{at}.role")
                if not isinstance(value, str) or not value:
                    raise DataError(path, line, "missing or empty", field=f"{at}.argument")
                if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                    raise DataError(path, line, "must be an integer >= 0", field=f"{at}.argument_start_index")
                if text[start:start + len(value)] != value:
                    raise DataError(path, line, f"{value!r} is not at offset {start} of the text "
                                    f"(found {text[start:start + len(value)]!r})", field=f"{at}.argument_start_index")
                alias = arg.get("alias") or []
                if not isinstance(alias, list) or not all(isinstance(x, str) for x in alias):
                    raise DataError(path, line, "must be a list of strings", field=f"{at}.alias")
                parsed.append(Argument(role, start, start + len(value), value, alias))
            events.append(Event(event_type, parsed))
    return Record(obj["id"], text, events)


def load_records(path, schema, labelled=True, on_error="raise"):
    """(records, skips) of a DuEE file. Bad lines raise a located DataError, or with on_error="skip"
    are counted and logged; an unlabelled line that has an id is then kept with an empty text, so that
    predict still writes one line per input."""
    skip = SkipCounter(on_error)
    records = []
    for line, obj in read_jsonl(path, skip=skip):
        try:
            records.append(_parse_record(path, line, obj, schema, labelled))
        except DataError as error:
            skip(error)
            if not labelled and obj.get("id") is not None:
                records.append(Record(obj["id"], "", []))
    return records, skip


# --- windows and targets ----------------------------------------------------------------------

@dataclass
class Window:
    record: int         # index of the record
    token_ids: list     # with [CLS] ... [SEP]
    offsets: list       # character span of each window token (no [CLS]/[SEP])
    targets: list       # sorted (head, i, j) positives; [] when unlabelled


def encode_record(index, record, tokenizer, schema, maxlen, step=0, with_targets=True, lost=None):
    """Windows of one record; with targets when `with_targets`. `lost` (optional Counter) counts the
    arguments no token span covers exactly (they decode to a wider or no string)."""
    encoding = tokenizer.encode_cached(record.text)
    spans = [[char_to_token_span(encoding.offsets, a.start, a.end) for a in e.arguments]
             for e in record.events] if with_targets else []
    if lost is not None:
        for event, event_spans in zip(record.events if with_targets else [], spans):
            for arg, span in zip(event.arguments, event_spans):
                lost[INEXACT] += span is None or not is_exact(encoding.offsets, *span, arg.start, arg.end)
    result = []
    for start, end in sentence_windows(len(encoding), maxlen, step):
        token_ids, _ = tokenizer.wrap(encoding.ids[start:end])
        targets = set()
        for event, event_spans in zip(record.events if with_targets else [], spans):
            inside = []  # (i, j) window positions of this event's arguments in the window
            for arg, span in zip(event.arguments, event_spans):
                if span is None or span[0] < start or span[1] >= end:
                    continue
                i, j = span[0] - start + 1, span[1] - start + 1
                targets.add((schema.role_head[event.event_type, arg.role], i, j))
                inside.append((i, j))
            head, tail = schema.head_link(event.event_type), schema.tail_link(event.event_type)
            for a in range(len(inside)):
                for b in range(a + 1, len(inside)):
                    (ia, ja), (ib, jb) = inside[a], inside[b]
                    targets.add((head, min(ia, ib), max(ia, ib)))
                    targets.add((tail, min(ja, jb), max(ja, jb)))
        result.append(Window(index, token_ids, encoding.offsets[start:end], sorted(targets)))
    return result


def encode_records(records, tokenizer, schema, maxlen, step=0, with_targets=True, lost=None):
    """Windows of every record, in record order."""
    return [window for index, record in enumerate(records)
            for window in encode_record(index, record, tokenizer, schema, maxlen, step, with_targets, lost)]


def collate(windows_batch, n_heads, pad_id=0):
    """Inputs and sparse targets (common.pointer) of a batch."""
    from common.pointer import sparse_targets
    return sentence_inputs([w.token_ids for w in windows_batch], pad_id), sparse_targets([w.targets for w in windows_batch], n_heads)


def head_log_odds(windows_list, n_heads):
    """Logit-adjustment offsets per head, over the upper triangle (i <= j) of each window's tokens."""
    from common.pointer import head_log_odds as log_odds
    n = [len(w.offsets) for w in windows_list]
    return log_odds([w.targets for w in windows_list], sum(k * (k + 1) // 2 for k in n), n_heads)


# --- helpers for the command lines --------------------------------------------------------------

def gold_arguments(records):
    """Gold in the metric's form, keyed by record index: {k: [(type, role, [argument, *aliases])]}."""
    return {k: [(e.event_type, a.role, [a.text, *a.alias]) for e in r.events for a in e.arguments]
            for k, r in enumerate(records)}


def predicted_arguments(rows):
    """Submission rows in the metric's form, keyed by record index."""
    return {k: [(e["event_type"], a["role"], a["argument"]) for e in row["event_list"] for a in e["arguments"]]
            for k, row in enumerate(rows)}
