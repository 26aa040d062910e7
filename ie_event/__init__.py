"""DuEE 1.0 event extraction: spans per (event type, role) plus argument links, no trigger.

Design, and why
---------------
The metric scores (event_type, role, argument) triples only, and gold arguments nest ("2019年" inside
"2019年NBA总决赛"), overlap, and one string fills two roles or two event types. A B/I tagger with one
label per character cannot hold those (about 5% of gold triples), so every (event_type, role) pair gets
its own span scorer: a global pointer head over all (start token, end token) pairs of the text. A span is
an argument of that role when its score is > 0; any set of spans per role is representable, so nesting,
overlap and multi-role strings cost nothing.

Events of one type can occur twice in a sentence ("湖人击败勇士, 快船负于雄鹿"). Users read the grouping,
so arguments are grouped into events without triggers, by argument-argument links: for each event type,
a head-link matrix scores (start of argument a, start of argument b) and a tail-link matrix scores
(end of a, end of b) for two arguments of one event. Two predicted arguments are linked when both
their head link and their tail link fire; each event is a maximal clique of linked arguments
(Bron-Kerbosch). An argument shared by two events (the same winner of two games) sits in both cliques,
so it is listed in both events, as in the gold data. Links are stored in canonical order (smaller
position first), so one upper-triangular matrix per type suffices. Links join positions, not roles:
when one string fills two roles of one type in two events ("湖人击败勇士，随后输给快船"), the two
readings share their links and the grouping can mix them (the triples stay right; about 0.5% of
real DuEE sentences hold such a string). With `model.links_per_event_type = false` one shared pair
of link matrices serves all types (less memory, slightly less exact when two types group the same
strings differently).

All heads are efficient global pointers (RoPE for spans, none for links, whose distance is no cue) on
one encoder; their logits are concatenated into one tensor, the targets are sparse lists of positive
(i, j) cells per head, and the loss is the sparse multilabel cross-entropy summed over heads, so
memory for targets is tiny however many heads there are.

Texts longer than `model.maxlen` are cut into overlapping token windows; spans and links are decoded
per window in character coordinates and merged (union) before the cliques are built. Gold -> targets
-> decoder is the oracle (`python -m ie_event.oracle`); it loses only arguments that no token span
reproduces exactly (leading spaces, boundaries inside one WordPiece token) and arguments longer than
the window overlap. Groupings that cliques cannot express (an event listed twice, an event whose
arguments all lie inside a larger event of the same type) change no scored triple.

Flow: data.py (schema, records, validation, windows, sparse targets) -> model.py (encoder + heads,
loss, batched extraction) -> decode.py (positive cells -> spans, links, events) -> metric.py
(official argument-level P/R/F1) -> train / predict / evaluate / oracle command lines.
"""
