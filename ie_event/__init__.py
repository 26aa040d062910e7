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
so arguments are grouped into events without triggers, by argument-argument links: a head-link matrix
scores (start of argument a, start of argument b) and a tail-link matrix scores (end of a, end of b)
for two arguments of one event (one shared pair by default; `model.links_per_event_type = true` gives
each event type its own pair). Two predicted arguments of one type are linked when both their head
link and their tail link fire; each event is a maximal clique of linked arguments (Bron-Kerbosch).
Links are stored in canonical order (smaller position first), so one upper-triangular matrix suffices.

The metric counts every argument as often as it is written, and the real data repeats arguments
across events of one type (DuEE dev: 175 triples in two events of one sentence). Cliques alone write
a shared argument once per clique, which loses two events with the same arguments (one clique),
an event whose arguments all lie in a larger event of its type (absorbed), and, since links join
positions and not roles, mixes the roles of one string that is the winner of one game and the loser
of another. Count heads fix this: per event type and level k = 2 .. `model.events_per_argument`, a
span head marks the arguments written in at least k events of that type; the decoder then adds
events for arguments found in fewer cliques than their count and takes arguments out of cliques that
hold them too often (decode.py). On 500 real DuEE sentences the oracle under the published metric
goes from 0.9883 (no count heads) to 0.9998 (levels 2 and 3).

All heads are efficient global pointers (RoPE for spans, none for links, whose distance is no cue) on
one encoder; their logits are concatenated into one tensor, the targets are sparse lists of positive
(i, j) cells per head, and the loss is the sparse multilabel cross-entropy summed over heads, so
memory for targets is tiny however many heads there are.

Texts longer than `model.maxlen` are cut into overlapping token windows; spans, links and counts are
decoded per window in character coordinates and merged (union) before the cliques are built.
Decoding is bounded per record (`predict.max_arguments` per event type, `predict.max_events`) and
the model passes at most `predict.max_cells` cells per window, so an untrained or adversarial model
cannot make predict run away in time or memory. Gold -> targets -> decoder is the oracle
(`python -m ie_event.oracle`); it loses only arguments that no token span reproduces exactly
(boundaries inside one WordPiece token), surrounding spaces of an argument (trained and decoded
without them), arguments longer than the window overlap, and repeats beyond the count levels.

Flow: data.py (schema, records, validation, windows, sparse targets) -> model.py (encoder + heads,
loss, batched extraction) -> decode.py (positive cells -> spans, links, counts, events) -> metric.py
(official argument-level P/R/F1) -> train / predict / evaluate / oracle command lines (track.py);
README.md has the commands, the settings that matter and the measured numbers.
"""
