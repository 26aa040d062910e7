"""The config keys of dialog (types and ranges); their values are in dialog/config.toml.

What the model reads (context budget, slot tags, attention layout) is in [model]: a trained run fixes
it, so predict builds inputs exactly as training did. Decoding is in [predict]: change it freely at
predict time (`python -m dialog.predict predict.strategy=greedy`).
"""
import dataclasses

from common.config import DataConfig, DemoConfig, ModelConfig, PredictConfig, TrackConfig, TrainConfig, key
from common.seq2seq import APPLICATIONS, STRATEGIES


@dataclasses.dataclass(frozen=True)
class Model(ModelConfig):
    application: str = key("unilm: the context attends both ways, the target left to right; lm: all left to "
                           "right (one language model, as the 2nd-placed team)", choices=APPLICATIONS)
    max_target_len: int = key("target tokens (goal, reply, closing [SEP]); longer training targets are cut; "
                              "the context gets maxlen - max_target_len", min=8)
    history_share: float = key("share of the context budget the newest history turns may take before knowledge "
                               "and profile are chosen", min=0.0, max=1.0)
    slots: bool = key("knowledge and profile names become typed tags ([电影1]) in context and target, filled "
                      "back after decoding")


@dataclasses.dataclass(frozen=True)
class Predict(PredictConfig):
    strategy: str = key("beam | greedy | sample", choices=STRATEGIES)
    beam_size: int = key("beams per input (strategy = beam)", min=1)
    top_k: int = key("sample: draw among the k most likely tokens; 0 = all", min=0)
    top_p: float = key("sample: draw among the most likely tokens holding this much probability", above=0.0, max=1.0)
    temperature: float = key("sample: log-probabilities divided by it", above=0.0)
    min_len: int = key("tokens (goal included) before the end token may come", min=0)
    max_len: int = key("tokens generated at most (goal included; also bounded by model.max_target_len)", min=1)
    no_repeat_ngram: int = key("never repeat an n-gram of tokens within a target; 0 = off", min=0)
    length_penalty: float = key("a finished beam ranks by log-probability / length ** length_penalty", min=0.0)
    seed: int = key("seed of sampling (per input: the same input gets the same reply in any batch)", min=0)
    kv_cache: bool = key("cache keys and values while decoding (bert / roberta; other families recompute)")


@dataclasses.dataclass(frozen=True)
class DialogConfig(TrackConfig):
    data: DataConfig
    model: Model
    train: TrainConfig
    predict: Predict
    demo: DemoConfig
