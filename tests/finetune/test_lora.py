"""LoRA adapters through peft (gptlab/finetune/lora.py) on a plain gptlab model."""

import pytest
import torch

import gptlab
from gptlab.errors import ConfigError
from gptlab.finetune.init_from import BaseRun
from gptlab.finetune.lora import LoraConfig, add_adapters, load_adapter, merged, save_adapter
from gptlab.model.gpt import GPT, GPTConfig
from gptlab.train import train
from gptlab.trainer import checkpoint
from tests.finetune.helpers import one_thread, sft_config

TINY = dict(n_layer=1, n_head=2, d_model=32, block_size=16)


def _model(**knobs) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **knobs}), vocab_size=20)


def _nudge_adapters(model) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.1)


@pytest.mark.parametrize("knobs", [{}, {"tie_embeddings": False, "mlp": "swiglu"}])
def test_adapters_train_alone_save_alone_and_merge_exactly(knobs, tmp_path):
    target = ["qkv", "proj", "up", "down"] + (["head"] if knobs else [])
    model = add_adapters(_model(**knobs), LoraConfig(rank=4, alpha=8, target=target))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert len(trainable) == 2 * len(target)
    assert set(model.state_dict()) == trainable, "a checkpoint of the model holds the adapters only"
    _nudge_adapters(model)
    ids = torch.randint(0, 20, (2, 12))
    expected = model(ids).logits
    save_adapter(model, LoraConfig(rank=4, alpha=8, target=target), tmp_path, base="runs/base")
    again = add_adapters(_model(**knobs), LoraConfig(rank=4, alpha=8, target=target))
    load_adapter(again, tmp_path / "adapter.safetensors")
    assert torch.allclose(again(ids).logits, expected)
    plain = merged(model)
    assert set(plain.state_dict()) == set(_model(**knobs).state_dict()), "merged: a plain gptlab model"
    assert torch.allclose(plain(ids).logits, expected, atol=1e-5)


def test_bad_lora_configs_are_named():
    with pytest.raises(ConfigError, match="finetune.lora.target=.*attention"):
        LoraConfig(rank=4, target=["attention"])
    with pytest.raises(ConfigError, match="model.tie_embeddings=true"):
        add_adapters(_model(), LoraConfig(rank=4, target=["head"]))


def test_lora_sft_trains_only_adapters_and_the_merged_run_matches(base_run, qa_path, tmp_path, monkeypatch):
    built = []
    init_model = BaseRun.init_model

    def keep(self, model):  # the trained model and a copy of its frozen weights right after init
        model = init_model(self, model)
        built.append((model, {k: v.clone() for k, v in model.named_parameters() if not v.requires_grad}))
        return model

    monkeypatch.setattr(BaseRun, "init_model", keep)
    data = ["data=qa", f"data.path={qa_path}", "data.val_fraction=0.2"]
    lora = ["finetune=lora", "finetune.lora.rank=4", "finetune.lora.target=[qkv,proj,up,down]"]
    one_thread(train, sft_config(base_run, data, *lora, "trainer.max_steps=15", "optimizer.lr=1e-2"), tmp_path)
    ((model, frozen),) = built
    assert frozen and all(
        torch.equal(param, frozen[name]) for name, param in model.named_parameters() if name in frozen
    )
    adapters = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert adapters and all("lora_" in name for name in adapters)
    assert any(p.abs().sum() > 0 for name, p in adapters.items() if "lora_B" in name), "the adapters trained"
    saved = checkpoint.load(checkpoint.checkpoint_path(tmp_path, checkpoint.LAST))["model"]
    assert set(saved) == set(adapters), "the checkpoint holds the adapters only"
    ids = torch.randint(0, 40, (2, 20))
    merged_model = BaseRun.open(str(tmp_path)).model()  # base run + adapters, merged into a plain model
    assert not any("lora_" in name for name in merged_model.state_dict())
    assert torch.allclose(merged_model(ids).logits, model.eval()(ids).logits, atol=1e-5)
    loaded, _, _ = gptlab.load(tmp_path, device="cpu")  # gptlab.load merges a LoRA run's adapters too
    assert torch.allclose(loaded(ids).logits, merged_model(ids).logits, atol=1e-6)
