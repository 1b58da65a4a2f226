"""The KV cache: decoding token by token gives the logits of one forward over the whole sequence, for every knob."""

from __future__ import annotations

import pytest
import torch

from gptlab import registry
from gptlab.model.cache import KVCache
from gptlab.model.gpt import GPTConfig
from tests.model.test_gpt import KNOBS, VOCAB

SEQ = 12


def _model(knobs: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = GPTConfig(**{"n_layer": 2, "n_head": 2, "d_model": 16, "block_size": 16, **knobs})
    return registry.build("model", cfg, vocab_size=VOCAB).eval()


@pytest.mark.parametrize("knobs", list(KNOBS.values()), ids=list(KNOBS))
def test_cached_decoding_gives_the_full_forward_logits(knobs):
    model = _model(knobs)
    idx = torch.randint(VOCAB, (2, SEQ), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(idx).logits
        cache = KVCache.for_model(model, batch_size=2)
        chunks = [model(idx[:, :5], cache=cache).logits]  # prefill 5, then one token at a time
        chunks += [model(idx[:, t : t + 1], cache=cache).logits for t in range(5, SEQ)]
    assert cache.length == SEQ
    torch.testing.assert_close(torch.cat(chunks, dim=1), full, atol=1e-5, rtol=1e-5)


def test_chunks_after_a_truncate_continue_from_the_kept_positions():
    model = _model({"pos": "rope", "n_kv_head": 1, "window_size": 4})
    idx = torch.randint(VOCAB, (1, SEQ), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(idx).logits
        cache = KVCache.for_model(model, batch_size=1)
        model(torch.randint(VOCAB, (1, 9)), cache=cache)
        cache.truncate(0)  # forget it all: the next chunk starts at position 0 again
        first = model(idx[:, :7], cache=cache).logits
        rest = model(idx[:, 7:], cache=cache).logits  # a chunk of several tokens on top of the cache
    torch.testing.assert_close(torch.cat([first, rest], dim=1), full, atol=1e-5, rtol=1e-5)


def test_a_full_cache_and_a_wrong_batch_are_refused():
    model = _model({})
    cache = KVCache.for_model(model, batch_size=1, max_len=4)
    with torch.no_grad():
        model(torch.zeros(1, 4, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="do not fit the cache"):
            model(torch.zeros(1, 1, dtype=torch.long), cache=cache)
        cache.reset()
        with pytest.raises(ValueError, match="holds 1 rows"):
            model(torch.zeros(2, 1, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="max_len=99"):
        KVCache.for_model(model, batch_size=1, max_len=99)


def test_select_keeps_the_chosen_rows():
    model = _model({"n_kv_head": 1})
    idx = torch.randint(VOCAB, (3, 6), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        cache = KVCache.for_model(model, batch_size=3)
        model(idx[:, :5], cache=cache)
        cache.select([2, 0])
        step = model(idx[[2, 0], 5:], cache=cache).logits
        full = model(idx[[2, 0]]).logits[:, 5:]
    torch.testing.assert_close(step, full, atol=1e-5, rtol=1e-5)
