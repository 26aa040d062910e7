"""DuEE data: the event schema, validated records, token windows and sparse training targets.

Head layout of the model output (and of the targets), H heads in all:
    [0, n_roles)                          one span head per (event_type, role)
    [n_roles, n_roles + n_counts)         for k = 2 .. model.events_per_argument, one count head per event
                                          type: span (i, j) is an argument of at least k events of the type
    then n_links head links (start of a, start of b) per event type (or one shared),
    then n_links tail links (end of a, end of b)
The counts keep apart what links alone cannot (an argument repeated across events of one type, two
events with the same arguments): see decode.py.
Positions are window positions: 0 is [CLS], token k of the window is position k + 1.

Loading. A line that is not a record at all (not JSON, no usable id, no text, event_list not a list)
follows `data.on_error` ("raise" names file, line and field; "skip" counts and drops it). A bad part of
a good record (an event of an unknown type, an argument not at its offset, an empty argument, an
unknown role, a malformed alias) is always dropped and counted, and the rest of the record kept: one
summary line names file, line and field of each (the first few). An argument with surrounding spaces
(" 利物浦") keeps its text for scoring but is trained on its stripped span, which a token span can
reproduce (the decoder never emits leading or trailing spaces; on the real data 27 of 29 arguments
next to a space leave it out). Ids: an id names one sentence (the official ids are MD5s of the text):
a line repeating an earlier id with the same text is read once (counted); with a different text it is
a bad line (on_error), named with both line numbers.
"""
from dataclasses import dataclass, field

from common.io import DataError, SkipCounter, read_jsonl
from common.tokenize import char_to_token_span, is_exact, sentence_inputs, sentence_windows

INEXACT = "arguments without an exact token span"
SPACED = "arguments with surrounding spaces (trained and decoded without them)"
REPEATED = "argument repeats beyond model.events_per_argument"
OUTSIDE = "arguments no window holds whole (longer than the window overlap)"
SHOWN = 3  # dropped parts and repeats named in a summary line; the rest are counted


@dataclass
class Argument:
    role: str
    start: int          # character offsets [start, end) of the target span (surrounding spaces stripped)
    end: int
    text: str           # the argument as written (what is scored)
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
    skipped: bool = False  # a placeholder of a skipped line: no windows, no gold, answered with no event


class Schema:
    """Event types and their roles, from `event_schema.json` (JSON Lines, one event type a line), and
    the head layout above."""

    def __init__(self, role_lists, links_per_event_type=True, events_per_argument=1):
        self.event_types = list(role_lists)
        self.roles = [(t, r) for t in self.event_types for r in role_lists[t]]
        self.role_head = {pair: i for i, pair in enumerate(self.roles)}
        self.type_index = {t: i for i, t in enumerate(self.event_types)}
        self.links_per_event_type = links_per_event_type
        self.n_links = len(self.event_types) if links_per_event_type else 1
        self.events_per_argument = events_per_argument

    @property
    def n_counts(self):
        return (self.events_per_argument - 1) * len(self.event_types)

    @property
    def n_heads(self):
        return len(self.roles) + self.n_counts + 2 * self.n_links

    def count_head(self, event_type, k):
        """Head of "argument of at least k events of this type", 2 <= k <= events_per_argument."""
        return len(self.roles) + (k - 2) * len(self.event_types) + self.type_index[event_type]

    def head_link(self, event_type):
        return len(self.roles) + self.n_counts + (self.type_index[event_type] if self.links_per_event_type else 0)

    def tail_link(self, event_type):
        return self.head_link(event_type) + self.n_links

    def link_key(self, event_type):
        """What links of `event_type` are stored under: the type, or None when links are shared."""
        return event_type if self.links_per_event_type else None

    def head_meanings(self):
        """Per head: ("span", (type, role)), ("count", (type, k)), ("head_link", key) or ("tail_link", key)."""
        link_keys = self.event_types if self.links_per_event_type else [None]
        return ([("span", pair) for pair in self.roles]
                + [("count", (t, k)) for k in range(2, self.events_per_argument + 1) for t in self.event_types]
                + [("head_link", key) for key in link_keys] + [("tail_link", key) for key in link_keys])


