"""mrc predict throughput: windows batched across questions vs one question at a time.

    python bench/mrc_throughput.py --questions FILE --vocab VOCAB [--layers 2 --hidden 66 --maxlen 512]

Random weights (speed does not depend on them), a BERT of the given size, the real span decoder.
Both modes run the same forward call (`predict_on_batch`); a third line times Keras `model.predict`
per question for reference. Prints one JSON line per measurement.
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
    parser.add_argument("--questions", required=True, help="questions in the official format")
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--config", help="a config laid over mrc/config.toml")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=66)
    parser.add_argument("--maxlen", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    from common import backend
    backend.setup(seed=0)
    from common.config import load_config
    from common.tiny_bert import bert_config
    from common.tokenize import pad
    from mrc.track import MRC

    with open(args.vocab, encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f)
    config_path = os.path.join(tempfile.mkdtemp(), "bert_config.json")
    with open(config_path, "w") as f:
        json.dump(bert_config(vocab_size, args.hidden, args.layers, max(2, args.hidden // 64), 4 * args.hidden), f)
    cfg = load_config(MRC.config_class, args.config, [f"model.config_path={config_path}",
                                                      f"model.vocab_path={args.vocab}", f"model.maxlen={args.maxlen}",
                                                      f"predict.batch_size={args.batch_size}"])
    track = MRC(cfg)
    span_model = track.build_model(load_checkpoint=False)
    questions, _ = track.load_records(args.questions, labelled=False)
    windows = track.encode(questions, with_targets=False)
    list(track.infer(span_model, windows[:args.batch_size]))  # warm up both batch shapes (infer is lazy)
    list(track.infer(span_model, windows[:1]))
    began = time.perf_counter()
    batched = track.decode(questions, windows, track.infer(span_model, windows))
    batched_s = time.perf_counter() - began
    began = time.perf_counter()
    single = []
    for question in questions:  # one question at a time: its windows are one batch
        own = track.encode([question], with_targets=False)
        single += track.decode([question], own, track.infer(span_model, own))
    single_s = time.perf_counter() - began
    began = time.perf_counter()
    for question in questions:
        own = track.encode([question], with_targets=False)
        span_model.predict([pad([w.token_ids for w in own]), pad([w.segment_ids for w in own])], verbose=0)
    keras_predict_s = time.perf_counter() - began
    n = len(questions)
    print(json.dumps({"questions": n, "windows": len(windows), "layers": args.layers, "hidden": args.hidden,
                      "maxlen": args.maxlen, "batched_questions_per_s": round(n / batched_s, 2),
                      "one_at_a_time_questions_per_s": round(n / single_s, 2),
                      "speedup": round(single_s / batched_s, 2),
                      "keras_predict_per_question_questions_per_s": round(n / keras_predict_s, 2),
                      "speedup_vs_keras_predict": round(keras_predict_s / batched_s, 2),
                      "same_answers": batched == single}))


if __name__ == "__main__":
    main()
