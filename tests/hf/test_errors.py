"""gptlab/hf: every input the bridge cannot convert is refused early, naming the knob, key, file or architecture."""

from __future__ import annotations

import json

import pytest
import torch

from gptlab.errors import ConfigError, GptlabError
from gptlab.hf import from_hf, to_hf
from gptlab.tokenizer.byte import ByteTokenizer, ByteTokenizerConfig
from tests.hf.conftest import tiny_gptlab

LLAMA = {"norm": "rmsnorm", "pos": "rope", "mlp": "swiglu", "bias": False}
REFUSED = {
    "alibi": ({"pos": "alibi"}, "model.norm=layernorm with model.pos=alibi"),
    "post-norm": ({"norm_placement": "post"}, "model.norm_placement=post"),
    "windows": ({**LLAMA, "window_size": 4}, "model.window_size=4"),
    "attention softcap": ({"attn_softcap": 5.0, "attention": "math"}, "model.attn_softcap=5.0"),
    "logit softcap": ({**LLAMA, "logit_softcap": 10.0}, "model.logit_softcap=10.0"),
    "embed scale": ({"embed_scale": 2.0}, "model.embed_scale=2.0"),
    "mixture of experts": ({**LLAMA, "moe_experts": 2}, "model.moe_experts=2"),
    "no final norm": ({"final_norm": False}, "model.final_norm=False"),
    "llama with an ungated MLP": ({**LLAMA, "mlp": "relu2"}, "model.mlp=relu2"),
    "yarn": ({**LLAMA, "rope_scaling": "yarn", "rope_scaling_factor": 2.0}, "model.rope_scaling=yarn"),
    "layernorm QK-norm": ({**LLAMA, "qk_norm": "layernorm"}, "model.qk_norm=layernorm"),
    "gpt2 without biases": ({"bias": False}, "model.bias=false"),
    "gpt2 with GQA": ({"n_kv_head": 1}, "model.n_kv_head=1"),
    "gpt2 with swiglu": ({"mlp": "swiglu"}, "model.mlp=swiglu"),
    "qwen3 with MLP biases": ({**LLAMA, "qk_norm": "rmsnorm", "bias": True}, "MLP biases are not zero"),
}


@pytest.mark.parametrize("knobs, named", REFUSED.values(), ids=REFUSED.keys())
def test_export_refuses_a_knob_without_hugging_face_equivalent_and_names_it(tmp_path, knobs, named):
    model = tiny_gptlab(257, **knobs)
    with pytest.raises(ConfigError) as refused:
        to_hf(model, ByteTokenizer(ByteTokenizerConfig()), tmp_path / "out")
    assert named in str(refused.value)
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())


def test_export_refuses_a_model_that_is_not_a_gpt(tmp_path):
    from gptlab.registry import build

    bigram = build("model", {"name": "bigram"}, vocab_size=257)
    with pytest.raises(ConfigError, match="model.name=bigram cannot be exported"):
        to_hf(bigram, ByteTokenizer(ByteTokenizerConfig()), tmp_path / "out")


def test_export_lists_every_refused_knob_at_once(tmp_path):
    model = tiny_gptlab(257, logit_softcap=10.0, embed_scale=2.0)
    with pytest.raises(ConfigError, match="model.logit_softcap=10.0.*model.embed_scale=2.0"):
        to_hf(model, ByteTokenizer(ByteTokenizerConfig()), tmp_path / "out")


def test_export_refuses_an_existing_file_as_out_dir(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(GptlabError, match="already exists.*--overwrite"):
        to_hf(tiny_gptlab(257), ByteTokenizer(ByteTokenizerConfig()), tmp_path / "out")


def _save_config(folder, config_class: str, **fields) -> None:
    import transformers

    getattr(transformers, config_class)(**fields).save_pretrained(folder)


def test_import_names_an_unsupported_architecture(tmp_path):
    from transformers import AutoModelForCausalLM, GPTNeoXConfig

    config = GPTNeoXConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, vocab_size=50
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="GPTNeoXForCausalLM.*Supported architectures: LlamaForCausalLM"):
        from_hf(tmp_path)


SHAPE = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 4}
UNSUPPORTED_CONFIGS = {
    "llama activation": ("LlamaConfig", {**SHAPE, "hidden_act": "relu"}, "hidden_act=relu"),
    "dynamic RoPE scaling": (
        "LlamaConfig",
        {**SHAPE, "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}},
        "rope_type=dynamic",
    ),
    "llama3 RoPE scaling, other factors": (
        "LlamaConfig",
        {
            **SHAPE,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 2.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
        },
        "llama3 rope scaling with factors other than",
    ),
    "qwen3 head_dim": ("Qwen3Config", {**SHAPE, "head_dim": 16}, "head_dim=16"),
    "qwen2 sliding window": ("Qwen2Config", {**SHAPE, "use_sliding_window": True}, "use_sliding_window=true"),
    "gpt2 layer-scaled attention": (
        "GPT2Config",
        {"n_embd": 32, "n_layer": 1, "n_head": 4, "scale_attn_by_inverse_layer_idx": True},
        "scale_attn_by_inverse_layer_idx=true",
    ),
}


@pytest.mark.parametrize("config_class, fields, named", UNSUPPORTED_CONFIGS.values(), ids=UNSUPPORTED_CONFIGS.keys())
def test_import_names_a_config_value_gptlab_cannot_compute(tmp_path, config_class, fields, named):
    _save_config(tmp_path, config_class, **fields)
    with pytest.raises(ConfigError, match=named.replace("[", r"\[")):
        from_hf(tmp_path)


def test_import_refuses_what_is_not_a_model_folder(tmp_path):
    with pytest.raises(GptlabError, match="is not a folder"):
        from_hf(tmp_path / "missing")
    with pytest.raises(GptlabError, match="not a Hugging Face model folder: it has no config.json"):
        from_hf(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(GptlabError, match="config.json' is not valid JSON"):
        from_hf(tmp_path)


def test_import_refuses_missing_and_pickled_weights(tmp_path):
    _save_config(tmp_path, "LlamaConfig", **SHAPE)
    with pytest.raises(GptlabError, match="has no model.safetensors.*no model weights"):
        from_hf(tmp_path)
    torch.save({"model.embed_tokens.weight": torch.zeros(2, 2)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(GptlabError, match=r"weights as pickles \(pytorch_model.bin\).*only safetensors"):
        from_hf(tmp_path)


def test_import_refuses_a_folder_without_tokenizer(tmp_path):
    from transformers import AutoModelForCausalLM, LlamaConfig

    AutoModelForCausalLM.from_config(LlamaConfig(**SHAPE, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(GptlabError, match="has no tokenizer.json"):
        from_hf(tmp_path)


def test_import_names_overrides_it_cannot_take(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot override \['n_layer'\]; it takes block_size, attention, dropout"):
        from_hf(tmp_path, n_layer=3)


def test_import_config_json_keeps_its_word_on_the_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConfigError, match="holds a bert"):
        from_hf(tmp_path)
