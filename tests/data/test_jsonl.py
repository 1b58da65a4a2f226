import json

import pytest

from gptlab.data.jsonl import JsonlConfig, JsonlFiles
from gptlab.errors import DataError


def test_one_document_per_line_every_tenth_is_validation(jsonl_file):
    source = JsonlFiles(JsonlConfig(path=str(jsonl_file)))
    train, val = list(source.documents("train")), list(source.documents("val"))
    assert len(train) == 27 and len(val) == 3
    assert val == [f"Document {i:02d}: the cat sat on the mat." for i in (9, 19, 29)]


@pytest.mark.parametrize(
    "line,message",
    [
        ("{not json", "docs.jsonl:3: not a JSON object"),
        (json.dumps({"body": "x"}), "docs.jsonl:3: no field 'text' .*'body'"),
        (json.dumps({"text": 5}), "docs.jsonl:3: field 'text' is int"),
        (json.dumps(["text"]), "docs.jsonl:3: no field 'text'"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"text": "fine"}) + "\n\n" + line + "\n")
    with pytest.raises(DataError, match=message):
        list(JsonlFiles(JsonlConfig(path=str(path))).documents("train"))


def test_empty_and_binary_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="empty.jsonl' is empty"):
        JsonlFiles(JsonlConfig(path=str(tmp_path / "empty.jsonl")))
    (tmp_path / "blob.jsonl").write_bytes(b"\x00\x01\x02" * 10)
    with pytest.raises(DataError, match="blob.jsonl:1: a NUL byte"):
        list(JsonlFiles(JsonlConfig(path=str(tmp_path / "blob.jsonl"))).documents("train"))