def load_schema(path, links_per_event_type=True, events_per_argument=1):
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
    return Schema(role_lists, links_per_event_type, events_per_argument)


class LoadReport(SkipCounter):
    """What loading one file left out: bad lines (by on_error, as SkipCounter), bad parts of kept
    records (`dropped`, always counted) and lines repeating an earlier id (`repeats`: (line, first line))."""

    def __init__(self, on_error="raise"):
        super().__init__(on_error)
        self.dropped = []
        self.repeats = []

    def summary(self):
        parts = [super().summary()] if self.skipped else []
        if self.dropped:
            named = "; ".join(f"line {e.line} field '{e.field}': {str(e).split(f'field {e.field!r}: ', 1)[-1]}"
                              for e in self.dropped[:SHOWN])
            more = f"; {len(self.dropped) - SHOWN} more" if len(self.dropped) > SHOWN else ""
            parts.append(f"{len(self.dropped)} bad part(s) dropped, their records kept ({named}{more})")
        if self.repeats:
            named = ", ".join(f"line {line} = line {first}" for line, first in self.repeats[:SHOWN])
            more = f", {len(self.repeats) - SHOWN} more" if len(self.repeats) > SHOWN else ""
            parts.append(f"{len(self.repeats)} line(s) repeating an earlier id and text, read once ({named}{more})")
        return "; ".join(parts)


def _argument(path, line, at, event_type, arg, text, schema, report):
    """The Argument of one raw argument, or None (the bad part recorded in `report`)."""
    def bad(message, name):
        report.dropped.append(DataError(path, line, message, field=f"{at}{name}"))

    if not isinstance(arg, dict):
        return bad("not an object", "")
    role, value, start = arg.get("role"), arg.get("argument"), arg.get("argument_start_index")
    if (event_type, role) not in schema.role_head:
        return bad(f"role {role!r} is not a role of {event_type}", ".role")
    if not isinstance(value, str) or not value.strip():
        return bad("missing, empty or only spaces", ".argument")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        return bad("must be an integer >= 0", ".argument_start_index")
    if text[start:start + len(value)] != value:
        return bad(f"{value!r} is not at offset {start} of the text (found {text[start:start + len(value)]!r})",
                   ".argument_start_index")
    alias = arg.get("alias") or []
    if not isinstance(alias, list) or not all(isinstance(x, str) for x in alias):
        bad("must be a list of strings (alias dropped, argument kept)", ".alias")
        alias = []
    lead = len(value) - len(value.lstrip())
    return Argument(role, start + lead, start + lead + len(value.strip()), value, alias)


def _events(path, line, event_list, text, schema, report):
    events = []
    for e, event in enumerate(event_list):
        where = f"event_list[{e}]"
        if not isinstance(event, dict):
            report.dropped.append(DataError(path, line, "not an object", field=where))
            continue
        event_type = event.get("event_type")
        if not isinstance(event_type, str) or event_type not in schema.type_index:
            report.dropped.append(DataError(path, line, f"unknown event type {event_type!r}",
                                            field=f"{where}.event_type"))
            continue
        arguments = event.get("arguments")
        if not isinstance(arguments, list):
            report.dropped.append(DataError(path, line, "missing or not a list", field=f"{where}.arguments"))
            continue
        parsed = [_argument(path, line, f"{where}.arguments[{a}]", event_type, arg, text, schema, report)
                  for a, arg in enumerate(arguments)]
        events.append(Event(event_type, [arg for arg in parsed if arg is not None]))
    return events


def _usable_id(path, line, obj):
    key = obj.get("id")
    if key is None or isinstance(key, (dict, list)):
        raise DataError(path, line, "missing, null, or not a string or number", field="id")
    return key


