"""DuIE 2.0 relation extraction (LIC2020), GPLinker-style: entity spans plus entity-pair links.

Why this design. The bert4keras author's LIC2020 baseline points at subjects, then at (object, predicate)
pairs conditioned on one subject, and keeps one object dict per (subject, predicate): two actors of one
film collapse into one SPO, which caps dev recall near 0.876 with perfect extraction. Here nothing is
merged, and one forward pass scores every candidate at once:

- an entity global pointer scores every token span (head, tail) as a subject (channel 0) or as an
  object value (channel 1; the value of any slot, main or extra);
- per link type, a head-head matrix and a tail-tail matrix score token pairs. Link types are
  (predicate, "@value", "subject") for every predicate, and for each extra slot k of a complex
  predicate (inWork, inArea, onDate, period) two more, from the subject and from the main object
  to the slot value. An SPO is read off as subject s + main object o whose heads and tails are both
  linked; an extra slot value is attached to (s, p, o) only when it is linked from both s and o, so two
  awards of one person keep their own dates and works.

Every SPO, including several objects of one (subject, predicate), is a separate pair of cells, so a
perfect model recovers them all (`python -m ie_relation.oracle`: gold -> targets -> this decoder; on
4,000 real DuIE sentences with the 21,128-token Chinese vocab, F1 0.9992 at maxlen 256; see README.md).
What is lost: values that start or end inside a token (a truncated "Tolói"), values with surrounding
spaces (targeted and predicted without them, but scored as given) and, rarely, a spurious
pair when two nested subjects share a head token and two nested objects share a tail token.

The link matrices use Efficient GlobalPointer by default (model.efficient_links): one shared query/key
projection plus per-channel start/end biases instead of 124 separate projections: 0.23M instead of
12.2M link weights on a 768-wide encoder (head size 64), far less memory per step, and on the samples
a randomly initialised tiny encoder left the all-negative plateau in about half the steps. Targets are sparse (the positive cells per channel) and trained with the sparse
multilabel categorical cross-entropy of bert4keras, so a 256-token window with 126 channels needs no
dense 126 x 256 x 256 label tensor. Texts longer than maxlen are covered by overlapping windows; an SPO
that fits a window whole is a target of that window, and decoded windows are merged by set union.

Flow: data.py (schema, validation, windows, targets) -> model.py (encoder + pointers, loss) ->
train.py (dev evaluation with decode.py + metric.py) -> predict.py (JSON Lines + zip) ->
evaluate.py (official metric) ; oracle.py checks the representation itself.
"""
