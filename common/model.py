"""Build a pretrained encoder from a track's [model] config section.

A real checkpoint and the tiny demo checkpoint go through exactly this code. Families:
bert and roberta (RoBERTa-wwm-ext ships in BERT format), albert, nezha, electra. `dir` may also be a
HuggingFace folder (config.json, vocab.txt, model.safetensors) of a BERT: see common/hf.py.
"""
import json
import logging
import os

from common import hf
from common.config import FAMILIES, ConfigError, ModelConfig

# bert4keras's name of each family's architecture (RoBERTa-wwm-ext is a BERT checkpoint)
ARCHITECTURES = {"bert": "bert", "roberta": "bert", "albert": "albert", "nezha": "nezha", "electra": "electra"}
assert set(ARCHITECTURES) == set(FAMILIES)

log = logging.getLogger(__name__)

MLM_HEAD_VARIABLE = "cls/predictions/transform/dense/kernel"

_DEFAULT_FILES = {"config_path": "bert_config.json", "checkpoint_path": "bert_model.ckpt",
                  "vocab_path": "vocab.txt"}


def checkpoint_config(directory, family="bert", maxlen=512, dropout=0.0, attention_dropout=0.0,
                      recompute=False):
    """A [model] section for a checkpoint folder, for tools that take a folder rather than a config."""
    return ModelConfig(family=family, dir=directory, config_path="", checkpoint_path="", vocab_path="",
                       maxlen=maxlen, dropout=dropout, attention_dropout=attention_dropout, recompute=recompute)


def hf_folder(model_cfg):
    """`dir` when it is a HuggingFace folder and no explicit config or checkpoint path overrides it."""
    explicit = model_cfg.config_path or model_cfg.checkpoint_path
    return model_cfg.dir if model_cfg.dir and not explicit and hf.is_hf_folder(model_cfg.dir) else None


def model_paths(model_cfg):
    """(config_path, checkpoint_path, vocab_path): explicit keys win, else the standard names in `dir`.
    For a HuggingFace folder the config is its config.json and the checkpoint path is the folder itself."""
    folder = hf_folder(model_cfg)
    if folder:
        return hf.config_file(folder), folder, model_cfg.vocab_path or os.path.join(folder, "vocab.txt")
    paths = []
    for key, default in _DEFAULT_FILES.items():
        path = getattr(model_cfg, key)
        if not path:
            if not model_cfg.dir:
                raise ConfigError(f"config [model] needs 'dir' or '{key}'")
            path = os.path.join(model_cfg.dir, default)
        paths.append(path)
    return tuple(paths)


def bert_config_path(model_cfg):
    """The checkpoint's config file (bert_config.json, or a HuggingFace config.json), '' if unnamed."""
    if not (model_cfg.dir or model_cfg.config_path):
        return ""
    return model_paths(model_cfg)[0]


def architecture(model_cfg):
    """The checkpoint's architecture as a Google bert_config.json dict (a HuggingFace config translated)."""
    folder = hf_folder(model_cfg)
    if folder:
        return hf.bert_config(folder)
    with open(model_paths(model_cfg)[0], encoding="utf-8") as f:
        return json.load(f)


def vocab_path(model_cfg):
    return model_paths(model_cfg)[2]


def check_files(model_cfg, need_checkpoint=True):
    config_path, checkpoint_path, vocab = model_paths(model_cfg)
    if hf_folder(model_cfg):
        return hf.check_folder(checkpoint_path, vocab, need_checkpoint)
    missing = [p for p in (config_path, vocab) if not os.path.isfile(p)]
    if need_checkpoint and not os.path.isfile(checkpoint_path + ".index"):
        missing.append(checkpoint_path + ".index")
    if missing:
        raise FileNotFoundError(
            "model files not found: " + ", ".join(missing)
            + " (set model.dir or model.config_path/checkpoint_path/vocab_path in the track config)")


def has_mlm_head(checkpoint_path):
    """Does a Google-format checkpoint hold the MLM head (some releases ship the encoder only)?"""
    import tensorflow as tf
    return any(name == MLM_HEAD_VARIABLE for name, _ in tf.train.list_variables(checkpoint_path))


def build_encoder(model_cfg, load_checkpoint=True, **options):
    """Keras model [token_ids, segment_ids] -> last hidden states (batch, seq, hidden).

    `load_checkpoint=False` builds the architecture only (predict then loads the trained weights).
    `options` go to bert4keras's build_transformer_model (e.g. with_mlm=True, application="unilm").
    With an MLM head asked for and a checkpoint without one, the head starts random (a warning says so).
    """
    from common import backend
    backend.setup()
    from bert4keras.models import build_transformer_model

    check_files(model_cfg, need_checkpoint=load_checkpoint)
    config_path, checkpoint_path, _ = model_paths(model_cfg)
    if hf_folder(model_cfg):
        sources = hf.transformer_sources(checkpoint_path, ARCHITECTURES[model_cfg.family], load_checkpoint)
    else:
        sources = {"config_path": config_path, "checkpoint_path": checkpoint_path if load_checkpoint else None}
    headless = bool(options.get("with_mlm")) and load_checkpoint and not hf_folder(model_cfg) \
        and not has_mlm_head(checkpoint_path)
    if headless:  # loaded below, without the head
        sources["checkpoint_path"] = None
    transformer = build_transformer_model(
        **sources,
        model=ARCHITECTURES[model_cfg.family],
        return_keras_model=False,
        dropout_rate=model_cfg.dropout,
        attention_dropout_rate=model_cfg.attention_dropout,
        **options,
    )
    if headless:
        log.warning("%s has no MLM head (cls/predictions/*): it starts random (its output layer is tied to "
                    "the word embeddings) and is learnt in fine-tuning", checkpoint_path)
        mapping = {k: v for k, v in transformer.variable_mapping().items() if not k.startswith("MLM-")}
        transformer.load_weights_from_checkpoint(checkpoint_path, mapping=mapping)
    if model_cfg.recompute:
        from common import recompute
        recompute.enable(transformer.model)
    return transformer.model
