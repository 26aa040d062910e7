"""Word Mover's Distance and Word Rotator's Distance between two sequences of token vectors.

Both are an earth mover's distance (optimal transport) between two weighted point sets, as in Su
Jianlin's "From EMD, WMD to WRD" (kexue.fm/archives/7388):

- WMD: every token weighs the same (1/n, or the given weights, normalised), cost = Euclidean
  distance ||x_i - y_j||.
- WRD: token i weighs ||x_i|| / sum_k ||x_k||, cost = cosine distance 1 - cos(x_i, y_j). A vector's
  norm says how much it matters, its direction what it means. WRD lies in [0, 2].

Invariances (tested): WMD does not change when every vector of BOTH sequences moves by the same
offset, and WMD(x, x + d) = ||d||. WRD does not change when all vectors of ONE sequence are scaled by
the same constant c > 0 (weights are normalised, directions kept); scaling a single vector changes
its weight and hence, in general, the distance.

The transport problem is solved exactly by POT's network simplex (`ot.emd2`). POT probes for
TensorFlow, PyTorch, JAX and CuPy when imported (and would import TensorFlow before
`common.backend.setup()`); `_ot()` switches those probes off.

Command: `python -m common.similarity --checkpoint DIR|--run RUN A.txt B.txt` compares line i of A
with line i of B using the vectors of a BERT checkpoint, or of a trained run's fine-tuned encoder
(see `TokenVectors`), and prints one JSON line per pair and the means as one JSON object on the
last line. `dialog.evaluate --run RUN` prints the means as an unofficial line.
"""
import json
import logging
import os

import numpy as np

log = logging.getLogger(__name__)


def _ot():
    for backend in ("TENSORFLOW", "PYTORCH", "JAX", "CUPY"):
        os.environ.setdefault(f"POT_BACKEND_DISABLE_{backend}", "1")
    import ot
    return ot


def _points(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (tokens, dim), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds non-finite values")
    return x


def _weights(w, n, name):
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    if w.shape != (n,) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"{name} must be {n} non-negative finite weights with a positive sum")
    return w / w.sum()


def emd(a, b, cost):
    """Earth mover's distance: min over transport plans T >= 0 with row sums a and column sums b
    of sum T * cost (a and b are normalised weights)."""
    ot = _ot()
    value, info = ot.emd2(a, b, cost, numItermax=10_000_000, log=True)
    if info.get("warning"):
        raise RuntimeError(f"optimal transport did not converge: {info['warning']}")
    return max(float(value), 0.0)


def wmd(x, y, x_weights=None, y_weights=None):
    """Word Mover's Distance between token vectors x (n, d) and y (m, d); uniform weights unless given."""
    from scipy.spatial.distance import cdist
    x, y = _points(x, "x"), _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y differ in dimension: {x.shape[1]} vs {y.shape[1]}")
    cost = cdist(x, y, "euclidean")  # exact per pair: identical vectors cost exactly 0
    return emd(_weights(x_weights, len(x), "x_weights"), _weights(y_weights, len(y), "y_weights"), cost)


def wrd(x, y):
    """Word Rotator's Distance: weights from the vector norms, cost 1 - cosine between directions."""
    x, y = _points(x, "x"), _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y differ in dimension: {x.shape[1]} vs {y.shape[1]}")
    x_norms, y_norms = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
    if x_norms.sum() == 0 or y_norms.sum() == 0:
        raise ValueError("WRD needs at least one non-zero vector on each side")
    # a zero vector has weight 0, so its (undefined) direction never carries mass
    x_dirs = x / np.where(x_norms > 0, x_norms, 1.0)[:, None]
    y_dirs = y / np.where(y_norms > 0, y_norms, 1.0)[:, None]
    cost = np.clip(1.0 - x_dirs @ y_dirs.T, 0.0, 2.0)
    return emd(x_norms / x_norms.sum(), y_norms / y_norms.sum(), cost)


def pair_scores(preds, refs, vectors):
    """[{"WMD", "WRD"} or None] per pair; None where either text has no token (nothing to transport).
    `vectors(texts)` returns one (tokens, dim) array per text, e.g. `TokenVectors(dir).vectors`."""
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    pred_vectors, ref_vectors = vectors(list(preds)), vectors(list(refs))
    scores = []
    for x, y in zip(pred_vectors, ref_vectors):
        if len(x) == 0 or len(y) == 0:
            scores.append(None)
        else:
            scores.append({"WMD": wmd(x, y), "WRD": wrd(x, y)})
    return scores


def summarise(scores):
    """Means over the scored pairs, with how many were scored and how many had an empty side."""
    scored = [s for s in scores if s is not None]
    skipped = len(scores) - len(scored)
    if skipped:
        log.warning("%d of %d pair(s) have an empty side and are left out of the means", skipped, len(scores))
    mean = (lambda key: sum(s[key] for s in scored) / len(scored)) if scored else (lambda key: None)
    return {"WMD": mean("WMD"), "WRD": mean("WRD"), "pairs": len(scored), "skipped_empty": skipped}


def corpus_similarity(preds, refs, vectors):
    """{"WMD", "WRD"} means over pairs (pred i, ref i), plus "pairs" and "skipped_empty" counts."""
    return summarise(pair_scores(preds, refs, vectors))


