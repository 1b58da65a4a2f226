"""trainer.init_from (gptlab/hf/init.py): a run starts from a Hugging Face folder's weights and tokenizer."""

from __future__ import annotations

import pytest
import torch

from gptlab.errors import GptlabError
from gptlab.hf import init_from, load_run
from gptlab.train import train
from tests.helpers import MACBETH, TINY, compose_config, train_in_process
from tests.hf.conftest import max_logit_difference, save_hf_model, tokens

LLAMA = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4}
LLAMA.update({"num_key_value_heads": 2, "max_position_embeddings": 256, "head_dim": 8, "tie_word_embeddings": False})
STILL = ["optimizer=sgd", "optimizer.lr=1e-9", "optimizer.momentum=0.0"]  # steps that leave the weights as loaded


def test_training_from_a_hugging_face_folder_starts_from_its_weights_and_exports_back(
    tmp_path, hf_tokenizer_dir, capsys
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gptlab.hf.export import main as export

    vocab = len(AutoTokenizer.from_pretrained(hf_tokenizer_dir))
    hf = save_hf_model(tmp_path / "hf", "LlamaConfig", LLAMA, hf_tokenizer_dir, vocab)
    run_dir = tmp_path / "run"
    overrides = [*TINY, *MACBETH, *STILL, "trainer.max_steps=2", "trainer.eval_every=2", "trainer.samples=0"]
    overrides += ["trainer.device=cpu", "logger=none", f"trainer.init_from=hf:{tmp_path / 'hf'}"]
    result = train_in_process([*overrides, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"init_from: hf:{tmp_path / 'hf'}" in result.stdout

    model, tokenizer, config = load_run(run_dir)
    assert (config.n_layer, config.n_kv_head, config.block_size) == (2, 2, 32)  # TINY's block_size is the context
    assert tokenizer.vocab_size == vocab
    assert max_logit_difference(model, hf, tokens(vocab)) < 1e-4

    export([str(run_dir), str(tmp_path / "export")])
    assert "LlamaForCausalLM" in capsys.readouterr().out
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "export", dtype=torch.float32)
    idx = tokens(vocab)
    with torch.no_grad():
        assert (again(idx).logits - hf(idx).logits).abs().max() < 1e-4
    assert max_logit_difference(init_from(str(run_dir)).model, hf, idx) < 1e-4  # a run dir is a start too
    assert max_logit_difference(init_from(str(tmp_path / "export")).model, hf, idx) < 1e-4  # an HF folder, no prefix


@pytest.mark.parametrize(
    "spec, named",
    [("hf:{tmp}/missing", "is not a folder"), ("hf:{tmp}", "has no config.json"), ("{tmp}/missing", "does not exist")],
)
def test_init_from_names_what_is_wrong_before_reading_data(tmp_path, spec, named):
    cfg = compose_config([*TINY, *MACBETH, "logger=none", f"trainer.init_from={spec.format(tmp=tmp_path)}"])
    with pytest.raises(GptlabError, match=named):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
