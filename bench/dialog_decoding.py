"""Decoding speed of common.seq2seq: batched vs one source at a time, cached vs full recompute.

    python bench/dialog_decoding.py [--sizes tiny,6x256] [--sources 32] [--source-len 300]
                                    [--beam 4] [--tokens 24] [--batch 32]

Random UniLM models (speed does not depend on the weights): "tiny" is the demo's checkpoint size
(2 layers, 2 heads, hidden 56, the sample vocabulary), "6x256" 6 layers of width 256 with 4 heads
and a 21,128-token vocabulary (RoBERTa-wwm-ext's). Every hypothesis is made exactly `--tokens`
long (min_len = max_len), so all modes do the same work. For each size and scorer (cached keys and
values, or full recompute as bert4keras's decoder does) it prints one JSON line per mode: samples/s,
output tokens/s (returned tokens) and the batched / one-at-a-time ratio.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = {"tiny": dict(layers=2, hidden=56, heads=2, vocab=1000), "6x256": dict(layers=6, hidden=256, heads=4, vocab=21128)}


def random_model(size, maxlen):
    from common import seq2seq
    from common.model import checkpoint_config
    from common.tiny_bert import bert_config
    spec = SIZES[size]
    folder = tempfile.mkdtemp(prefix=f"decode_{size}_")
    with open(os.path.join(folder, "bert_config.json"), "w") as f:
        json.dump(bert_config(spec["vocab"], spec["hidden"], spec["layers"], spec["heads"], 4 * spec["hidden"]), f)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"t{i}" for i in range(spec["vocab"] - 4)]))
    cfg = checkpoint_config(folder, maxlen=maxlen)
    return seq2seq.build_model(cfg, "unilm", load_checkpoint=False), cfg


def timed(decode, sources, batch):
    began = time.perf_counter()
    hypotheses = []
    for at in range(0, len(sources), batch):
        hypotheses += decode(sources[at:at + batch])
    seconds = time.perf_counter() - began
    return seconds, sum(len(h.tokens) for h in hypotheses)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,6x256")
    parser.add_argument("--scorers", default="cached,full")
    parser.add_argument("--sources", type=int, default=32, help="sources decoded per mode")
    parser.add_argument("--source-len", type=int, default=300, help="tokens per source, [CLS]/[SEP] included")
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=24, help="tokens generated per source")
    parser.add_argument("--batch", type=int, default=32, help="sources per batch in the batched mode")
    args = parser.parse_args()

    from common import backend
    backend.setup(seed=0)
    import numpy as np
    from common import seq2seq

    settings = seq2seq.Settings(strategy="beam", beam_size=args.beam, min_len=args.tokens, max_len=args.tokens,
                                length_penalty=1.0)
    for size in args.sizes.split(","):
        model, cfg = random_model(size, args.source_len + args.tokens + 1)
        rng = np.random.default_rng(0)
        vocab = SIZES[size]["vocab"]
        sources = [[2] + rng.integers(5, vocab, args.source_len - 2).tolist() + [3] for _ in range(args.sources)]
        for kind in args.scorers.split(","):
            scorer = seq2seq.scorer_for(model, cfg, "unilm", cache=(kind == "cached"))

            def decode(batch):
                return seq2seq.generate(scorer, batch, settings, end_id=3)

            decode(sources[:2])                      # trace the graphs
            decode(sources[:1])
            rates = {}
            for mode, batch in (("one_at_a_time", 1), ("batched", args.batch)):
                seconds, tokens = timed(decode, sources, batch)
                rates[mode] = len(sources) / seconds
                print(json.dumps({"size": size, "scorer": kind, "mode": mode, "beam": args.beam,
                                  "source_len": args.source_len, "tokens": args.tokens, "batch": batch,
                                  "seconds": round(seconds, 2), "samples_per_s": round(rates[mode], 2),
                                  "tokens_per_s": round(tokens / seconds, 1)}), flush=True)
            print(json.dumps({"size": size, "scorer": kind,
                              "batched_over_one_at_a_time": round(rates["batched"] / rates["one_at_a_time"], 2)}),
                  flush=True)


if __name__ == "__main__":
    main()
