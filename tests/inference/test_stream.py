"""gptlab/inference/stream.py: streamed text never splits a character, and stop strings never leak."""

from __future__ import annotations

from gptlab.inference.stream import REPLACEMENT, StopStrings, TextStream
from gptlab.tokenizer.byte import ByteTokenizer

TEXT = "naïve café, 東京 and 🙂!"


def test_bytes_streamed_one_at_a_time_never_print_half_a_character():
    tokenizer = ByteTokenizer()
    stream = TextStream(tokenizer.decode)
    pieces = [stream.push(int(t)) for t in tokenizer.encode(TEXT)]
    assert all(REPLACEMENT not in piece for piece in pieces)
    assert "".join(pieces) + stream.flush() == TEXT
    assert "" in pieces  # the continuation bytes of 東, 京 and 🙂 waited


def test_flush_returns_an_incomplete_tail():
    tokenizer = ByteTokenizer()
    stream = TextStream(tokenizer.decode)
    ids = tokenizer.encode("a東")
    out = [stream.push(int(t)) for t in ids[:-1]]
    assert out == ["a", "", ""] and REPLACEMENT in stream.flush()


def test_stop_string_split_over_pieces_is_held_back_then_cut():
    stops = StopStrings(["<|end|>", "\nuser:"])
    assert stops.push("Hel") == ("Hel", False)
    assert stops.push("lo <|e") == ("lo ", False)  # "<|e" may start a stop string
    assert stops.push("nd|> more") == ("", True)


def test_held_text_that_turns_out_ordinary_is_released():
    stops = StopStrings(["<|end|>"])
    assert stops.push("a <|") == ("a ", False)
    assert stops.push("x") == ("<|x", False)
    assert stops.push("<") == ("", False)
    assert stops.flush() == "<"


def test_the_earliest_stop_string_wins():
    assert StopStrings(["b", "a"]).push("xxab") == ("xx", True)
