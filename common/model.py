"""Build a pretrained encoder from a track's [model] config section.

A real checkpoint and the tiny demo checkpoint go through exactly this code. Families:
bert and roberta (RoBERTa-wwm-ext ships in BERT format), albert, nezha, electra.
"""
import os

from common.config import FAMILIES, ConfigError, ModelConfig

# bert4keras's name of each family's architecture (RoBERTa-wwm-ext is a BERT checkpoint)
ARCHITECTURES = {"bert": "bert", "roberta": "bert", "albert": "albert", "nezha": "nezha", "electra": "electra"}
assert set(ARCHITECTURES) == set(FAMILIES)

_DEFAULT_FILES = {"config_path": "bert_config.json", "checkpoint_path": "bert_model.ckpt",
                  "vocab_path": "vocab.txt"}


def checkpoint_config(directory, family="bert", maxlen=512, dropout=0.0, attention_dropout=0.0,
                      recompute=False):
    """A [model] section for a checkpoint folder, for tools that take a folder rather than a config."""
    return ModelConfig(family=family, dir=directory, config_path="", checkpoint_path="", vocab_path="",
                       maxlen=maxlen, dropout=dropout, attention_dropout=attention_dropout, recompute=recompute)


def model_paths(model_cfg):
    """(config_path, checkpoint_path, vocab_path): explicit keys win, else the standard names in `dir`."""
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
    return model_cfg.config_path or (os.path.join(model_cfg.dir, _DEFAULT_FILES["config_path"])
                                     if model_cfg.dir else "")


def vocab_path(model_cfg):
    return model_paths(model_cfg)[2]


def check_files(model_cfg, need_checkpoint=True):
    config_path, checkpoint_path, vocab = model_paths(model_cfg)
    missing = [p for p in (config_path, vocab) if not os.path.isfile(p)]
    if need_checkpoint and not os.path.isfile(checkpoint_path + ".index"):
        missing.append(checkpoint_path + ".index")
    if missing:
        raise FileNotFoundError(
            "model files not found: " + ", ".join(missing)
            + " (set model.dir or model.config_path/checkpoint_path/vocab_path in the track config)")


def build_encoder(model_cfg, load_checkpoint=True):
    """Keras model [token_ids, segment_ids] -> last hidden states (batch, seq, hidden).

    `load_checkpoint=False` builds the architecture only (predict then loads the trained weights).
    """
    from common import backend
    backend.setup()
    from bert4keras.models import build_transformer_model

    check_files(model_cfg, need_checkpoint=load_checkpoint)
    config_path, checkpoint_path, _ = model_paths(model_cfg)
    transformer = build_transformer_model(
        config_path=config_path,
        checkpoint_path=checkpoint_path if load_checkpoint else None,
        model=ARCHITECTURES[model_cfg.family],
        return_keras_model=False,
        dropout_rate=model_cfg.dropout,
        attention_dropout_rate=model_cfg.attention_dropout,
    )
    if model_cfg.recompute:
        from common import recompute
        recompute.enable(transformer.model)
    return transformer.model
