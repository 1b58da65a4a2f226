"""gptlab/hf (import): tiny random Hugging Face Llama, Qwen2, Qwen3 and GPT-2 models, saved as transformers
saves them, become gptlab models with equal logits; exporting the import gives the same folder back."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file

from gptlab.hf import from_hf, to_hf
from tests.hf.conftest import TEXT, assert_same_greedy_tokens, max_logit_difference, save_hf_model, tokens

SHAPE = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4}
SHAPE.update({"num_key_value_heads": 2, "max_position_embeddings": 64, "head_dim": 8})
MODELS = {
    "llama": ("LlamaConfig", {**SHAPE, "rms_norm_eps": 1e-5, "rope_theta": 500.0, "tie_word_embeddings": False}),
    "llama with attention and MLP biases": ("LlamaConfig", {**SHAPE, "attention_bias": True, "mlp_bias": True}),
    "llama, linear RoPE scaling, tied": (
        "LlamaConfig",
        {**SHAPE, "rope_scaling": {"rope_type": "linear", "factor": 2.0}, "tie_word_embeddings": True},
    ),
    "llama 3 (llama3 RoPE scaling)": (
        "LlamaConfig",
        {
            **SHAPE,
            "rope_theta": 5e5,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 16,
            },
        },
    ),
    "qwen2 (q/k/v biases)": ("Qwen2Config", {**SHAPE, "tie_word_embeddings": False}),
    "qwen3 (QK-norm)": ("Qwen3Config", {**SHAPE, "tie_word_embeddings": True}),
    "gpt2": ("GPT2Config", {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64}),
    "gpt2, exact GELU, untied": (
        "GPT2Config",
        {
            "n_embd": 32,
            "n_layer": 2,
            "n_head": 4,
            "n_positions": 64,
            "activation_function": "gelu",
            "tie_word_embeddings": False,
        },
    ),
}
# What a round trip may change in config.json: bookkeeping, and defaults of keys gptlab has no use for.
UNCOMPARED = {"transformers_version", "_name_or_path", "dtype", "torch_dtype", "initializer_range", "use_cache"}
UNCOMPARED |= {"resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout", "max_window_layers"}


@pytest.mark.parametrize("config_class, fields", MODELS.values(), ids=MODELS.keys())
def test_import_gives_equal_logits_and_export_of_the_import_gives_the_model_back(
    tmp_path, hf_tokenizer_dir, config_class, fields
):
    from transformers import AutoConfig, AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(hf_tokenizer_dir))
    hf = save_hf_model(tmp_path / "hf", config_class, fields, hf_tokenizer_dir, vocab)
    model, tokenizer, config = from_hf(tmp_path / "hf")
    assert tokenizer.vocab_size == vocab and tokenizer.eos_id == hf.config.eos_token_id
    assert max_logit_difference(model, hf, tokens(vocab)) < 1e-4
    assert_same_greedy_tokens(model, hf, tokens(vocab, length=5, seed=1))

    to_hf(model, tokenizer, tmp_path / "back")
    original, back = (
        load_file(tmp_path / "hf" / "model.safetensors"),
        load_file(tmp_path / "back" / "model.safetensors"),
    )
    assert original.keys() == back.keys()
    assert all(torch.equal(original[name], back[name]) for name in original)
    before, after = (AutoConfig.from_pretrained(tmp_path / d).to_dict() for d in ("hf", "back"))
    assert {k: v for k, v in before.items() if k not in UNCOMPARED} == {
        k: v for k, v in after.items() if k not in UNCOMPARED
    }
    again = AutoTokenizer.from_pretrained(tmp_path / "back")
    assert again(TEXT)["input_ids"] == AutoTokenizer.from_pretrained(tmp_path / "hf")(TEXT)["input_ids"]


def test_import_cuts_a_padded_vocabulary_to_the_tokenizers(tmp_path, hf_tokenizer_dir):
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(hf_tokenizer_dir))
    hf = save_hf_model(tmp_path / "hf", "LlamaConfig", SHAPE, hf_tokenizer_dir, vocab + 16)
    model, tokenizer, _ = from_hf(tmp_path / "hf")
    assert model.vocab_size == tokenizer.vocab_size == vocab
    assert max_logit_difference(model, hf, tokens(vocab)) < 1e-4


def test_import_overrides_context_and_kernel(tmp_path, hf_tokenizer_dir):
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(hf_tokenizer_dir))
    hf = save_hf_model(tmp_path / "hf", "GPT2Config", MODELS["gpt2"][1], hf_tokenizer_dir, vocab)
    model, _, config = from_hf(tmp_path / "hf", block_size=16, attention="math")
    assert config.block_size == 16 and model.positions.embedding.weight.shape[0] == 16
    assert max_logit_difference(model, hf, tokens(vocab, length=16)) < 1e-4


def test_export_then_import_keeps_the_gptlab_tokenizer(tmp_path):
    from gptlab.tokenizer.char import CharTokenizer, CharTokenizerConfig
    from tests.hf.conftest import tiny_gptlab

    tokenizer = CharTokenizer(CharTokenizerConfig()).fit([TEXT.replace("<|endoftext|>", "")])
    model = tiny_gptlab(tokenizer.vocab_size, norm="rmsnorm", pos="rope", mlp="swiglu", bias=False)
    to_hf(model, tokenizer, tmp_path / "export")
    shutil.copytree(tmp_path / "export", tmp_path / "copy")  # as on another machine: the folder alone
    again, again_tokenizer, config = from_hf(tmp_path / "copy")
    assert again_tokenizer.state() == tokenizer.state()
    idx = tokens(tokenizer.vocab_size)
    assert torch.equal(again(idx).logits, model(idx).logits)
