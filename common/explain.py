"""Integrated gradients of any scalar of a bert4keras model's output, per input token.

The path runs from a zero baseline to the input on the output of the `Embedding-Token` layer: for
alpha in (0, 1] that output becomes alpha * E while position and segment embeddings, and the padding
mask, stay as they are. The scaling is done inside the model, by replacing the layer's `call` for
the duration of one explanation: Keras still computes the layer's mask from the token ids, so
[PAD] positions stay masked. (A sub-model fed with embeddings from outside has no mask, and then
padding changes the result.)

The integral uses the midpoint rule, alpha_k = (k + 1/2) / steps: its completeness error
|sum of attributions - (F(x) - F(0))| / |F(x) - F(0)| is far below the right Riemann sum's at
the same number of steps (1.7e-4 against 3.2e-2 at 20 steps, measured on this stack).

The interpolated copies of one input go through the model as one batch per `chunk` steps, and one
forward pass of a chunk serves every target (a persistent tape, one backward pass per target).

A part of the input can be held fixed (`on_path`): its token embeddings stay whole along the path,
so the attributions of the other tokens add up to F(x) - F(those tokens zeroed). A seq2seq model
explains a generated token that way: the source is on the path, the generated prefix it is
teacher-forced on stays as it is.

What a track asks to explain is a list of `Subject`s (its `explanation_subjects`); `explain_subject`
turns one into a `common.pages.Item`.
"""
import contextlib
from dataclasses import dataclass

import numpy as np

TOKEN_EMBEDDING = "Embedding-Token"


@dataclass
class Attribution:
    """Integrated gradients of one target for one input.

    attributions[i]: share of token i in F(x) - F(0) (summed over the embedding dimension);
    value: F(x); baseline_value: F(0), the target with every token embedding zeroed;
    completeness_error: |sum(attributions) - (value - baseline_value)| / |value - baseline_value|
    (`completeness_error` says how a change too small for float32 is treated).
    """
    attributions: np.ndarray
    value: float
    baseline_value: float
    completeness_error: float


DEFAULT_STEPS = 32   # completeness error below 1% on every track (tests/test_*_analysis.py)


def integrated_gradients(model, token_ids, segment_ids, targets, steps=DEFAULT_STEPS, chunk=16, extra_inputs=(),
                         on_path=None):
    """Explain one input: `token_ids` and `segment_ids` are 1-D (or one row of 2-D), [PAD] = 0 allowed.

    `targets` is a function (or a list of them) from the model output, batched as the model returns
    it, to one scalar per batch row: one function per prediction to explain, e.g.
    `lambda out: out[:, 0, i, j]` for one global-pointer cell. Returns one Attribution per target
    (a single Attribution when `targets` is one function).

    `extra_inputs`: further model inputs after the segment ids, one row each (repeated along the
    path), e.g. the target positions of a seq2seq model. `on_path`: the positions whose token
    embeddings are scaled (a boolean mask or a list of positions; default all); the others keep
    theirs whole and get attribution 0.
    """
    from common import backend
    tf = backend.setup()

    single = callable(targets)
    targets = [targets] if single else list(targets)
    if not targets:
        raise ValueError("no targets to explain")
    if steps < 1 or chunk < 1:
        raise ValueError(f"steps and chunk must be >= 1, got steps={steps}, chunk={chunk}")
    token_ids, segment_ids = _one_row(token_ids, "token_ids"), _one_row(segment_ids, "segment_ids")
    if token_ids.shape != segment_ids.shape:
        raise ValueError(f"token_ids has {token_ids.shape[0]} positions, segment_ids {segment_ids.shape[0]}")

    moving = _path_mask(on_path, len(token_ids))
    extra_inputs = [np.asarray(row)[None] if np.ndim(row) == 1 else np.asarray(row) for row in extra_inputs]
    scaling = _ScaledOutput(token_embedding_layer(model))

    def run(alphas, tape=None):
        """Targets at the inputs whose token embeddings on the path are scaled by `alphas` (one per row)."""
        n = len(alphas)
        inputs = [np.repeat(token_ids[None], n, 0), np.repeat(segment_ids[None], n, 0),
                  *(np.repeat(row, n, 0) for row in extra_inputs)]
        alpha = np.asarray(alphas, "float32").reshape(n, 1)
        scales = tf.constant(np.where(moving[None], alpha, 1.0).astype("float32")[..., None])
        if tape is not None:
            tape.watch(scales)
        with scaling.scaled_by(scales):
            output = model(inputs, training=False)
        scalars = []
        for index, target in enumerate(targets):
            scalar = target(output)
            if tuple(scalar.shape) != (n,):
                raise ValueError(f"target {index} must give one scalar per batch row, shape ({n},); "
                                 f"got shape {tuple(scalar.shape)}")
            scalars.append(scalar)
        return scales, scalars

    # d F(A * E) / d A[l] = sum over h of E[l, h] * dF/dS[l, h]: the gradient w.r.t. a per-token
    # scale is already the integrand of token l's attribution, summed over the embedding dimension.
    alphas = (np.arange(steps) + 0.5) / steps
    sums = np.zeros((len(targets), len(token_ids)))
    with scaling:
        _, ends = run([0.0, 1.0])
        for at in range(0, steps, chunk):
            with tf.GradientTape(persistent=len(targets) > 1) as tape:
                scales, scalars = run(alphas[at:at + chunk], tape)
                totals = [tf.reduce_sum(scalar) for scalar in scalars]  # rows are independent
            for index, total in enumerate(totals):
                gradient = tape.gradient(total, scales)
                if gradient is None:
                    raise ValueError(f"target {index} does not depend on the {TOKEN_EMBEDDING} output")
                sums[index] += tf.reduce_sum(gradient, axis=(0, 2)).numpy() * moving
            del tape

    results = []
    for index, end in enumerate(ends):
        attributions = sums[index] / steps
        baseline_value, value = (float(v) for v in end.numpy())
        results.append(Attribution(attributions, value, baseline_value,
                                   completeness_error(attributions, value, baseline_value)))
    return results[0] if single else results


