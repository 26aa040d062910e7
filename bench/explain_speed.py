"""Time per integrated-gradients explanation (common.explain) on a random BERT of a given size.

    python bench/explain_speed.py [--layers 6 --hidden 256 --lengths 32,128,256 --targets 1,4]

Random weights (speed does not depend on them), a global-pointer head, one input per length. Each
measurement explains `targets` pointer cells of one input from one path; it prints one JSON line
with the seconds per explanation call and the worst completeness error among its targets.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vocab-size", type=int, default=21128)
    parser.add_argument("--lengths", default="32,128,256")
    parser.add_argument("--targets", default="1,4")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from common import backend
    backend.setup(seed=0)
    import keras
    import numpy as np
    from bert4keras.layers import GlobalPointer

    from common.explain import integrated_gradients
    from common.model import build_encoder, checkpoint_config
    from common.tiny_bert import bert_config

    folder = tempfile.mkdtemp()
    config_path, vocab_path = os.path.join(folder, "bert_config.json"), os.path.join(folder, "vocab.txt")
    with open(config_path, "w") as f:
        json.dump(bert_config(args.vocab_size, args.hidden, args.layers, max(2, args.hidden // 64),
                              4 * args.hidden), f)
    with open(vocab_path, "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"t{i}" for i in range(args.vocab_size - 4)]))
    encoder = build_encoder(checkpoint_config(folder), load_checkpoint=False)
    model = keras.Model(encoder.inputs, GlobalPointer(2, 64)(encoder.output))

    rng = np.random.default_rng(0)
    for length in (int(n) for n in args.lengths.split(",")):
        token_ids = [2] + rng.integers(5, args.vocab_size, length - 2).tolist() + [3]
        segment_ids = [0] * length
        for n_targets in (int(n) for n in args.targets.split(",")):
            targets = [lambda out, i=i: out[:, 0, i + 1, i + 3] for i in range(n_targets)]
            integrated_gradients(model, token_ids, segment_ids, targets, steps=2, chunk=2)  # warm up
            began = time.perf_counter()
            for _ in range(args.repeat):
                results = integrated_gradients(model, token_ids, segment_ids, targets, args.steps, args.chunk)
            seconds = (time.perf_counter() - began) / args.repeat
            print(json.dumps({"layers": args.layers, "hidden": args.hidden, "length": length,
                              "targets": n_targets, "steps": args.steps, "chunk": args.chunk,
                              "seconds": round(seconds, 3),
                              "max_completeness_error": max(r.completeness_error for r in results)}),
                  flush=True)


if __name__ == "__main__":
    main()
