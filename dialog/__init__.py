"""DuRecDial recommendation dialogue (LIC2020): the bot's next turn, goal first, then the reply.

A session (train/dev) is a goal sequence (`[1] 问答 ( User 主动 ... ) --> [2] ... --> [L] 再见`),
a situation, a user profile, ~23 knowledge triples and the conversation; a test input shows only
the first and the second-to-last goal (type and topic), the rest of the same fields and the history
so far, and asks for the bot's next turn.

Design, and why
---------------
Samples are built the way the test builds them. Every bot turn of a session becomes one sample that
holds exactly what a test input holds (`data.session_samples`; `data.input_sample` for a test input),
so training never sees the goal descriptions or the middle goals that the test hides. The target is
the goal active at that turn (from the "[k]" markers of the conversation: type, and for a goal that
recommends two items the one the turn is about) followed by the reply; writing the goal first makes
the model plan before it speaks, as the 2nd-placed team did with one left-to-right BERT LM.

The context does not fit: ~790 tokens on average. `context.select_context` keeps the goals, the
situation and the newest turns, then the triples about the goal topics and the entities the last
turns name, then older turns, and cuts a long comment only as the last step. On 60 real sessions it
keeps 97.1% of the knowledge objects the reference replies name at maxlen 384 (blind truncation at
the same budget: 26.9%; with slot tags 97.1% / 23.6%), while keeping 63% of the history turns.

With `slots`, names from the knowledge and the profile become typed tags ([电影1], [明星1]) in the
context and the target alike and are filled back after decoding (`slots.SlotMap`): the model copies
a tag instead of spelling a title it may never have seen. `postprocess.Segmenter` re-segments a
generated reply with jieba, keeping the session's names whole as the references write them (the
references' own words come back for 446 of 449 real replies), and never writes an empty line.

Modules: goals.py (goal strings, the test list form, the goal of each turn) -> data.py (files,
located errors, samples, target text) -> context.py (selection under a token budget, the context
text) -> slots.py (typed tags) -> postprocess.py (reply -> submission line) -> metric.py (the
organisers' F1 / BLEU-1/2 / DISTINCT-1/2) -> evaluate.py (`python -m dialog.evaluate GOLD PRED`).
"""
