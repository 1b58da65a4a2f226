"""gptlab as a library: load a trained run anywhere, no import-order traps, the legacy checkpoint layout."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch

import gptlab
from gptlab import registry
from gptlab.errors import GptlabError
from gptlab.model.gpt import GPTConfig
from gptlab.trainer import checkpoint
from tests.helpers import REPO


def test_load_a_run_dir_or_a_checkpoint(tiny_run):
    model, tokenizer, config = gptlab.load(tiny_run, device="cpu")
    assert not model.training and isinstance(config, GPTConfig) and config.d_model == 32
    run = gptlab.load(tiny_run / "checkpoints" / "last.pt", device="cpu", checkpoint="last")
    assert run.step == 6 and run.run_config["trainer"]["max_steps"] == 6
    ids = torch.as_tensor(tokenizer.encode("ROSS:"))[None]
    torch.testing.assert_close(model(ids).logits, run.model(ids).logits)


def test_a_kernel_that_cannot_run_here_falls_back_with_one_line(tiny_run, tmp_path, caplog):
    """A checkpoint whose config names flash4 with a softcap (trained on a GPU, say) loads on this CPU:
    flash4 cannot run here, sdpa has no softcap, so math takes over; the weights give math's logits."""
    state = checkpoint.load(checkpoint.find(tiny_run))
    state["config"]["model"].update(attention="flash4", attn_softcap=20.0)
    moved = tmp_path / "gpu-run.pt"
    checkpoint.save(state, moved)
    with caplog.at_level(logging.WARNING, logger="gptlab.model.attention"):
        model, tokenizer, config = gptlab.load(moved, device="cpu")
    if not type(model.blocks[0].attn.kernel).__name__ == "MathAttention":
        pytest.skip("flash4 runs on this machine")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "model.attention=flash4 cannot run here" in lines[0] and "using math" in lines[0]
    reference = registry.build(
        "model", {**state["config"]["model"], "attention": "math"}, vocab_size=tokenizer.vocab_size
    )
    reference.load_state_dict(state["model"])
    ids = torch.as_tensor(tokenizer.encode("KING:"))[None]
    torch.testing.assert_close(model(ids).logits, reference.eval()(ids).logits)


def test_bad_paths_say_what_is_wrong(tmp_path):
    with pytest.raises(GptlabError, match="does not exist"):
        gptlab.load(tmp_path / "nowhere")
    with pytest.raises(GptlabError, match="has no checkpoint"):
        gptlab.load(tmp_path)
    (tmp_path / "weights.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(GptlabError, match="cannot be read"):
        gptlab.load(tmp_path / "weights.pt")
    checkpoint.save({"model": {}}, tmp_path / "bare.pt")
    with pytest.raises(GptlabError, match="holds no config, tokenizer"):
        gptlab.load(tmp_path / "bare.pt")


@pytest.mark.parametrize(
    "code",
    [
        "from gptlab.model.gpt import GPT, GPTConfig; GPT(GPTConfig(norm='rmsnorm', pos='rope'), vocab_size=10)",
        "from gptlab.tokenizer import tokenizer_from_state; tokenizer_from_state({'name': 'byte', 'special': "
        "{'ids': {}, 'roles': {}}})",
        "import gptlab; gptlab.load",
    ],
)
def test_any_public_module_works_in_a_fresh_interpreter(code):
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_checkpoints_of_the_old_block_layout_still_load():
    """Before blocks wrote out their residual stream, norms lived in wrappers: blocks.0.attn.norm, .attn.branch.qkv."""
    model = registry.build("model", GPTConfig(n_layer=1, d_model=12, n_head=2, block_size=8), vocab_size=7)
    old = {}
    for key, value in model.state_dict().items():
        key = key.replace(".attn_norm.", ".attn.norm.").replace(".mlp_norm.", ".mlp.norm.")
        key = key.replace(".attn.qkv", ".attn.branch.qkv").replace(".mlp.up", ".mlp.branch.up")
        old[key] = value.clone()
    assert "blocks.0.attn.norm.weight" in old and "blocks.0.attn.branch.qkv.weight" in old
    fresh = registry.build("model", GPTConfig(n_layer=1, d_model=12, n_head=2, block_size=8), vocab_size=7)
    fresh.load_state_dict(old)
    ids = torch.arange(7)[None]
    torch.testing.assert_close(fresh(ids).logits, model(ids).logits)
