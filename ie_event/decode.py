"""Positive cells -> arguments, links, counts and events. Pure Python, no TensorFlow.

A window's positives are (head, i, j) cells whose score passed the threshold (or, for the oracle, the
training targets themselves). All windows of a text are merged in character coordinates: argument
nodes (event_type, role, char start, char end) with their best score, head links (type, start a,
start b), tail links (type, end a, end b), and the count of each argument span (how many events of
its type hold it). Two nodes of one type are linked when both their head link and their tail link
fired; each maximal clique of linked nodes is one event.

Cliques alone do not write an argument as often as gold does, and the metric counts every written
argument: two events with the same arguments are one clique, an event whose arguments all lie in a
larger event of its type is absorbed by it, and since links join positions, not roles, a string that
is the winner of one game and the loser of another joins both games in both roles. The count heads
say in how many events of its type each span is (node_bounds turns that into bounds per node: a span
with one role is in exactly that many; a span in two roles never linked to each other is in one
event per role when counted twice). After the cliques, nodes in more cliques than their bound are
taken out of the latest cliques, whole cliques first, and nodes in fewer get further events (maximal
cliques among the nodes still short, repeated while some are). The grouping may then differ from
gold; the written (type, role, argument) triples, which are all that is scored, do not. A count of
model.events_per_argument means "at least that many" and is never trimmed.

Decoding is bounded per record, whatever the model outputs: at most `max_arguments` nodes per event
type (best scores first) and `max_events` events; the clique search stops there too. Hitting a bound
is counted and logged once per call.
"""
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_arguments: int = 64    # argument nodes per event type and record, best-scoring first
    max_events: int = 256      # events per record


class Cells:
    """The positive cells of all windows of one text, in character coordinates."""

    def __init__(self):
        self.nodes = {}          # (event_type, role, start, end) -> best score
        self.head_links = set()  # (link key, start a, start b), a before b
        self.tail_links = set()  # (link key, end a, end b)
        self.counts = {}         # (event_type, start, end) -> most events the count heads gave it

    def add_window(self, positives, offsets, meanings, scores=None):
        """Merge one window: `positives` (head, i, j) rows (list or array), `offsets` the character
        spans of its tokens (position k + 1 is token k), `meanings` = schema.head_meanings(). Cells on
        [CLS]/[SEP]/padding or with i > j are ignored."""
        rows = positives.tolist() if hasattr(positives, "tolist") else positives
        values = scores.tolist() if hasattr(scores, "tolist") else scores
        n = len(offsets)
        for k, (head, i, j) in enumerate(rows):
            if not 1 <= i <= j <= n:
                continue
            kind, what = meanings[head]
            start, end = offsets[i - 1], offsets[j - 1]
            if kind == "span":
                node = (*what, start[0], end[1])
                score = float(values[k]) if values is not None else 0.0
                self.nodes[node] = max(score, self.nodes.get(node, score))
            elif kind == "head_link":
                self.head_links.add((what, start[0], end[0]))
            elif kind == "tail_link":
                self.tail_links.add((what, start[1], end[1]))
            else:
                event_type, level = what
                span = (event_type, start[0], end[1])
                self.counts[span] = max(level, self.counts.get(span, 1))

    def linked(self, key, a, b):
        (sa, ea), (sb, eb) = a[2:], b[2:]
        return (key, min(sa, sb), max(sa, sb)) in self.head_links and \
            (key, min(ea, eb), max(ea, eb)) in self.tail_links


def maximal_cliques(nodes, edges, limit=None):
    """Maximal cliques of the graph (Bron-Kerbosch with pivoting), each a sorted list, in a fixed
    order; an isolated node is a clique of its own. With `limit`, the search stops after `limit`
    cliques or `limit` x (nodes + 1) expansions, whichever comes first (then the list is partial)."""
    neighbours = {node: set() for node in nodes}
    for edge in edges:
        a, b = tuple(edge)
        neighbours[a].add(b)
        neighbours[b].add(a)
    cliques = []
    budget = [limit * (len(nodes) + 1) if limit is not None else None]

    def full():
        return limit is not None and (len(cliques) >= limit or budget[0] <= 0)

    def expand(clique, candidates, excluded):
        if budget[0] is not None:
            budget[0] -= 1
        if not candidates and not excluded:
            cliques.append(sorted(clique))
            return
        pivot = max(sorted(candidates | excluded), key=lambda v: len(neighbours[v] & candidates))
        for node in sorted(candidates - neighbours[pivot]):
            if full():
                return
            expand(clique | {node}, candidates & neighbours[node], excluded & neighbours[node])
            candidates = candidates - {node}
            excluded = excluded | {node}

    if nodes:
        expand(set(), set(nodes), set())
    return sorted(cliques)


