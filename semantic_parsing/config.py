"""The config keys of semantic_parsing (types and ranges); their values are in semantic_parsing/config.toml."""
import dataclasses
import typing

from common.config import DataConfig, DemoConfig, ModelConfig, PredictConfig, TrackConfig, TrainConfig, key


@dataclasses.dataclass(frozen=True)
class Data(DataConfig):
    schema_file: str = key("the databases' schemas (db_schema.json) in data.dir, read at train and predict time")
    content_file: str = key("the databases' cells (db_content.json) in data.dir; empty = none (values then come "
                            "from the question only, and there is no execution accuracy)")
    max_sql_len: int = key("wordpieces of SQL the decoder writes at most, end marker included (longer gold "
                           "queries are not trained on); the question and database get maxlen - max_sql_len",
                           min=8)
    value_spans: bool = key("any piece of the question may be a string value (DuSQL's content files hold a few "
                            "rows per table: many gold strings are in no cell)")
    max_value_span: int = key("characters of such a piece at most", min=1)
    like_values: bool = key("'%x%' patterns (of cells and pieces up to max_like_value characters) for like", )
    max_like_value: int = key("characters inside a like pattern at most", min=1)
    limit_values: typing.List[str] = key("limit numbers always allowed, besides the positive integers of the "
                                         "question")
    sqlite_dir: str = key("folder of the SQLite copies of the databases, for execution accuracy (make db; built "
                          "on first use): one sub-folder per content file")
    query_time_limit: float = key("seconds one executed query may run before it is stopped (and scored wrong)",
                                  above=0.0)
    query_max_rows: int = key("result rows one executed query may return (more: scored wrong)", min=1)
    time_now: int = key("the year that DuSQL's TIME_NOW stands for when a query is executed", min=1)


@dataclasses.dataclass(frozen=True)
class Predict(PredictConfig):
    strategy: str = key("beam | greedy", choices=("beam", "greedy"))
    beam_size: int = key("hypotheses per question (strategy = beam)", min=1)
    length_penalty: float = key("a finished hypothesis ranks by log-probability / length ** length_penalty",
                                min=0.0)


@dataclasses.dataclass(frozen=True)
class SemanticParsingConfig(TrackConfig):
    data: Data
    model: ModelConfig
    train: TrainConfig
    predict: Predict
    demo: DemoConfig