@dataclass
class Target:
    """One prediction to explain: a readable label, and the scalar of the model output it is (a
    function of the batched output giving one value per row, as `integrated_gradients` takes it);
    `marked`: the input positions that are the prediction itself (its span), underlined on the page."""
    label: str
    function: object
    marked: tuple = ()


@dataclass
class Subject:
    """One model input and the predictions to explain on it, as a track's `explanation_subjects` gives it.

    token_ids, segment_ids: the whole model input, one row; extra_inputs: further model inputs, one
    row each. shown: the positions explained and drawn (None: all); the others stay whole along the
    path (`integrated_gradients`'s on_path). tokens, offsets, text: how the shown positions read, one
    token and one offset (None for [CLS], [SEP]) per shown position, as `common.pages.Item` takes them
    (`layout` builds them). left_out: predictions not explained (over the limit of targets).
    """
    title: str
    token_ids: list
    segment_ids: list
    targets: list
    tokens: list
    offsets: list = None
    text: str = None
    shown: list = None
    extra_inputs: tuple = ()
    left_out: int = 0


def layout(*parts):
    """(tokens, offsets, text) of an input made of `parts`, in order: a special token string
    ("[CLS]", "[SEP]": no offset), or (text, tokens, offsets) of one text segment, offsets in that
    text (e.g. a window's slice of an Encoding). Texts are joined by newlines and their offsets
    shifted to the joined text."""
    tokens, offsets, texts, at = [], [], [], 0
    for part in parts:
        if isinstance(part, str):
            tokens.append(part)
            offsets.append(None)
            continue
        text, part_tokens, part_offsets = part
        if len(part_tokens) != len(part_offsets):
            raise ValueError(f"{len(part_tokens)} tokens but {len(part_offsets)} offsets")
        tokens += list(part_tokens)
        offsets += [(at + a, at + b) for a, b in part_offsets]
        texts.append(text)
        at += len(text) + 1
    return tokens, offsets, "\n".join(texts)


