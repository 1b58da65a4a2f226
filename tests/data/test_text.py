import pytest

from gptlab.data.text import TextConfig, TextFiles
from gptlab.errors import DataError


def test_one_document_per_file_each_split_contiguously(tmp_path):
    (tmp_path / "a.txt").write_text("a" * 90 + "A" * 10)
    (tmp_path / "b.txt").write_text("b" * 9 + "B")
    source = TextFiles(TextConfig(path=str(tmp_path / "*.txt")))
    assert list(source.documents("train")) == ["a" * 90, "b" * 9]
    assert list(source.documents("val")) == ["A" * 10, "B"]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"PK\x03\x04\x00\x00zip", "looks binary"),
        (b"caf\xe9", "is not UTF-8"),
    ],
)
def test_bad_files_fail_clearly(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"data.path file '.*bad.txt' {message}"):
        list(TextFiles(TextConfig(path=str(path))).documents("train"))
