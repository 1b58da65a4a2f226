"""gptlab from Python: train a tiny model from a dict of overrides, load it back, sample, and peek inside.

    .venv/bin/python experiments/python_api.py [OUT_DIR]

Runs in about half a minute on a laptop CPU (tests/test_examples.py runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import gptlab
from gptlab.model.cache import KVCache


def main(out_dir: Path) -> None:
    # 1. train: any key of the composed config, as on the command line
    metrics = gptlab.train(
        {
            "model.n_layer": 1,
            "model.d_model": 48,
            "model.n_head": 3,
            "model.block_size": 64,
            "data.plays": ["macbeth"],
            "trainer.max_steps": 40,
            "trainer.eval_every": 40,
            "trainer.samples": 0,
            "trainer.progress": False,
        },
        run_dir=out_dir / "run",
    )
    print(f"trained: val loss {metrics['val_loss']:.3f}, val bpb {metrics['val_bpb']:.3f}")

    # 2. load: the model (eval mode), its tokenizer and its typed config, on any machine
    model, tokenizer, config = gptlab.load(out_dir / "run", device="cpu")
    print(f"loaded: {config.n_layer} layer(s) x {config.d_model}, vocab {tokenizer.vocab_size}")

    # 3. sample greedily, one token at a time on the KV cache
    ids = torch.as_tensor(tokenizer.encode("MACBETH:\n"))[None]
    cache = KVCache.for_model(model, batch_size=1)
    with torch.inference_mode():
        logits = model(ids, cache=cache).logits
        for _ in range(40):
            next_id = logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, next_id], dim=1)
            logits = model(next_id, cache=cache).logits
    print("sample:", repr(tokenizer.decode(ids[0].tolist())))

    # 4. inspect: which token the model finds likeliest after each prefix position
    with torch.inference_mode():
        probs = model(ids[:, :12]).logits.softmax(-1)
    top = probs[0].argmax(-1).tolist()
    print("next-token guesses:", repr(tokenizer.decode(top)))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("outputs/python_api"))
