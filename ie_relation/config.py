"""The config keys of ie_relation (types and ranges); their values are in ie_relation/config.toml."""
import dataclasses

from common.config import DataConfig, DemoConfig, ModelConfig, PredictConfig, TrackConfig, TrainConfig, key


@dataclasses.dataclass(frozen=True)
class Data(DataConfig):
    schema_file: str = key("schema.json in data.dir: the 48 predicates and their slots")
    window_step: int = key("tokens between the starts of consecutive windows of a long text; "
                           "0 = half a window", min=0)


@dataclasses.dataclass(frozen=True)
class Model(ModelConfig):
    head_size: int = key("size of the query/key projections of each pointer head", min=1)
    efficient_links: bool = key("EfficientGlobalPointer for the link matrices (false: one full "
                                "GlobalPointer per matrix)")


@dataclasses.dataclass(frozen=True)
class Predict(PredictConfig):
    entity_threshold: float = key("a span is an entity when its logit exceeds this")
    link_threshold: float = key("a head-head / tail-tail link holds when its logit exceeds this")
    max_spans: int = key("at most this many subject / object spans per window (bounds decoding)", min=1)
    max_spos: int = key("at most this many SPOs decoded per window (bounds decoding)", min=1)
    max_record_spos: int = key("at most this many SPOs per input line over all its windows (bounds the "
                               "output and memory of a long text)", min=1)


@dataclasses.dataclass(frozen=True)
class IERelationConfig(TrackConfig):
    data: Data
    model: Model
    train: TrainConfig
    predict: Predict
    demo: DemoConfig
