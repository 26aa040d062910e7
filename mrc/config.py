"""The config keys of mrc (types and ranges); their values are in mrc/config.toml."""
import dataclasses

from common.config import DataConfig, DemoConfig, ModelConfig, PredictConfig, TrackConfig, TrainConfig, key


@dataclasses.dataclass(frozen=True)
class Data(DataConfig):
    window_step: int = key("tokens between the starts of consecutive context windows (lowered when "
                           "needed so that every answer of max_answer_len tokens lies whole in a window)",
                           min=1)
    max_question_len: int = key("question tokens kept (and at most half of maxlen)", min=1)
    max_answer_len: int = key("longest answer the decoder returns, in tokens", min=1)


@dataclasses.dataclass(frozen=True)
class MRCConfig(TrackConfig):
    data: Data
    model: ModelConfig
    train: TrainConfig
    predict: PredictConfig
    demo: DemoConfig
