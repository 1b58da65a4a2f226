"""Tiny random models on both sides of the bridge, and the checks that two models compute the same function."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gptlab.inference.decoder import CachedDecoder
from gptlab.inference.engine import Engine
from gptlab.inference.sampling import SamplingParams
from gptlab.model.gpt import GPT, GPTConfig

EOS = "<|endoftext|>"
TEXT = "Fair is foul, and foul is fair: hover through the fog and filthy air.<|endoftext|>When shall we three meet?"
TINY_GPT = {"n_layer": 2, "n_head": 4, "d_model": 32, "block_size": 32}


def perturbed(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """``model`` with every parameter moved off its initial value (norm scales of 1, zero biases), so a
    dropped bias or a norm read at the wrong place changes the logits."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    return model.eval()


def tiny_gptlab(vocab_size: int, seed: int = 0, **knobs) -> GPT:
    torch.manual_seed(seed)
    return perturbed(GPT(GPTConfig(**{**TINY_GPT, **knobs}), vocab_size), seed)


def tokens(vocab_size: int, length: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab_size, (2, length), generator=torch.Generator().manual_seed(seed))


def max_logit_difference(gptlab_model: GPT, hf_model, idx: torch.Tensor) -> float:
    with torch.no_grad():
        ours = gptlab_model(idx).logits
        theirs = hf_model(idx).logits[..., : ours.size(-1)]
    return (ours - theirs).abs().max().item()


def assert_same_greedy_tokens(gptlab_model: GPT, hf_model, prompt: torch.Tensor, new_tokens: int = 8) -> None:
    """gptlab's engine, greedy on the KV cache, and transformers' greedy generate give the same tokens; HF may
    stop early at its EOS, so gptlab's continuation is compared up to HF's length."""
    engine = Engine(CachedDecoder(gptlab_model), decode=lambda ids: "")
    greedy = SamplingParams(max_tokens=new_tokens, temperature=0.0)
    produced = [torch.cat(list(engine.tokens(row.tolist(), greedy))) for row in prompt]
    ours = torch.cat([prompt, torch.stack(produced)], dim=1)
    with torch.no_grad():
        theirs = hf_model.generate(
            prompt, max_new_tokens=new_tokens, do_sample=False, attention_mask=torch.ones_like(prompt)
        )
    assert theirs.size(1) > prompt.size(1)
    assert torch.equal(ours[:, : theirs.size(1)], theirs)


def save_hf_model(folder, config_class: str, fields: dict, tokenizer_dir, vocab_size: int, seed: int = 0):
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = getattr(transformers, config_class)(
        vocab_size=vocab_size, eos_token_id=tokenizer.eos_token_id, bos_token_id=None, pad_token_id=None, **fields
    )
    torch.manual_seed(seed)
    model = perturbed(AutoModelForCausalLM.from_config(config, dtype=torch.float32), seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


@pytest.fixture(scope="session")
def hf_tokenizer_dir(tmp_path_factory) -> Path:
    """A Hugging Face fast tokenizer (byte-level BPE with an EOS special token), saved as transformers saves one."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from gptlab.data.shakespeare import markdown_to_text, play_files

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator([markdown_to_text(play_files()["macbeth"].read_text("utf-8"))], trainer)
    folder = tmp_path_factory.mktemp("hf-tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS).save_pretrained(folder)
    return folder
