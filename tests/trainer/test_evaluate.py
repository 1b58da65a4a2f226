import contextlib
import math

import numpy as np
import pytest
import torch
from torch import nn

from gptlab.model.output import ModelOutput
from gptlab.tokenizer.char import CharTokenizer, CharTokenizerConfig
from gptlab.trainer.evaluate import evaluate


class Uniform(nn.Module):
    """Predicts every token with the same probability: loss = ln(vocab)."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab

    def forward(self, idx):
        return ModelOutput(torch.zeros(*idx.shape, self.vocab))


def evaluate_uniform(tokenizer, tokens, block_size: int, num_batches: int, batch_size: int = 4) -> dict[str, float]:
    """The evaluation of a model that is uniform over the tokenizer's vocabulary, on the CPU."""
    return evaluate(
        Uniform(tokenizer.vocab_size),
        tokens,
        torch.as_tensor(tokenizer.token_byte_lengths()),
        block_size=block_size,
        batch_size=batch_size,
        num_batches=num_batches,
        device=torch.device("cpu"),
        autocast=contextlib.nullcontext(),
    )


def test_bits_per_byte_counts_utf8_bytes():
    text = "aé" * 40  # 'a' is one byte, 'é' two
    tokenizer = CharTokenizer(CharTokenizerConfig(eos=None)).fit([text])
    tokens = tokenizer.encode(text)
    metrics = evaluate_uniform(tokenizer, tokens, block_size=8, num_batches=1)
    assert abs(metrics["val_loss"] - math.log(2)) < 1e-6
    # windows start at even offsets: targets alternate 'é', 'a' -> 12 bytes per 8 tokens
    starts = np.linspace(0, len(tokens) - 9, 4).astype(int)
    byte_count = sum(int(tokenizer.token_byte_lengths()[tokens[s + 1 : s + 9]].sum()) for s in starts)
    assert byte_count == 4 * 12
    assert abs(metrics["val_bpb"] - 4 * 8 / byte_count) < 1e-6  # one bit per token, uniform over 2 tokens


def test_bits_per_byte_of_char_and_bpe_models_match_a_hand_count(text_file):
    """The same text under a char and a BPE tokenizer: bpb = bits of the text targets / UTF-8 bytes of their
    text; EOS targets (no bytes) count in neither sum (nanochat's convention)."""
    from gptlab.data.loader import evaluation_batches
    from gptlab.tokenizer.bpe import BPEConfig, BPETokenizer

    documents = text_file.read_text("utf-8")[:6000].split("\n\n")
    text = "<|endoftext|>".join(documents)  # documents separated by EOS, which has no bytes
    results = {}
    for tokenizer in (CharTokenizer().fit(documents), BPETokenizer(BPEConfig(vocab_size=320)).fit(documents)):
        tokens = tokenizer.encode(text)
        metrics = evaluate_uniform(tokenizer, tokens, block_size=64, num_batches=3)
        targets = [row for _, y in evaluation_batches(tokens, 64, 4, 3) for row in y.tolist()]
        by_hand = sum(len(tokenizer.decode(row).replace("<|endoftext|>", "").encode("utf-8")) for row in targets)
        text_targets = sum(1 for row in targets for token in row if token != tokenizer.eos_id)
        bits = text_targets * math.log2(tokenizer.vocab_size)
        assert metrics["val_bpb"] == pytest.approx(bits / by_hand, rel=1e-6)  # float32 logits
        results[tokenizer.name] = (tokens.size, by_hand)
    assert results["bpe"][0] < 0.8 * results["char"][0], "BPE needs fewer tokens for the same text"


def test_evaluation_windows_lie_inside_the_validation_shards():
    """Several val shards are read in place: evenly spaced windows, each inside one shard, short shards passed over."""
    from gptlab.data.loader import evaluation_batches

    first, short, second = np.arange(0, 50), np.arange(500, 505), np.arange(1000, 1030)
    rows = [row for x, _ in evaluation_batches([first, short, second], 8, 4, 3) for row in x.tolist()]
    assert len(rows) == 12
    assert all(row == list(range(row[0], row[0] + 8)) for row in rows), "no window crosses shards"
    assert {row[0] // 1000 for row in rows} == {0, 1} and not any(500 <= row[0] < 600 for row in rows)
    assert rows[0][0] == 0 and rows[-1][0] == 1021, "from the first valid start to the last (9 tokens: 1021..1029)"
    single = [x.tolist() for x, _ in evaluation_batches(first, 8, 4, 3)]
    assert single == [x.tolist() for x, _ in evaluation_batches([first], 8, 4, 3)]
    with pytest.raises(ValueError, match="no validation shard holds more than block_size=8"):
        next(evaluation_batches([short], 8, 4, 1))
