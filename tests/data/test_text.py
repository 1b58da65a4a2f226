import pytest

from gptlab.data import text
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


def _pieces_of(path, monkeypatch, block_bytes: int, piece_chars: int, max_piece_chars: int = 10_000):
    monkeypatch.setattr(text, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(text, "PIECE_CHARS", piece_chars)
    monkeypatch.setattr(text, "MAX_PIECE_CHARS", max_piece_chars)
    return list(TextFiles(TextConfig(path=str(path))).pieces())


def _check_split_documents(pieces, content: str) -> dict[str, list]:
    """Each split's pieces join to the contiguous split of ``content`` (first 90% of the characters) and
    form one document: only the first piece starts it, only the last ends it."""
    cut = int(len(content) * 0.9)
    by_split = {}
    for split, expected in (("train", content[:cut]), ("val", content[cut:])):
        mine = by_split[split] = [p for p in pieces if p.split == split]
        assert "".join(p.text for p in mine) == expected
        assert [p.starts for p in mine] == [True] + [False] * (len(mine) - 1)
        assert [p.ends for p in mine] == [False] * (len(mine) - 1) + [True]
    assert [p.split for p in pieces] == sorted(p.split for p in pieces), "train pieces come first"
    return by_split


def test_a_file_streams_in_pieces_cut_where_a_line_begins(tmp_path, monkeypatch):
    # two-byte characters (ß, ö) straddle the 64-byte read blocks; blank lines are never cut
    content = "".join(f"Zeile {i}: größer {'ß' * (i % 7)}\n" + "\n" * (i % 3 == 0) for i in range(80))
    path = tmp_path / "long.txt"
    path.write_text(content, encoding="utf-8")
    train = _check_split_documents(_pieces_of(path, monkeypatch, 64, 100), content)["train"]
    assert len(train) > 10 and max(len(p.text) for p in train) < 100 + 64
    for piece, following in zip(train, train[1:]):
        assert piece.text.endswith("\n") and not following.text[0].isspace()


def test_a_file_without_line_breaks_is_cut_at_the_piece_limit(tmp_path, monkeypatch):
    content = "x" * 2000
    path = tmp_path / "one_line.txt"
    path.write_text(content)
    train = _check_split_documents(_pieces_of(path, monkeypatch, 64, 100, max_piece_chars=300), content)["train"]
    assert len(train) == 6 and all(300 <= len(p.text) < 364 for p in train[:-1])


@pytest.mark.parametrize(
    "content,message",
    [
        (b"a" * 200 + b"\xe9b", "is not UTF-8 text: byte 200 is 0xe9"),
        (b"a" * 150 + b"\x00" + b"b" * 50, "looks binary \\(a NUL byte at byte 150\\)"),
        (b"a" * 63 + "ß".encode()[:1], "is not UTF-8 text: byte 63 is 0xc3"),  # cut inside the last character
    ],
)
def test_bad_bytes_after_the_first_block_name_their_offset(tmp_path, monkeypatch, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        _pieces_of(path, monkeypatch, 64, 100)
