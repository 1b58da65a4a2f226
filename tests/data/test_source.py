import pytest

from gptlab.config import resolve
from gptlab.data.source import interleaved_split
from gptlab.errors import ConfigError
from tests.helpers import compose_config


def test_interleaved_split_takes_an_exact_evenly_spaced_share():
    documents = [str(i) for i in range(100)]
    tagged = list(interleaved_split(documents, 0.1))
    assert [text for _, text in tagged] == documents
    assert [text for split, text in tagged if split == "val"] == [str(i) for i in range(9, 100, 10)]


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.workers=0", "data.workers=0 must be >= 1"),
        ("data.max_doc_tokens=-1", "data.max_doc_tokens=-1 must be >= 0"),
        ("data.token_dtype=int8", "data.token_dtype='int8' is not one of auto, uint16, uint32"),
        ("data.val_fraction=1.5", "strictly between 0 and 1"),
    ],
)
def test_pipeline_keys_are_checked_before_any_work(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve(compose_config([override]))
