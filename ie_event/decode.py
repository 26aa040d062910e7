"""Positive cells -> arguments, links and events.

A window's positives are (head, i, j) cells whose score passed the threshold (or, for the oracle, the
training targets themselves). Per window they become argument nodes (event_type, role, char start,
char end) and links between two nodes of one type; the windows of a text are merged by union, and
each maximal clique of linked nodes of one type is one event. Pure Python, no TensorFlow.
"""
from collections import defaultdict


def window_graph(positives, offsets, schema, scores=None, max_arguments=None):
    """(nodes, edges) of one window. `offsets` are the character spans of the window's tokens
    (position k + 1 is token k); cells on [CLS]/[SEP]/padding or with i > j are ignored.
    With `scores` (one per positive) and `max_arguments`, only the best-scoring max_arguments spans
    per event type are kept: a badly trained model can fire thousands of spans, and the pairwise
    links and cliques of those would never finish."""
    n_roles, n = len(schema.roles), len(offsets)
    spans, links = [], set()
    for k, (head, i, j) in enumerate(positives):
        head, i, j = int(head), int(i), int(j)
        if not 1 <= i <= j <= n:
            continue
        if head < n_roles:
            spans.append((float(scores[k]) if scores is not None else 0.0, head, i, j))
        else:
            links.add((head, i, j))
    by_type = defaultdict(list)
    for _, head, i, j in sorted(spans, reverse=True):
        event_type, role = schema.roles[head]
        node = (event_type, role, offsets[i - 1][0], offsets[j - 1][1])
        by_type[event_type].append((node, i, j))
    nodes, edges = set(), set()
    for event_type, members in by_type.items():
        if max_arguments:
            del members[max_arguments:]
        nodes.update(node for node, _, _ in members)
        head_link, tail_link = schema.head_link(event_type), schema.tail_link(event_type)
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                (node_a, ia, ja), (node_b, ib, jb) = members[a], members[b]
                if node_a != node_b and (head_link, min(ia, ib), max(ia, ib)) in links \
                        and (tail_link, min(ja, jb), max(ja, jb)) in links:
                    edges.add(frozenset((node_a, node_b)))
    return nodes, edges


def maximal_cliques(nodes, edges):
    """Every maximal clique of the graph (Bron-Kerbosch with pivoting), each as a sorted list;
    an isolated node is a clique of its own."""
    neighbours = {node: set() for node in nodes}
    for edge in edges:
        a, b = tuple(edge)
        neighbours[a].add(b)
        neighbours[b].add(a)
    cliques = []

    def expand(clique, candidates, excluded):
        if not candidates and not excluded:
            cliques.append(sorted(clique))
            return
        pivot = max(candidates | excluded, key=lambda v: len(neighbours[v] & candidates))
        for node in sorted(candidates - neighbours[pivot]):
            expand(clique | {node}, candidates & neighbours[node], excluded & neighbours[node])
            candidates = candidates - {node}
            excluded = excluded | {node}

    expand(set(), set(nodes), set())
    return sorted(cliques)


def events_from_graph(text, nodes, edges, schema):
    """Submission events: one per maximal clique of each event type, arguments in text order."""
    role_order = {pair: k for k, pair in enumerate(schema.roles)}
    events = []
    for event_type in schema.event_types:
        typed = {node for node in nodes if node[0] == event_type}
        if not typed:
            continue
        typed_edges = {e for e in edges if next(iter(e))[0] == event_type}
        for clique in maximal_cliques(typed, typed_edges):
            clique.sort(key=lambda node: (node[2], node[3], role_order[node[0], node[1]]))
            event = {"event_type": event_type,
                     "arguments": [{"role": role, "argument": text[start:end]}
                                   for _, role, start, end in clique]}
            events.append(((clique[0][2], schema.type_index[event_type]), event))
    events.sort(key=lambda keyed: keyed[0])
    return [event for _, event in events]


def decode_record(text, window_positives, schema, max_arguments=None):
    """Events of one text from [(positives, offsets, scores or None), ...] of its windows."""
    nodes, edges = set(), set()
    for positives, offsets, scores in window_positives:
        window_nodes, window_edges = window_graph(positives, offsets, schema, scores=scores,
                                                  max_arguments=max_arguments)
        nodes |= window_nodes
        edges |= window_edges
    return events_from_graph(text, nodes, edges, schema)


def decode_windows(records, windows, outputs, schema, max_arguments=None):
    """Submission rows {"id", "event_list"} of every record, in order; outputs[k] = (positives,
    scores or None) of windows[k]."""
    per_record = [[] for _ in records]
    for window, (positives, scores) in zip(windows, outputs):
        per_record[window.record].append((positives, window.offsets, scores))
    return [{"id": record.id, "event_list": decode_record(record.text, pieces, schema, max_arguments)}
            for record, pieces in zip(records, per_record)]
