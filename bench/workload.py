"""What the benchmark runs on: a random BERT of a realistic size whose vocabulary covers a track's
samples, the track configured for it, more records than the samples hold, and the pre-collated
inputs of the bare references.

The checkpoint is written by common/tiny_bert.py (the tests' `tiny_bert(track)` writer) at the asked
size, its vocabulary the sample texts' tokens filled up to `vocab_size` (a real vocabulary's width:
the embeddings and the generators' output layer cost follow it). Speed does not depend on the weights.
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples")
TRACKS = ["ie_relation", "ie_event", "mrc", "dialog", "semantic_parsing"]
GENERATING = ("dialog", "semantic_parsing")

# Per track, on top of the common settings: what its inputs need at this length. semantic_parsing's
# source holds the question and its database's columns (~240 wordpieces with the SQL): maxlen 256.
TRACK_OVERRIDES = {
    "ie_relation": [],
    "ie_event": [],
    "mrc": [],
    "dialog": ["model.max_target_len={target_len}", "predict.max_len={target_len}"],
    "semantic_parsing": ["model.maxlen={sql_maxlen}", "data.max_sql_len={target_len}"],
}
ID_KEYS = ("id", "qid", "question_id")   # made unique in copies (a duplicate question_id is refused)


def write_checkpoint(folder, track, settings):
    """A random BERT of settings' size whose vocabulary covers `track`'s samples; returns `folder`."""
    from common.tiny_bert import sample_texts, write_tiny_checkpoint
    write_tiny_checkpoint(folder, sample_texts(os.path.join(SAMPLES, track)), layers=settings["layers"],
                          heads=settings["heads"], hidden=settings["hidden"],
                          intermediate_factor=settings["intermediate"] // settings["hidden"],
                          seed=0, with_mlm=True, vocab_size=settings["vocab_size"])
    return folder


def overrides(track, model_dir, data_dir, out_dir, settings):
    """section.key=value settings of `track` for the benchmark."""
    values = dict(settings, sql_maxlen=max(256, settings["maxlen"]))
    common = [f"model.dir={model_dir}", f"model.maxlen={settings['maxlen']}", f"data.dir={data_dir}",
              f"train.out_dir={out_dir}", f"train.batch_size={settings['batch']}", "train.epochs=1",
              "train.epoch_repeats=1", f"predict.batch_size={settings['batch']}"]
    return common + [o.format(**values) for o in TRACK_OVERRIDES[track]]


def make_track(name, *settings):
    from common.config import load_config
    from common.track import track_class
    cls = track_class(name)
    return cls(load_config(cls.config_class, None, list(settings)))


def data_folder(track, folder, copies):
    """`folder` with the track's sample files (linked) and bench_input.json: the sample train file's
    records `copies` times over, their ids made unique. Returns the input file's path."""
    os.makedirs(folder, exist_ok=True)
    source = os.path.join(SAMPLES, track)
    for name in os.listdir(source):
        os.symlink(os.path.join(source, name), os.path.join(folder, name))
    path = os.path.join(folder, "bench_input.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(replicate(open(os.path.join(source, "train.json"), encoding="utf-8-sig").read(), copies))
    return path


def replicate(content, copies):
    """The records of a file's content `copies` times over, in its format (a JSON list, a JSON object
    with a "data" list, or JSON Lines), every id-like field of copy k suffixed with -k."""
    def renamed(value, k):
        if isinstance(value, dict):
            return {key: (f"{item}-{k}" if key in ID_KEYS and isinstance(item, str) and k else renamed(item, k))
                    for key, item in value.items()}
        if isinstance(value, list):
            return [renamed(item, k) for item in value]
        return value

    try:
        document = json.loads(content)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, list):
        return json.dumps([renamed(r, k) for k in range(copies) for r in document], ensure_ascii=False)
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return json.dumps(dict(document, data=[renamed(r, k) for k in range(copies) for r in document["data"]]),
                          ensure_ascii=False)
    lines = [json.loads(line) for line in content.splitlines() if line.strip()]
    return "".join(json.dumps(renamed(r, k), ensure_ascii=False) + "\n" for k in range(copies) for r in lines)


def trained_like_thresholds(track, model, examples, positives=50):
    """ie_relation / ie_event: [predict] threshold changes under which this random model predicts about
    `positives` cells per window, as a trained one does (at the configured logit 0 a random model fires
    on half of all cells, and decoding them all would measure a workload no trained model makes); {}
    for the other tracks. The threshold is the matching quantile of the logits of a batch of windows."""
    import numpy as np
    from common.tokenize import sentence_inputs
    if track.name not in ("ie_relation", "ie_event"):
        return {}
    batch = examples[:track.cfg.predict.batch_size]
    scores = np.asarray(model.predict_on_batch(sentence_inputs([w.token_ids for w in batch], track.tokenizer.pad_id)))
    threshold = float(np.quantile(scores, 1 - positives * len(batch) / scores.size))
    if track.name == "ie_relation":
        return {"entity_threshold": threshold, "link_threshold": threshold}
    return {"threshold": threshold}


def forward_batches(track, model, examples):
    """The bare reference of `track.infer`: (call, payloads) where payloads are the inputs of each
    batch `infer` would run (the same length-sorted batches, through common.runner), collated in
    advance, and `call(payload)` is the model call alone: `predict_on_batch` (ie_relation, ie_event: their
    in-graph selection, which `infer` calls; dialog, semantic_parsing: the batched generation)."""
    import numpy as np
    from common.runner import run_sorted
    from common.tokenize import sentence_inputs
    batch_size, name = track.cfg.predict.batch_size, track.name
    pad_id = track.tokenizer.pad_id
    payloads = []

    def collect(prepare):
        def call(batch):
            payloads.append(prepare(batch))
            return [None] * len(batch)
        return call

    if name == "ie_relation":  # its in-graph selection of spans and links, which `infer` calls
        select = track._selector(model)
        run_sorted(examples, batch_size, collect(lambda b: (sentence_inputs([w.token_ids for w in b], pad_id),
                                                            [len(w) - 2 for w in b])),
                   length=lambda w: -len(w))
        return (lambda payload: select(*payload)), payloads
    if name == "ie_event":
        from ie_event.model import positive_cells
        select = positive_cells(model, track.cfg.predict.threshold, track.cfg.predict.max_cells)
        run_sorted(examples, batch_size, collect(lambda b: sentence_inputs([w.token_ids for w in b], pad_id)),
                   length=lambda w: len(w.token_ids))
        return (lambda inputs: [np.asarray(x) for x in select(*inputs)]), payloads
    if name == "mrc":
        from mrc import data
        run_sorted(examples, batch_size, collect(lambda b: data.collate(b)[0]), length=len)
        return (lambda inputs: np.asarray(model.predict_on_batch(inputs))), payloads
    if name == "dialog":
        from dialog import encode
        from dialog.model import Generator
        generator = Generator(model, track.cfg, track.tokenizer.sep_id, encode.goal_end_id(track.tokenizer))
        run_sorted(examples, batch_size, collect(list), length=lambda e: len(e.source))
        return generator, payloads
    if name == "semantic_parsing":
        from semantic_parsing import model as sql_model
        settings = sql_model.settings(track.cfg.predict, track.cfg.data.max_sql_len)
        scorer = track.scorer(model)
        run_sorted(examples, batch_size,
                   collect(lambda b: (b, [track.start_state(s.db_id, s.values) for s in b])), length=len)
        return (lambda p: sql_model.generate(scorer, p[0], p[1], settings, track.tokenizer.sep_id)), payloads
    raise ValueError(f"no bare forward for track {name!r}")
