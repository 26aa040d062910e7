import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def tf():
    from common import backend
    return backend.setup()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tf):
    """A tiny random BERT whose vocab covers some mixed Chinese/English/digit text."""
    from common.tiny_bert import write_tiny_checkpoint
    texts = ["北京是中国的首都，上海是一个大城市。", "《三体》的作者是刘慈欣", "NBA 2019赛季 hello world ２０２０年"]
    return write_tiny_checkpoint(str(tmp_path_factory.mktemp("tiny_bert")), texts, seed=3)
