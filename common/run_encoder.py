"""The encoder of a trained run, for the tools that read a BERT: `--run DIR` of common.similarity,
common.perturbed_masking and dialog.evaluate.

A run folder holds bert_config.json, vocab.txt and best.weights.h5: the weights of the whole track
model (encoder and heads), in Keras's weights format, which is keyed by the model's structure, not
by layer names. So the track's model is rebuilt from the run as predict rebuilds it (the track is
the one whose config the run's config.toml is) and its encoder layers are copied, by name, into a
plain bidirectional encoder (common.model.build_encoder) without the track's heads.

The masked-LM head (perturbed masking's representation "prob"): dialog and semantic_parsing train
one, and it is copied with the rest. The other tracks never train a head: their fine-tuned encoder
is then put under the MLM head of the pretrained checkpoint the run started from (model.dir of the
run's config.toml, which must still be there): a head the fine-tuned encoder was not trained with,
so read "prob" there as a probe of how far fine-tuning moved the encoder from what the head expects.
"""
import os

MLM_PREFIX = "MLM-"


def track_names(root=None):
    """Folders of the repository that hold a track (its track.py and train.py)."""
    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return sorted(name for name in os.listdir(root)
                  if all(os.path.isfile(os.path.join(root, name, f)) for f in ("track.py", "train.py")))


def track_of(run_dir):
    """The Track class of a run folder: the one track whose declared keys its config.toml has."""
    from common.config import ConfigError, display_path, load_config
    from common.run import CONFIG
    from common.track import track_class
    saved = os.path.join(run_dir, CONFIG)
    if not os.path.isfile(saved):
        raise ConfigError(f"{display_path(run_dir)}: not a trained run (no {CONFIG})")
    found = []
    for name in track_names():
        cls = track_class(name)
        try:
            load_config(cls.config_class, base=saved)
        except ConfigError:
            continue
        found.append(cls)
    if len(found) != 1:
        names = ", ".join(cls.name for cls in found) or "none"
        raise ConfigError(f"{display_path(saved)}: the config of exactly one track expected, matches: {names}")
    return found[0]


def _layers(model):
    """{name: layer} of a Keras model, nested models included."""
    found, pending = {}, [model]
    while pending:
        for layer in pending.pop().layers:
            found.setdefault(layer.name, layer)
            if getattr(layer, "layers", None):
                pending.append(layer)
    return found


def load_run_encoder(run_dir, with_mlm=False):
    """(encoder, vocab path, how it was made): a Keras model [token_ids, segment_ids] -> last hidden
    states (with_mlm=False) or the bert4keras model with its MLM head (with_mlm=True, output the MLM
    probabilities), carrying the run's trained weights (module docstring)."""
    from common import backend
    tf = backend.setup()
    from common.config import ConfigError, display_path, load_config
    from common.model import build_encoder, vocab_path
    from common.run import CONFIG, load_trained, open_run
    track_class = track_of(run_dir)
    track, run_dir = open_run(track_class, run_dir)
    trained = _layers(load_trained(track, run_dir))
    head_trained = f"{MLM_PREFIX}Dense" in trained
    how = f"the encoder of {display_path(run_dir)} ({track_class.name})"
    options = {"with_mlm": True} if with_mlm else {}
    if with_mlm and not head_trained:
        pretrained = load_config(track_class.config_class, base=os.path.join(run_dir, CONFIG)).model
        try:
            encoder = build_encoder(pretrained, load_checkpoint=True, **options)
        except (OSError, ValueError, tf.errors.NotFoundError) as error:
            message = error.message if isinstance(error, tf.errors.NotFoundError) else str(error)
            raise ConfigError(f"{how} has no trained MLM head, and the head of its pretrained checkpoint "
                              f"(model.dir = {pretrained.dir}) cannot be read: {message.splitlines()[0]}") from None
        how += f" under the MLM head of its pretrained checkpoint {pretrained.dir}"
    else:
        encoder = build_encoder(track.cfg.model, load_checkpoint=False, **options)
        how += " with its trained MLM head" if with_mlm else ""
    missing = []
    for name, layer in _layers(encoder).items():
        if not layer.weights:
            continue
        if name in trained:
            layer.set_weights(trained[name].get_weights())
        elif not (name.startswith(MLM_PREFIX) and with_mlm and not head_trained):
            missing.append(name)
    if missing:
        raise ConfigError(f"{how}: the run's model has no layer {', '.join(missing[:3])}: not a BERT encoder run")
    return encoder, vocab_path(track.cfg.model), how