def explain_subject(model, subject, steps=DEFAULT_STEPS, chunk=16):
    """(common.pages.Item, [Attribution]) of one Subject: every target explained from one path. A
    subject without targets is drawn without blocks."""
    from common.pages import Block, Item
    if not subject.targets:
        return Item(f"{subject.title}: nothing predicted", list(subject.tokens), [], subject.offsets,
                    subject.text), []
    results = integrated_gradients(model, subject.token_ids, subject.segment_ids,
                                   [target.function for target in subject.targets], steps, chunk,
                                   subject.extra_inputs, subject.shown)
    shown = list(range(len(subject.token_ids))) if subject.shown is None else list(subject.shown)
    if len(shown) != len(subject.tokens):
        raise ValueError(f"{subject.title!r}: {len(shown)} shown positions but {len(subject.tokens)} tokens")
    index_of = {position: index for index, position in enumerate(shown)}
    blocks = []
    for target, result in zip(subject.targets, results):
        block = Block.of(target.label, result, sorted({index_of[p] for p in target.marked if p in index_of}))
        block.attributions = [float(result.attributions[p]) for p in shown]
        blocks.append(block)
    title = subject.title + (f" ({subject.left_out} more predictions not explained)" if subject.left_out else "")
    return Item(title, list(subject.tokens), blocks, subject.offsets, subject.text), results


# A change of the target below this share of its magnitude is float32 rounding (a log-probability
# of -6 that moves by 1e-5 has an ulp of 5e-7): the completeness error is relative to at least that.
RESOLUTION = 1e-4


def completeness_error(attributions, value, baseline_value):
    """|sum(attributions) - (value - baseline_value)| relative to |value - baseline_value|, or to
    RESOLUTION x max(|value|, |baseline_value|) when the change is smaller than that (absolute when
    both are 0)."""
    change = value - baseline_value
    error = abs(float(np.sum(attributions)) - change)
    scale = max(abs(change), RESOLUTION * max(abs(value), abs(baseline_value)))
    return error / scale if scale > 0 else error


def token_embedding_layer(model):
    """The `Embedding-Token` layer of `model`, also when the encoder is nested as a sub-model."""
    pending = [model]
    while pending:
        current = pending.pop(0)
        for layer in getattr(current, "layers", []):
            if layer.name == TOKEN_EMBEDDING:
                return layer
            if getattr(layer, "layers", None):
                pending.append(layer)
    raise ValueError(f"model {model.name!r} has no layer named {TOKEN_EMBEDDING!r} "
                     "(expected a bert4keras encoder)")


def _path_mask(on_path, n):
    if on_path is None:
        return np.ones(n, dtype=bool)
    on_path = np.asarray(on_path)
    if on_path.dtype == bool:
        if on_path.shape != (n,):
            raise ValueError(f"on_path must have one flag per position ({n}), got shape {on_path.shape}")
        return on_path
    mask = np.zeros(n, dtype=bool)
    mask[on_path.astype(int)] = True
    return mask


def _one_row(ids, name):
    ids = np.asarray(ids, dtype="int32")
    if ids.ndim == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.ndim != 1 or ids.shape[0] == 0:
        raise ValueError(f"{name} must be one non-empty sequence, got shape {ids.shape}")
    return ids


class _ScaledOutput(contextlib.AbstractContextManager):
    """While active, the layer's embedding-mode output E becomes scales * E, `scales` being
    (batch, sequence, 1) as set by `scaled_by`. Keras still computes the layer's mask from its input.

    Exactly one embedding-mode call per forward pass is expected: a model that also embeds its
    segment ids with this layer (bert4keras `shared_segment_embeddings`) would scale those too.
    """

    def __init__(self, layer):
        self.layer = layer
        self.scales = None
        self.calls = 0

    def __enter__(self):
        if "call" in vars(self.layer):
            raise RuntimeError(f"layer {self.layer.name!r} is already hooked")
        original = self.layer.call

        def scaled_call(inputs, *args, **kwargs):
            output = original(inputs, *args, **kwargs)
            if self.scales is None or kwargs.get("mode", args[0] if args else "embedding") != "embedding":
                return output
            self.calls += 1
            return self.scales * output

        object.__setattr__(self.layer, "call", scaled_call)
        return self

    def __exit__(self, *exc):
        object.__delattr__(self.layer, "call")
        self.scales = None
        return False

    @contextlib.contextmanager
    def scaled_by(self, scales):
        self.scales, self.calls = scales, 0
        try:
            yield
        finally:
            self.scales = None
        if self.calls != 1:
            raise ValueError(f"layer {self.layer.name!r} embedded {self.calls} inputs in one forward pass "
                             "(expected 1: the token ids)")
