"""The real ``datasets.load_dataset`` code, on local files through the ``text`` and ``json`` builders."""

import pytest

from gptlab import registry
from gptlab.config import resolve
from gptlab.errors import DataError
from tests.helpers import compose_config

pytest.importorskip("datasets", reason="the hf data source needs the datasets package")


def _source(overrides):
    return registry.build("data", resolve(compose_config(["data=hf", *overrides]))["data"])


def test_json_builder_reads_a_field_and_carves_validation(jsonl_file):
    source = _source(["data.path=json", f"data.data_files=[{jsonl_file}]"])
    train, val = list(source.documents("train")), list(source.documents("val"))
    assert len(train) == 27 and val[0] == "Document 09: the cat sat on the mat."


def test_text_builder_with_a_validation_split(tmp_path):
    (tmp_path / "lines.txt").write_text("line one\nline two\nheld out\n")
    source = _source(
        [
            "data.path=text",
            f"data.data_files=[{tmp_path / 'lines.txt'}]",
            "data.split='train[:2]'",
            "data.val_split='train[2:]'",
        ]
    )
    assert list(source.documents("train")) == ["line one", "line two"]
    assert list(source.documents("val")) == ["held out"]


def test_missing_field_and_unloadable_dataset(jsonl_file, tmp_path):
    with pytest.raises(DataError, match="data.field='body' is not a column.*text"):
        list(_source(["data.path=json", f"data.data_files=[{jsonl_file}]", "data.field=body"]).documents("train"))
    with pytest.raises(DataError, match="datasets.load_dataset\\('json'.*failed"):
        list(
            _source(["data.path=json", f"data.data_files=[{jsonl_file}]", "data.split=nosuchsplit"]).documents("train")
        )
