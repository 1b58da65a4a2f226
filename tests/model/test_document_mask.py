"""Document masking: with the loader's document ids, attention never crosses a document boundary."""

import pytest
import torch

from gptlab import registry
from gptlab.errors import ConfigError
from gptlab.logger.jsonl import read_metrics
from gptlab.model.gpt import GPTConfig
from gptlab.train import train
from tests.helpers import TINY, compose_config


@pytest.mark.parametrize("attention", ["sdpa", "math"])
def test_attention_stays_inside_each_document(attention):
    torch.manual_seed(0)
    model = registry.build("model", GPTConfig(n_layer=2, n_head=2, d_model=16, block_size=16, attention=attention), 11)
    model.eval()
    idx = torch.randint(0, 11, (1, 16))
    changed = idx.clone()
    changed[0, 2] = (idx[0, 2] + 1) % 11  # a token of the first document
    doc_ids = torch.tensor([[0] * 8 + [1] * 8])
    with torch.no_grad():
        masked = model(idx, doc_ids=doc_ids).logits, model(changed, doc_ids=doc_ids).logits
        plain = model(idx).logits, model(changed).logits
    assert torch.allclose(masked[0][0, 8:], masked[1][0, 8:], atol=1e-6), "the second document cannot see the first"
    assert not torch.allclose(plain[0][0, 8:], plain[1][0, 8:], atol=1e-6), "without the mask it does"
    assert not torch.allclose(masked[0][0, 2:8], masked[1][0, 2:8]), "inside the document the change is seen"


def test_training_with_document_masking(jsonl_file, tmp_path):
    data = ["data=jsonl", f"data.path={jsonl_file}", "data.doc_mask=true", "data.val_fraction=0.5"]
    overrides = [*TINY, *data, "model.block_size=16", "trainer.max_steps=6", "trainer.samples=0"]
    train(compose_config(overrides), tmp_path)
    assert read_metrics(tmp_path / "metrics.jsonl")[-1]["step"] == 6


def test_a_kernel_without_masks_is_refused_early():
    from gptlab.run.build import check_document_masking

    cfg = GPTConfig(n_layer=1, n_head=2, d_model=16, block_size=16)
    model = registry.build("model", cfg, 11)
    check_document_masking(model, cfg)  # sdpa takes a mask
    model.blocks[0].attn.kernel.features = frozenset({"gqa"})  # as flex and flash: no mask
    with pytest.raises(ConfigError, match="takes no mask.*model.attention=sdpa"):
        check_document_masking(model, cfg)
