"""The config keys of ie_event (types and ranges); their values are in ie_event/config.toml."""
import dataclasses

from common.config import DataConfig, DemoConfig, ModelConfig, PredictConfig, TrackConfig, TrainConfig, key


@dataclasses.dataclass(frozen=True)
class Data(DataConfig):
    schema_file: str = key("event_schema.json in data.dir: the event types and their roles")
    window_step: int = key("tokens between the starts of consecutive windows of a long text; "
                           "0 = half a window", min=0)


@dataclasses.dataclass(frozen=True)
class Model(ModelConfig):
    head_size: int = key("inner size of the global pointer heads", min=1)
    links_per_event_type: bool = key("argument-link matrices per event type (exact when two types group "
                                     "the same strings differently); false = one shared pair")
    events_per_argument: int = key("most events of one type an argument can be written in (count heads: this "
                                   "- 1 per event type); 1 = once per clique of linked arguments", min=1)


@dataclasses.dataclass(frozen=True)
class Predict(PredictConfig):
    threshold: float = key("a span / link is predicted when its logit exceeds this")
    max_arguments: int = key("best-scoring arguments kept per event type and record (bounds decoding)",
                             min=1)
    max_events: int = key("events kept per record (bounds decoding)", min=1)
    max_cells: int = key("positive cells kept per window, best first (bounds time and memory when a model "
                         "fires everywhere)", min=1)


@dataclasses.dataclass(frozen=True)
class IEEventConfig(TrackConfig):
    data: Data
    model: Model
    train: TrainConfig
    predict: Predict
    demo: DemoConfig
