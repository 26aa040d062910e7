"""Benchmark: ie_relation predict windows/s, dense scores to the host against the in-graph selection.

On a random-weight model of the given size with the sample schema (DuIE's 48 predicates, 126 channels),
over the sample windows repeated to `--windows` (or, with --full, windows of maxlen tokens):
- dense: `model.predict_on_batch` returns the (batch, channels, L, L) scores, decoded on the host
  (decode.window_spos), as ie_relation predicted before the selection moved into the graph;
- graph: `IERelation.infer`, whose graph keeps only the best spans and the links between them
  (ie_relation.model.build_selector).
Both decode to the same SPOs (checked). Rounds alternate; medians are printed. A random model scores
about half of all cells positive, the decoder's worst case (every cap reached); `--threshold` raises
both thresholds to see a sparser, trained-like case.

    python bench/ie_relation_predict.py [--layers 6 --hidden 256 --maxlen 64 --windows 256 --rounds 3]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "ie_relation")


def build(args):
    sys.path.insert(0, ROOT)
    from common import backend
    backend.setup(seed=0)
    from common.config import load_config
    from common.tiny_bert import bert_config, sample_texts, write_vocab
    from ie_relation.track import IERelation
    folder = tempfile.mkdtemp()
    vocab = os.path.join(folder, "vocab.txt")
    write_vocab(vocab, sample_texts(SAMPLES))
    with open(vocab, encoding="utf-8") as f:
        size = sum(1 for _ in f)
    with open(os.path.join(folder, "bert_config.json"), "w") as f:
        json.dump(bert_config(size, args.hidden, args.layers, max(1, args.hidden // 64), 4 * args.hidden), f)
    overrides = [f"data.dir={SAMPLES}", f"model.dir={folder}", f"model.maxlen={args.maxlen}",
                 f"predict.batch_size={args.batch}", f"predict.entity_threshold={args.threshold}",
                 f"predict.link_threshold={args.threshold}"]
    track = IERelation(load_config(IERelation.config_class, None, overrides))
    records, _ = track.load_records(os.path.join(SAMPLES, "train.json"))
    if args.full:  # one long text of all samples: every window maxlen tokens long
        records = [{"text": "".join(r["text"] for r in records) * 4, "spo_list": []}]
    windows = track.encode(records, with_targets=False)
    windows = (windows * (args.windows // len(windows) + 1))[:args.windows]
    return track, track.build_model(load_checkpoint=False), windows


def dense_spos(track, model, windows):
    import numpy as np
    from common.tokenize import sentence_inputs
    out = []
    for i in range(0, len(windows), track.cfg.predict.batch_size):
        batch = windows[i:i + track.cfg.predict.batch_size]
        scores = np.asarray(model.predict_on_batch(sentence_inputs([w.token_ids for w in batch],
                                                                   track.tokenizer.pad_id)))
        out += [track._window_spos(w, s) for w, s in zip(batch, scores)]
    return out


def graph_spos(track, model, windows):
    windows = sorted(windows, key=len, reverse=True)  # as infer's stream_sorted: compare in one order
    return list(track.infer(model, windows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--maxlen", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--full", action="store_true", help="full windows (maxlen tokens) cut from one long text "
                        "(the samples' own texts are short: 27 characters on average)")
    args = parser.parse_args(argv)
    track, model, windows = build(args)
    ordered = sorted(windows, key=len, reverse=True)
    same = dense_spos(track, model, ordered) == graph_spos(track, model, windows)
    times = {"dense": [], "graph": []}
    for _ in range(args.rounds):
        for name, run in (("dense", dense_spos), ("graph", graph_spos)):
            start = time.perf_counter()
            run(track, model, ordered if name == "dense" else windows)
            times[name].append(len(windows) / (time.perf_counter() - start))
        print(json.dumps({k: round(v[-1], 1) for k, v in times.items()}), flush=True)
    summary = {f"{k}_windows_per_s": round(statistics.median(v), 1) for k, v in times.items()}
    summary.update(same_spos=same, graph_over_dense=round(summary["graph_windows_per_s"]
                                                          / summary["dense_windows_per_s"], 2),
                   maxlen=args.maxlen, threshold=args.threshold, windows=len(windows),
                   tokens_per_window=round(sum(map(len, windows)) / len(windows), 1))
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
