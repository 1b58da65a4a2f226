"""gptlab/inference/engine.py on real (tiny, random) GPTs: the KV cache decodes exactly the tokens of the
uncached loop for every attention knob; samples, seeds, stops, sliding and prompt checks."""

from __future__ import annotations

import pytest
import torch

from gptlab import registry
from gptlab.errors import GptlabError
from gptlab.generate import sample_texts
from gptlab.inference.decoder import CachedDecoder, UncachedDecoder
from gptlab.inference.engine import Engine, PromptTooLong, collect
from gptlab.inference.sampling import SamplingParams
from gptlab.model.gpt import GPTConfig
from gptlab.tokenizer.byte import ByteTokenizer

VOCAB = 64
BLOCK = 32
# every attention knob of issue 13: heads, windows, positions, softcaps, MoE, MTP heads (ignored at inference)
VARIANTS = {
    "mha learned": {},
    "gqa": {"n_head": 4, "n_kv_head": 2},
    "mqa": {"n_head": 4, "n_kv_head": 1},
    "sliding windows": {"window_pattern": ["local", "global"], "window_size": 5, "pos": "rope"},
    "rope": {"pos": "rope"},
    "rope yarn": {"pos": "rope", "rope_scaling": "yarn", "rope_scaling_factor": 4.0},
    "alibi": {"pos": "alibi", "n_kv_head": 1},
    "sinusoidal": {"pos": "sinusoidal"},
    "nope": {"pos": "none"},
    "attention softcap": {"attention": "math", "attn_softcap": 5.0},
    "logit softcap": {"logit_softcap": 3.0},
    "qk norm, post-norm": {"qk_norm": "rmsnorm", "norm_placement": "post"},
    "moe": {"moe_experts": 4, "moe_top_k": 2, "moe_shared_experts": 1},
    "mtp heads": {"mtp_heads": 2},
    "llama-like": {"norm": "rmsnorm", "pos": "rope", "mlp": "swiglu", "n_head": 4, "n_kv_head": 2, "bias": False},
}


def tiny_gpt(**knobs) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = GPTConfig(**{"n_layer": 2, "n_head": 2, "d_model": 32, "block_size": BLOCK, "init_std": 0.3, **knobs})
    return registry.build("model", cfg, vocab_size=VOCAB).eval()


def greedy_ids(decoder, prompt: list[int], new: int, repetition_penalty: float = 1.0) -> list[int]:
    engine = Engine(decoder, decode=lambda ids: "")
    params = SamplingParams(max_tokens=new, temperature=0, repetition_penalty=repetition_penalty)
    return [int(t) for t in engine.tokens(prompt, params)]


@pytest.mark.parametrize("knobs", list(VARIANTS.values()), ids=list(VARIANTS))
def test_cached_greedy_decoding_gives_exactly_the_uncached_tokens(knobs):
    model = tiny_gpt(**knobs)
    prompt = [3, 14, 15, 9, 2, 6]
    new = BLOCK - len(prompt)  # up to the full context, where the uncached loop has not cropped yet
    assert greedy_ids(CachedDecoder(model), prompt, new) == greedy_ids(UncachedDecoder(model), prompt, new)
    # a random model's greedy path often repeats one token; a repetition penalty makes it wander
    varied = greedy_ids(CachedDecoder(model), prompt, new, repetition_penalty=3.0)
    assert varied == greedy_ids(UncachedDecoder(model), prompt, new, repetition_penalty=3.0)
    assert len(set(varied)) > 5


def test_samples_of_one_prompt_decode_as_a_batch_and_follow_the_seed():
    engine = Engine(CachedDecoder(tiny_gpt()), decode=lambda ids: "")
    params = SamplingParams(max_tokens=12, temperature=1.0, top_p=0.9, n=4, seed=5)
    rows = torch.stack(list(engine.tokens([1, 2, 3], params)), dim=1)
    assert rows.shape == (4, 12)
    assert torch.equal(rows, torch.stack(list(engine.tokens([1, 2, 3], params)), dim=1))
    assert len({tuple(r) for r in rows.tolist()}) > 1  # the rows are different samples
    other = SamplingParams(max_tokens=12, temperature=1.0, top_p=0.9, n=4, seed=6)
    assert not torch.equal(rows, torch.stack(list(engine.tokens([1, 2, 3], other)), dim=1))


def test_a_sample_ends_at_an_end_token_without_printing_it():
    model = tiny_gpt()
    tokenizer = ByteTokenizer()
    prompt = [40, 41]
    ids = greedy_ids(CachedDecoder(model), prompt, 10)
    end = ids[4]
    first = ids.index(end)
    engine = Engine(CachedDecoder(model), tokenizer.decode, end_ids=[end])
    result = collect(engine.stream(prompt, SamplingParams(max_tokens=10, temperature=0)))
    assert result.finish_reasons == ["stop"] and result.completion_tokens == first + 1
    assert result.texts == [tokenizer.decode(ids[:first])]


