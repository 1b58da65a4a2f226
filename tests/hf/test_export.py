"""gptlab/hf (export): tiny random gptlab models of every exportable shape load in transformers and compute
the same logits (max abs difference 1e-4, float32) and the same greedy tokens."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from gptlab.hf import to_hf, to_transformers
from gptlab.tokenizer.byte import ByteTokenizer, ByteTokenizerConfig
from tests.helpers import MACBETH, TINY, run_cli, train_in_process
from tests.hf.conftest import TEXT, assert_same_greedy_tokens, max_logit_difference, tiny_gptlab, tokens

LLAMA = {"norm": "rmsnorm", "pos": "rope", "mlp": "swiglu", "bias": False}
# (gptlab knobs, biases set to zero after the random perturbation, the Hugging Face class it must become)
EXPORTS = {
    "llama: GQA, untied, eps 1e-5, theta 500": (
        {**LLAMA, "n_kv_head": 2, "tie_embeddings": False, "norm_eps": 1e-5, "rope_theta": 500.0},
        (),
        "LlamaForCausalLM",
    ),
    "llama: GeGLU, tied, linear RoPE scaling": (
        {**LLAMA, "mlp": "geglu", "rope_scaling": "linear", "rope_scaling_factor": 2.0},
        (),
        "LlamaForCausalLM",
    ),
    "llama 3: llama3 RoPE scaling": (
        {
            **LLAMA,
            "rope_scaling": "llama3",
            "rope_scaling_factor": 8.0,
            "rope_original_block_size": 8,
            "rope_theta": 5e5,
        },
        (),
        "LlamaForCausalLM",
    ),
    "llama: every layer with biases": ({**LLAMA, "bias": True, "n_kv_head": 1}, (), "LlamaForCausalLM"),
    "qwen2: biases on q/k/v only": (
        {**LLAMA, "bias": True, "n_kv_head": 2, "tie_embeddings": False},
        (".proj.bias", ".up.bias", ".down.bias"),
        "Qwen2ForCausalLM",
    ),
    "qwen3: QK-norm": ({**LLAMA, "qk_norm": "rmsnorm", "n_kv_head": 2}, (), "Qwen3ForCausalLM"),
    "gpt2: gelu_tanh, tied": ({"mlp": "gelu_tanh"}, (), "GPT2LMHeadModel"),
    "gpt2 trained with MTP heads and z-loss (both training-only)": (
        {"mlp": "gelu_tanh", "mtp_heads": 1, "z_loss": 1e-4},
        (),
        "GPT2LMHeadModel",
    ),
    "gpt2: relu, untied, eps 1e-6": ({"mlp": "relu", "tie_embeddings": False, "norm_eps": 1e-6}, (), "GPT2LMHeadModel"),
}


def _load_hf(folder):
    from transformers import AutoModelForCausalLM

    model, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True, dtype=torch.float32)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    return model.eval()


@pytest.mark.parametrize("knobs, zero_biases, architecture", EXPORTS.values(), ids=EXPORTS.keys())
def test_export_loads_in_transformers_with_equal_logits_and_greedy_tokens(tmp_path, knobs, zero_biases, architecture):
    tokenizer = ByteTokenizer(ByteTokenizerConfig())
    model = tiny_gptlab(tokenizer.vocab_size, **knobs)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(zero_biases):
                p.zero_()
    to_hf(model, tokenizer, tmp_path / "export")
    hf = _load_hf(tmp_path / "export")
    assert type(hf).__name__ == architecture
    assert max_logit_difference(model, hf, tokens(tokenizer.vocab_size)) < 1e-4
    assert_same_greedy_tokens(model, hf, tokens(tokenizer.vocab_size, length=5, seed=1))
    assert json.loads((tmp_path / "export" / "generation_config.json").read_text())["eos_token_id"] == 256


@pytest.mark.parametrize(
    "name, fields",
    [("llama: GQA, untied, eps 1e-5, theta 500", {"max_position_embeddings": 99}), ("gpt2: gelu_tanh, tied", {})],
)
def test_to_transformers_builds_the_same_model_in_memory(name, fields):
    """The export without a folder (the twin of ``make bench-generate``): same weights, config fields replaceable."""
    knobs, _, architecture = EXPORTS[name]
    model = tiny_gptlab(257, **knobs)
    twin = to_transformers(model, **fields).eval()
    assert type(twin).__name__ == architecture
    assert all(getattr(twin.config, key) == value for key, value in fields.items())
    eps = getattr(twin.config, "rms_norm_eps", getattr(twin.config, "layer_norm_epsilon", None))
    assert eps == knobs.get("norm_eps", 1e-5)
    assert max_logit_difference(model, twin, tokens(257)) < 1e-4


def test_tied_export_stores_the_embedding_once(tmp_path):
    model = tiny_gptlab(257, mlp="gelu_tanh")
    to_hf(model, ByteTokenizer(ByteTokenizerConfig()), tmp_path / "export")
    weights = load_file(tmp_path / "export" / "model.safetensors")
    assert "lm_head.weight" not in weights and not list(tmp_path.glob("export/*.bin"))


@pytest.fixture(scope="module")
def llama_run(tmp_path_factory):
    """A real (two-step) training run of a Llama-shaped model with a trained BPE tokenizer."""
    run_dir = tmp_path_factory.mktemp("run")
    llama = ["model.norm=rmsnorm", "model.pos=rope", "model.mlp=swiglu", "model.bias=false", "model.n_kv_head=1"]
    result = train_in_process(
        [
            *TINY,
            *MACBETH,
            *llama,
            "model.tie_embeddings=false",
            "tokenizer=bpe",
            "tokenizer.vocab_size=300",
            "trainer.max_steps=2",
            "trainer.eval_every=2",
            "trainer.samples=0",
            "trainer.device=cpu",
            "logger=none",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=tmp_path_factory.getbasetemp(),
    )
    assert result.returncode == 0, result.stderr
    return run_dir


def test_gptlab_export_cli_writes_a_folder_transformers_runs_with_its_tokenizer(llama_run, tmp_path):
    from transformers import AutoTokenizer

    from gptlab.hf import load_run

    out = tmp_path / "exported"
    result = run_cli("gptlab.hf.export", [str(llama_run), str(out)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "LlamaForCausalLM" in result.stdout
    expected = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert expected <= {p.name for p in out.iterdir()}
    model, tokenizer, _ = load_run(llama_run)
    hf_tokenizer = AutoTokenizer.from_pretrained(out)
    ids = hf_tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    assert ids == tokenizer.encode(TEXT).tolist()
    assert hf_tokenizer.decode(ids) == TEXT
    hf = _load_hf(out)
    idx = torch.tensor([ids[:30]])
    assert max_logit_difference(model, hf, idx) < 1e-4
    assert_same_greedy_tokens(model, hf, idx[:, :6])


def test_gptlab_export_refuses_an_existing_folder_without_overwrite(llama_run, tmp_path, capsys):
    from gptlab.hf.export import main

    out = tmp_path / "exported"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit) as refused:
        main([str(llama_run), str(out)])
    assert refused.value.code == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep me"
    main([str(llama_run), str(out), "--overwrite"])
    assert not (out / "notes.txt").exists() and (out / "model.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".exported-")]  # no staging folder left


def test_gptlab_export_names_a_run_dir_without_checkpoint(tmp_path, capsys):
    from gptlab.hf.export import main

    with pytest.raises(SystemExit) as refused:
        main([str(tmp_path), str(tmp_path / "out")])
    assert refused.value.code == 2 and "has no checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