def load_records(path, schema, labelled=True, on_error="raise"):
    """(records, LoadReport) of a DuEE file (the rules are in the module docstring). With
    on_error="skip", a line that is not a valid record but has a usable id is kept as a placeholder
    (`skipped`), so that predict and the oracle still answer it; it gives no window and no gold."""
    report = LoadReport(on_error)
    records, first = [], {}  # first: id -> (line, text) of the line that introduced it
    for line, obj in read_jsonl(path, skip=report):
        try:
            key = _usable_id(path, line, obj)
            text = obj.get("text")
            if key in first:
                first_line, first_text = first[key]
                if text == first_text and isinstance(text, str):
                    report.repeats.append((line, first_line))
                    continue
                raise DataError(path, line, f"id {key!r} already used at line {first_line} with a different text",
                                field="id")
            if not isinstance(text, str):
                raise DataError(path, line, "missing or not a string", field="text")
            events = []
            if labelled:
                if not isinstance(obj.get("event_list"), list):
                    raise DataError(path, line, "missing or not a list", field="event_list")
                events = _events(path, line, obj["event_list"], text, schema, report)
        except DataError as error:
            report(error)
            if error.field != "id":  # a readable id: predict and the oracle still answer the line
                first[key] = (line, None)
                records.append(Record(key, "", [], skipped=True))
            continue
        first[key] = (line, text)
        records.append(Record(key, text, events))
    return records, report


# --- windows and targets ----------------------------------------------------------------------

@dataclass
class Window:
    record: int         # index of the record
    token_ids: list     # with [CLS] ... [SEP]
    offsets: list       # character span of each window token (no [CLS]/[SEP])
    targets: list       # sorted (head, i, j) positives; [] when unlabelled


def encode_record(index, record, tokenizer, schema, maxlen, step=0, with_targets=True, lost=None):
    """Windows of one record; with targets when `with_targets`. `lost` (optional Counter) counts what
    the targets cannot reproduce: arguments no token span covers exactly (they decode to a wider or no
    string), arguments trained without their surrounding spaces, arguments longer than the window
    overlap, and repeats of one argument across more events of a type than the count heads can say."""
    encoding = tokenizer.encode_cached(record.text)
    events = record.events if with_targets else []
    spans = [[char_to_token_span(encoding.offsets, a.start, a.end) for a in e.arguments] for e in events]
    counts = {}  # (event_type, token span) -> number of events of that type holding the span
    for event, event_spans in zip(events, spans):
        for span in {s for s in event_spans if s is not None}:
            counts[event.event_type, span] = counts.get((event.event_type, span), 0) + 1
    if lost is not None:
        for event, event_spans in zip(events, spans):
            for arg, span in zip(event.arguments, event_spans):
                lost[INEXACT] += span is None or not is_exact(encoding.offsets, *span, arg.start, arg.end)
                lost[SPACED] += arg.end - arg.start != len(arg.text)
        lost[REPEATED] += sum(max(n - schema.events_per_argument, 0) for n in counts.values())
    ranges = sentence_windows(len(encoding), maxlen, step)
    if lost is not None:
        lost[OUTSIDE] += sum(span is not None and not any(a <= span[0] and span[1] < b for a, b in ranges)
                             for event_spans in spans for span in event_spans)
    result = []
    for start, end in ranges:
        token_ids, _ = tokenizer.wrap(encoding.ids[start:end])
        targets = set()
        for event, event_spans in zip(events, spans):
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
        for (event_type, (first, last)), n in counts.items():
            if start <= first and last < end:
                for k in range(2, min(n, schema.events_per_argument) + 1):
                    targets.add((schema.count_head(event_type, k), first - start + 1, last - start + 1))
        result.append(Window(index, token_ids, encoding.offsets[start:end], sorted(targets)))
    return result


def encode_records(records, tokenizer, schema, maxlen, step=0, with_targets=True, lost=None):
    """Windows of every record, in record order (none for a placeholder: it is answered with no event)."""
    return [window for index, record in enumerate(records) if not record.skipped
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
