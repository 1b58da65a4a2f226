"""gptlab-eval: a saved model's val loss and bits per byte, on its own data or any other source."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gptlab.logger.jsonl import read_metrics
from gptlab.model.output import ModelOutput
from gptlab.trainer.evaluate import evaluate
from tests.helpers import run_in_process


def _eval(args, cwd):
    return run_in_process("gptlab.eval", [str(a) for a in args], cwd=cwd)


def test_eval_of_a_run_repeats_its_last_evaluation(tiny_run, tmp_path):
    result = _eval([tiny_run, "--json", "--batch-size", "8", "--batches", "2"], tmp_path)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    logged = [r for r in read_metrics(tiny_run / "metrics.jsonl") if "val_loss" in r][-1]
    assert measured["step"] == 6 and measured["data"].startswith("shakespeare")
    assert measured["val_loss"] == logged["val_loss"] and measured["val_bpb"] == logged["val_bpb"]


def test_eval_on_another_source_prints_a_table(tiny_run, tmp_path, text_file):
    result = _eval([tiny_run, "data=text", f"data.path={text_file}", "data.val_fraction=0.2"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "val bpb" in result.stdout and "corpus.txt" in result.stdout


def test_bad_overrides_are_named(tiny_run, tmp_path):
    result = _eval([tiny_run, "model.n_layer=4"], tmp_path)
    assert result.returncode == 2 and "data overrides only" in result.stderr
    result = _eval([tmp_path / "missing"], tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr


class _Uniform(torch.nn.Module):
    """Every next token equally likely: each target costs ln(vocab) nats."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab

    def forward(self, idx):
        return ModelOutput(torch.zeros(*idx.shape, self.vocab))


def test_bits_per_byte_leaves_special_tokens_out_of_both_sums():
    vocab, eos = 5, 4
    token_bytes = torch.tensor([1, 2, 1, 3, 0])  # id 4 is EOS: 0 bytes
    tokens = np.array([0, 1, 2, eos, 3, 0, eos, 1, 2, 3, 0, eos, 1, 1, 2, 3, eos], dtype=np.int64)
    metrics = evaluate(
        _Uniform(vocab), tokens, token_bytes, 4, 2, 8, torch.device("cpu"), torch.autocast("cpu", enabled=False)
    )
    assert metrics["val_loss"] == pytest.approx(math.log(vocab), rel=1e-6)  # every target, EOS included
    assert metrics["val_bpb"] > 0
    # redo the sums by hand over the same windows
    from gptlab.data.loader import evaluation_batches

    text_targets = byte_total = 0
    for _, y in evaluation_batches(tokens, 4, 2, 8):
        text = y[token_bytes[y] > 0]
        text_targets += text.numel()
        byte_total += int(token_bytes[text].sum())
    assert metrics["val_bpb"] == pytest.approx(text_targets * math.log(vocab) / math.log(2) / byte_total, rel=1e-6)