def test_a_sample_ends_at_a_stop_string_and_at_max_tokens():
    model = tiny_gpt()
    tokenizer = ByteTokenizer()
    engine = Engine(CachedDecoder(model), tokenizer.decode)
    free = collect(engine.stream([40, 41], SamplingParams(max_tokens=10, temperature=0)))
    assert free.finish_reasons == ["length"] and free.completion_tokens == 10
    text = free.texts[0]
    stop = text[5:7]
    stopped = collect(engine.stream([40, 41], SamplingParams(max_tokens=10, temperature=0, stop=[stop])))
    assert stopped.finish_reasons == ["stop"] and stopped.texts == [text[: text.index(stop)]]


def test_generation_slides_past_the_context():
    model = tiny_gpt(pos="learned")
    engine = Engine(CachedDecoder(model), decode=lambda ids: "")
    tokens = list(engine.tokens([1] * BLOCK, SamplingParams(max_tokens=3 * BLOCK, temperature=0.8, seed=0)))
    assert len(tokens) == 3 * BLOCK


def test_a_prompt_longer_than_the_context_is_refused_with_the_numbers():
    engine = Engine(CachedDecoder(tiny_gpt()), decode=lambda ids: "")
    with pytest.raises(
        PromptTooLong, match=f"33 tokens but the model's context holds {BLOCK}; shorten it by at least 1"
    ):
        engine.stream([1] * (BLOCK + 1), SamplingParams())
    with pytest.raises(GptlabError, match="empty"):
        engine.stream([], SamplingParams())


def test_a_cancelled_generation_stops_between_steps():
    engine = Engine(CachedDecoder(tiny_gpt()), ByteTokenizer().decode)  # ids < 64: one ASCII character each
    steps = []
    generation = engine.stream([1, 2], SamplingParams(max_tokens=50), cancelled=lambda: len(steps) >= 3)
    for deltas in generation:
        steps.append(deltas)
    assert len(steps) == 3 and generation.finish_reasons == ["cancelled"]


def test_sample_texts_keeps_its_contract_and_the_model_mode():
    model = tiny_gpt().train()
    tokenizer = ByteTokenizer()
    texts = sample_texts(model, tokenizer, "(!", 3, 8, BLOCK, 0.8, 10, seed=1, device=torch.device("cpu"))
    assert len(texts) == 3 and all(t.startswith("(!") for t in texts)
    assert texts == sample_texts(model, tokenizer, "(!", 3, 8, BLOCK, 0.8, 10, seed=1, device=torch.device("cpu"))
    assert model.training


def test_a_compiled_decode_step_gives_the_eager_tokens():
    """``--compile`` (gptlab-chat, gptlab-serve): torch.compile'd decode steps, one compilation for every cache length."""
    model = tiny_gpt(**VARIANTS["llama-like"])
    prompt = [3, 14, 15, 9, 2, 6]
    new = BLOCK - len(prompt)
    compiled = greedy_ids(CachedDecoder(model, compile=True), prompt, new, repetition_penalty=3.0)
    assert compiled == greedy_ids(CachedDecoder(model), prompt, new, repetition_penalty=3.0)
    assert len(set(compiled)) > 5


@pytest.mark.parametrize("tied", [True, False], ids=["tied head", "untied head"])
def test_the_cpu_decoder_stores_linear_weights_column_major_without_changing_the_model(tied):
    """gptlab/inference/layout.py: same parameters, same values, other strides; the model still trains and saves."""
    model = tiny_gpt(**VARIANTS["llama-like"], tie_embeddings=tied)
    idx = torch.tensor([[3, 14, 15, 9, 2, 6]])
    before = model(idx).logits
    params = dict(model.named_parameters())
    values = {name: p.detach().clone() for name, p in params.items()}
    CachedDecoder(model)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(m.weight.stride(0) == 1 and m.weight.dim() == 2 for m in linears)
    assert dict(model.named_parameters()) == params  # the same Parameter objects
    assert all(torch.equal(p, values[name]) for name, p in params.items())
    assert (model.head.weight is model.token_embedding.weight) == tied
    torch.testing.assert_close(model(idx).logits, before)
    fresh = tiny_gpt(**VARIANTS["llama-like"], tie_embeddings=tied)
    fresh.load_state_dict(model.state_dict())
    assert all(torch.equal(p, values[name]) for name, p in fresh.named_parameters())
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss = model(idx[:, :-1], idx[:, 1:]).loss
    loss.backward()
    optimizer.step()
    assert model(idx[:, :-1], idx[:, 1:]).loss < loss