class TokenVectors:
    """One (tokens, dim) vector array per text from a BERT checkpoint, tokens from `OffsetTokenizer`
    without [CLS]/[SEP].

    source="encoder" (default): the last hidden layer, run over [CLS] text [SEP]. These vectors
    depend on the context, so the same character in two different sentences is not a free match;
    that is what a similarity between a generated reply and a reference should see. (They leave a
    LayerNorm, so expect their norms, and with them WRD's weights, to vary less than the embeddings'.)
    source="embeddings": the rows of the token-embedding matrix, context-free, as the static word
    vectors WMD and WRD were defined on; for Chinese BERT these are per-character vectors.

    `model` is a checkpoint folder (Google or HuggingFace format) or a [model] section
    (`common.config.ModelConfig`, e.g. a run's `cfg.model`); `TokenVectors.from_encoder` wraps an
    encoder that is already built (e.g. with trained weights).
    """

    def __init__(self, model, source="encoder", batch_size=32, family="bert"):
        from common.model import build_encoder, checkpoint_config, vocab_path
        model_cfg = checkpoint_config(os.fspath(model), family) if isinstance(model, (str, os.PathLike)) else model
        self._init(build_encoder(model_cfg), vocab_path(model_cfg), source, batch_size)

    @classmethod
    def from_encoder(cls, encoder, vocab_path, source="encoder", batch_size=32):
        """`encoder`: Keras model [token_ids, segment_ids] -> (batch, seq, hidden), as build_encoder returns."""
        self = cls.__new__(cls)
        self._init(encoder, vocab_path, source, batch_size)
        return self

    @classmethod
    def from_run(cls, run_dir, source="encoder", batch_size=32):
        """The vectors of a trained run's fine-tuned encoder (common.run_encoder)."""
        from common.run_encoder import load_run_encoder
        encoder, vocab_path, _ = load_run_encoder(run_dir)
        return cls.from_encoder(encoder, vocab_path, source, batch_size)

    def _init(self, encoder, vocab_path, source, batch_size):
        from common.model import max_tokens
        from common.tokenize import OffsetTokenizer
        if source not in ("encoder", "embeddings"):
            raise ValueError(f"source must be 'encoder' or 'embeddings', got {source!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.encoder, self.source, self.batch_size = encoder, source, int(batch_size)
        self.tokenizer = OffsetTokenizer(vocab_path)
        self.max_tokens = max_tokens(encoder)

    def vectors(self, texts):
        """One float32 array (tokens, dim) per text; a text longer than the model takes is cut (logged)."""
        from common.tokenize import sentence_inputs
        ids = [self.tokenizer.encode(text).ids for text in texts]
        cut = sum(len(row) > self.max_tokens for row in ids)
        if cut:
            log.warning("%d text(s) longer than %d tokens: only their first %d tokens are compared",
                        cut, self.max_tokens, self.max_tokens)
        ids = [row[:self.max_tokens] for row in ids]
        if self.source == "embeddings":
            table = np.asarray(self.encoder.get_layer("Embedding-Token").embeddings.numpy())
            return [table[row] for row in ids]
        out = [np.zeros((0, self.encoder.output_shape[-1]), dtype="float32") for _ in ids]
        order = sorted((i for i, row in enumerate(ids) if row), key=lambda i: len(ids[i]))
        for at in range(0, len(order), self.batch_size):  # similar lengths together: less padding
            chunk = order[at:at + self.batch_size]
            rows = [self.tokenizer.wrap(ids[i])[0] for i in chunk]
            hidden = np.asarray(self.encoder.predict_on_batch(sentence_inputs(rows, self.tokenizer.pad_id)))
            for k, i in enumerate(chunk):
                out[i] = hidden[k, 1:1 + len(ids[i])].astype("float32")  # drop [CLS], [SEP] and padding
        return out


def read_lines(path):
    """Lines of a UTF-8 text file (BOM and line ends removed)."""
    with open(path, encoding="utf-8-sig") as f:
        return [line.rstrip("\r\n") for line in f]


def main(argv=None):
    from common import cli
    from common.config import FAMILIES
    parser = cli.parser("common.similarity", __doc__, config=False)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="DIR",
                        help="BERT folder: bert_config.json, vocab.txt, bert_model.ckpt.* (or a HuggingFace folder)")
    source.add_argument("--run", metavar="DIR", help="a trained run of any track: the vectors of its fine-tuned encoder")
    parser.add_argument("--family", default="bert", choices=sorted(FAMILIES))
    parser.add_argument("--source", default="encoder", choices=["encoder", "embeddings"],
                        help="last hidden layer (default) or the token embeddings")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("preds", metavar="A.txt", help="one text per line")
    parser.add_argument("refs", metavar="B.txt", help="one text per line, line i compared with line i of A")
    args = parser.parse_args(argv)
    from common.io import DataError
    preds, refs = read_lines(args.preds), read_lines(args.refs)
    if len(preds) != len(refs):
        raise DataError(args.refs, None, f"{len(refs)} lines, but {args.preds} has {len(preds)}")
    if args.run:
        vectors = TokenVectors.from_run(args.run, source=args.source, batch_size=args.batch_size)
    else:
        vectors = TokenVectors(args.checkpoint, source=args.source, batch_size=args.batch_size, family=args.family)
    scores = pair_scores(preds, refs, vectors.vectors)
    for number, score in enumerate(scores, 1):
        print(json.dumps({"line": number, **(score or {"WMD": None, "WRD": None, "skipped": "empty"})}))
    print(json.dumps(summarise(scores)))


if __name__ == "__main__":
    from common import cli
    cli.run(main)
