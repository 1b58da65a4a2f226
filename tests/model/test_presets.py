"""The learning ladder and the presets of conf/model/: each composes, counts right, and trains from gptlab-train."""

from __future__ import annotations

import math

import pytest
import torch

from gptlab import registry
from gptlab.config import CONFIG_DIR, resolve
from gptlab.logger.jsonl import read_metrics
from gptlab.model import counting
from gptlab.train import train
from tests.helpers import MACBETH, TINY, compose_config

MACBETH_VOCAB = 63  # distinct characters of Macbeth, plus the end-of-text token
LADDER = ["bigram", "single_head", "multi_head", "one_block", "gpt"]
PRESETS = sorted(p.stem for p in (CONFIG_DIR / "model").glob("*.yaml") if p.stem not in LADDER)


def _built_on_meta(option: str, vocab: int = 65):
    typed = resolve(compose_config([f"model={option}", *MACBETH]))["model"]
    with torch.device("meta"):
        return typed, registry.build("model", typed, vocab_size=vocab)


def test_counts_match_the_built_model_and_the_ladder_climbs():
    sizes = {}
    for option in [*LADDER, *PRESETS]:
        typed, model = _built_on_meta(option)
        sizes[option] = model.num_parameters()
        if option != "bigram":
            assert counting.parameter_count(typed, 65) == sizes[option], option
    ladder = [sizes[option] for option in LADDER]
    assert ladder == sorted(ladder) and ladder[0] < ladder[1] and ladder[-2] < ladder[-1]
    assert sizes["tiny"] < sizes["small"] < sizes["medium"]


def test_presets_are_what_they_say():
    llama, _ = _built_on_meta("llama_like")
    assert (llama.norm, llama.pos, llama.mlp, llama.tie_embeddings, llama.bias) == (
        "rmsnorm",
        "rope",
        "swiglu",
        False,
        False,
    )
    assert llama.kv_heads < llama.n_head
    nanochat, _ = _built_on_meta("nanochat_like")
    assert (nanochat.mlp, nanochat.pos, nanochat.qk_norm, nanochat.tie_embeddings) == (
        "relu2",
        "rope",
        "rmsnorm",
        False,
    )
    assert nanochat.logit_softcap > 0 and not nanochat.bias
    _, gpt2 = _built_on_meta("gpt2_small", vocab=50257)
    assert 124e6 < gpt2.num_parameters() < 125e6
    _, gpt2_xl = _built_on_meta("gpt2_xl", vocab=50257)
    assert 1.55e9 < gpt2_xl.num_parameters() < 1.56e9
    default, _ = _built_on_meta("gpt")
    assert (default.n_layer, default.n_head, default.d_model, default.block_size) == (2, 3, 96, 128)
    assert (default.pos, default.norm, default.mlp, default.attention, default.tie_embeddings) == (
        "learned", "layernorm", "gelu", "sdpa", True
    )  # fmt: skip


def _train(overrides: list[str], run_dir, steps: int = 20) -> list[dict]:
    """Train through gptlab.train.train, the function behind gptlab-train (in-process: no start-up cost)."""
    common = ["trainer.batch_size=8", "trainer.eval_batches=1", "trainer.samples=0", "trainer.progress=false"]
    steps_overrides = [f"trainer.max_steps={steps}", f"trainer.eval_every={steps}", "trainer.log_every=5"]
    train(compose_config([*overrides, *MACBETH, *common, *steps_overrides]), run_dir)
    return read_metrics(run_dir / "metrics.jsonl")


@pytest.mark.parametrize("option", LADDER)
def test_ladder_trains_from_the_same_entrypoint(option, tmp_path, capsys):
    overrides = [f"model={option}", "model.block_size=32", "optimizer.lr=3e-2", "schedule=constant"]
    records = _train(overrides, tmp_path, steps=15)
    assert "training FLOPs per token" in capsys.readouterr().out
    assert records[-1]["val_loss"] < math.log(MACBETH_VOCAB) - 0.3, "learns more than a uniform guess"
    assert (records[-1].get("flops", 0) > 0) == (option != "bigram")  # a table lookup multiplies nothing


def test_model_metrics_are_logged(tmp_path):
    records = _train([*TINY, "model.z_loss=1e-3"], tmp_path, steps=10)
    assert all({"z_loss", "lm_loss", "flops"} <= set(r) for r in records)
    last = records[-1]
    assert last["train_loss"] == pytest.approx(last["lm_loss"] + 1e-3 * last["z_loss"], rel=1e-4)
    assert last["flops"] == last["tokens"] * counting.flops_per_token(
        resolve(compose_config(TINY))["model"], MACBETH_VOCAB
    )


def test_dry_run_prints_counts_and_reads_no_data(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(cache))
    assert train(compose_config(["model=llama_like", "trainer.dry_run=true", *MACBETH]), tmp_path / "run") == {}
    typed, model = _built_on_meta("llama_like", vocab=256)
    out = capsys.readouterr().out
    assert "n_kv_head: 2" in out, "prints the config tree"
    assert f"{counting.parameter_count(typed, 256):,} parameters" in out
    assert f"{counting.flops_per_token(typed, 256):,} training FLOPs per token" in out
    assert "MiB to train" in out
    assert not cache.exists() and not (tmp_path / "run").exists(), "a dry run reads no data and writes nothing"