def node_bounds(nodes, edges, counts, top):
    """{node: (fewest, most) events it belongs to}, from the count of its span (counts: {(start, end):
    n} for spans counted >= 2, n = `top` meaning at least `top`). A span with one role is in n events;
    a span with several roles that are never linked (one role per event) is in n events in all, so each
    role is in 1 .. n - roles + 1; roles linked to each other (one string, two roles of one event)
    each follow the span."""
    roles = defaultdict(list)
    for node in nodes:
        roles[node[2:]].append(node)
    bounds = {}
    for span, members in roles.items():
        n = counts.get(span, 1)
        together = any(frozenset((a, b)) in edges for x, a in enumerate(members) for b in members[x + 1:])
        fewest, most = (n, n) if len(members) == 1 or together else (1, max(n - len(members) + 1, 1))
        for node in members:
            bounds[node] = (fewest, float("inf") if n >= top else most)
    return bounds


def apply_counts(cliques, nodes, edges, counts, top, limit):
    """The cliques of one event type, changed so that each node is in as many events as the counts
    say (node_bounds; see the module docstring). Returns at most `limit` cliques."""
    bounds = node_bounds(nodes, edges, counts, top)
    have = Counter(node for clique in cliques for node in clique)

    def over(node):
        return have[node] > bounds[node][1]

    kept = []
    for clique in reversed(cliques):  # whole cliques first: every node of it is written too often
        if all(over(node) for node in clique):
            have.subtract(clique)
        else:
            kept.append(list(clique))
    kept.reverse()
    for clique in reversed(kept):     # then single nodes, from the latest cliques
        for node in list(clique):
            if over(node):
                clique.remove(node)
                have[node] -= 1
    kept = [clique for clique in kept if clique][:limit]
    while len(kept) < limit:          # nodes still short get further events
        short = {node for node in nodes if have[node] < bounds[node][0]}
        added = False
        for clique in maximal_cliques(short, {e for e in edges if e <= short}, limit):
            if len(kept) < limit and all(have[node] < bounds[node][0] for node in clique):
                kept.append(clique)
                have.update(clique)
                added = True
        if not added:
            break
    return kept


def decode_cells(text, cells, schema, limits=Limits(), hits=None):
    """Submission events of one text from its merged Cells, arguments in text order, events by their
    first argument. `hits` (optional Counter) counts the records that hit each bound."""
    role_order = {pair: k for k, pair in enumerate(schema.roles)}
    by_type = defaultdict(list)
    for node, score in cells.nodes.items():
        by_type[node[0]].append((-score, node[2], node[3], role_order[node[:2]], node))
    events, capped = [], set()
    for event_type in (t for t in schema.event_types if t in by_type):
        room = limits.max_events - len(events)
        if room <= 0:
            capped.add("max_events")
            break
        ranked = sorted(by_type[event_type])
        if len(ranked) > limits.max_arguments:
            capped.add("max_arguments")
        nodes = [entry[-1] for entry in ranked[:limits.max_arguments]]
        key = schema.link_key(event_type)
        edges = {frozenset((a, b)) for x, a in enumerate(nodes) for b in nodes[x + 1:]
                 if cells.linked(key, a, b)}
        cliques = maximal_cliques(nodes, edges, room + 1)
        if schema.events_per_argument > 1:
            counts = {(s, e): n for (t, s, e), n in cells.counts.items() if t == event_type}
            cliques = apply_counts(cliques, nodes, edges, counts, schema.events_per_argument, room + 1)
        if len(cliques) > room:
            capped.add("max_events")
            cliques = cliques[:room]
        for clique in cliques:
            clique = sorted(clique, key=lambda node: (node[2], node[3], role_order[node[:2]]))
            events.append(((clique[0][2], schema.type_index[event_type]), {
                "event_type": event_type,
                "arguments": [{"role": role, "argument": text[start:end]} for _, role, start, end in clique]}))
    if hits is not None:
        hits.update(capped)
    events.sort(key=lambda keyed: keyed[0])
    return [event for _, event in events]


def decode_record(text, window_positives, schema, limits=Limits(), hits=None):
    """Events of one text from [(positives, offsets, scores or None), ...] of its windows."""
    cells, meanings = Cells(), schema.head_meanings()
    for positives, offsets, scores in window_positives:
        cells.add_window(positives, offsets, meanings, scores)
    return decode_cells(text, cells, schema, limits, hits)


def decode_windows(records, windows, outputs, schema, limits=Limits()):
    """Submission rows {"id", "event_list"} of every record, in order; outputs[k] = (positives,
    scores or None) of windows[k]. Logs one line when records hit a bound."""
    meanings = schema.head_meanings()
    cells = [Cells() for _ in records]
    for window, (positives, scores) in zip(windows, outputs):
        cells[window.record].add_window(positives, window.offsets, meanings, scores)
    hits = Counter()
    rows = [{"id": record.id, "event_list": decode_cells(record.text, record_cells, schema, limits, hits)}
            for record, record_cells in zip(records, cells)]
    if hits:
        log.warning("decoding bounds hit: %s (predict.max_arguments = %d per event type, predict.max_events = %d "
                    "per record; a model firing everywhere is cut there)",
                    ", ".join(f"{n} record(s) over {name}" for name, n in sorted(hits.items())),
                    limits.max_arguments, limits.max_events)
    return rows
