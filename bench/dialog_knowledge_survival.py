"""Benchmark: how much of the knowledge a reply uses survives context selection (an oracle).

For every bot turn of a session file, the knowledge objects the reference reply mentions (object
text, spaces ignored, at least 2 characters, found in the reply and not only inside a longer
mentioned object) are the ones the model needs. An
object survives when a selected triple carries it whole. Measured for `dialog.context.select_context`
(the relevance policy) and `truncated_context` (the same goals, situation and history share, then
profile and knowledge in file order: blind truncation), at each maxlen, with real BERT token counts.
Also reported: the share of samples whose whole context fits, how much history is kept.

    python bench/dialog_knowledge_survival.py SESSIONS VOCAB [--maxlen 256 384 448] [--history-share 0.4] [--slots]
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def mentioned_objects(sample):
    """Objects the reply names; one found only inside a longer named object ("中国" inside
    "中国 电影 导演 协会 年度 男演员") counts as that longer one."""
    from dialog.goals import compact
    reply = compact(sample.response)
    found = {compact(o) for _, _, o in sample.knowledge if len(compact(o)) >= 2 and compact(o) in reply}
    return {o for o in found if not any(o != longer and o in longer for longer in found)}


def survival(samples, select, count_tokens, maxlen, history_share):
    from dialog.goals import compact
    needed = kept = turns = turns_all = 0
    for sample in samples:
        objects = mentioned_objects(sample)
        context = select(sample, count_tokens, maxlen, history_share)
        assert count_tokens(context.text()) <= maxlen
        selected = {compact(o) for _, _, o in context.knowledge}
        needed += len(objects)
        kept += len(objects & selected)
        turns += len(context.history)
        turns_all += len(sample.history)
    return {"needed": needed, "kept": kept, "survival": round(kept / needed, 4) if needed else None,
            "history_turns_kept": round(turns / turns_all, 4) if turns_all else None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("sessions", help="DuRecDial session file (JSON Lines)")
    parser.add_argument("vocab", help="BERT vocab.txt for token counts")
    parser.add_argument("--maxlen", type=int, nargs="+", default=[256, 384, 448])
    parser.add_argument("--history-share", type=float, default=0.4)
    parser.add_argument("--slots", action="store_true", help="measure on samples with slot tags (dialog.slots)")
    args = parser.parse_args(argv)

    from common.tokenize import OffsetTokenizer
    from dialog.context import Context, profile_items, select_context, serialise, speakers, truncated_context
    from dialog.data import build_samples, load_sessions

    tokenizer = OffsetTokenizer(args.vocab)

    def count_tokens(text):
        return len(tokenizer.encode_cached(text))

    sessions, _ = load_sessions(args.sessions)
    samples = build_samples(sessions)
    if args.slots:
        from dialog.slots import SlotMap, slot_sample
        samples = [slot_sample(s, SlotMap.build(s.knowledge, s.user_profile, s.goals)) for s in samples]
    with_mentions = sum(1 for s in samples if mentioned_objects(s))
    print(f"{len(sessions)} sessions, {len(samples)} bot turns, {with_mentions} mention knowledge objects")
    results = {}
    for maxlen in args.maxlen:
        fits = sum(count_tokens(serialise(Context(s.goals, s.situation, profile_items(s.user_profile),
                                                  s.knowledge, list(zip(speakers(s.history), s.history)))))
                   <= maxlen for s in samples)
        results[maxlen] = {
            "whole_context_fits": round(fits / len(samples), 4),
            "policy": survival(samples, select_context, count_tokens, maxlen, args.history_share),
            "blind": survival(samples, truncated_context, count_tokens, maxlen, args.history_share),
        }
        print(f"maxlen {maxlen}: {json.dumps(results[maxlen], ensure_ascii=False)}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
