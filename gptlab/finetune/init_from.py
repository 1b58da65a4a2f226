"""``trainer.init_from=RUN_DIR`` with conversation data: fine-tune a pretrained gptlab run.

The run takes the base run's model config, weights and trained tokenizer (the tokenizer config
may only add special tokens, e.g. the chat template's role tokens: they are appended after the
vocabulary, with fresh embedding rows). Conversation data (``data=qa``, ``data=chat``,
``data=arithmetic``) is rendered with the chat template and trained on the answers only (sft.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gptlab import registry
from gptlab.api import model_from_state
from gptlab.data.cache import TokenSplits
from gptlab.errors import ConfigError, GptlabError
from gptlab.finetune.config import finetune_config
from gptlab.finetune.lora import LoraConfig, add_adapters, merged
from gptlab.hf.init import HF_PREFIX, is_hf_folder
from gptlab.tokenizer import Tokenizer, tokenizer_from_state
from gptlab.tokenizer.chat import ChatTemplate
from gptlab.trainer import checkpoint


class BaseRun:
    """A pretrained run to start from: its checkpoint's weights, run config and trained tokenizer."""

    def __init__(self, source: str, path: Path, state: dict[str, Any]):
        self.source, self.path = source, path
        self.config: dict[str, Any] = state["config"]
        self.weights: dict[str, torch.Tensor] = state["model"]
        self.tokenizer: Tokenizer = tokenizer_from_state(state["tokenizer"])
        self.lora = LoraConfig()  # the adapters a fine-tuning run adds (of_run sets the run's)

    @classmethod
    def open(cls, init_from: str) -> BaseRun:
        """The run at ``init_from`` (a run dir: its best checkpoint, else its last; or a checkpoint file)."""
        path = Path(init_from).expanduser()
        try:
            file = path if path.is_file() else checkpoint.find(path)
            state = checkpoint.load(file)
        except GptlabError as error:
            raise ConfigError(f"trainer.init_from='{init_from}': {error}") from None
        missing = [key for key in ("config", "model", "tokenizer") if key not in state]
        if missing:
            raise ConfigError(f"trainer.init_from='{init_from}': checkpoint {file} lacks {missing}; not a gptlab run.")
        run = cls(init_from, file, state)
        lora = finetune_config(OmegaConf.create(run.config)).lora
        if lora.enabled:  # a run of adapters: its own base run's weights with the adapters merged in
            run.weights = run.merged_weights(lora)
        return run

    def build_model(self) -> nn.Module:
        """A fresh model of the run's architecture for its tokenizer's vocabulary (random weights)."""
        return registry.build("model", self.config["model"], vocab_size=self.tokenizer.vocab_size)

    def model(self) -> nn.Module:
        """The run's plain gptlab model (a LoRA run's adapters merged: merge-on-export), in eval mode."""
        state = {"config": self.config, "model": self.weights, "tokenizer": self.tokenizer.state()}
        return model_from_state(state, self.path)[0].eval()

    def merged_weights(self, lora: Any) -> dict[str, torch.Tensor]:
        """The weights of a LoRA run (its checkpoint holds adapters only): base weights + adapters, merged."""
        base = BaseRun.open(self.config["trainer"]["init_from"])
        model = self.build_model()
        model.load_state_dict(grown_rows(base.weights, model.state_dict()))
        model = add_adapters(model, lora)
        model.load_state_dict(self.weights)
        return merged(model).state_dict()

    @classmethod
    def of_run(cls, cfg: DictConfig) -> BaseRun | None:
        """The base run of a fine-tuning run, its model config adopted into ``cfg``: None unless
        ``trainer.init_from`` names a gptlab run and the data are conversations (other starts, e.g. a
        Hugging Face folder for continued pretraining, are gptlab/hf/init.py's)."""
        init_from = cfg.trainer.get("init_from")
        data = registry.lookup("data", cfg.data.name, key="data.name").target
        if (
            not init_from
            or init_from.startswith(HF_PREFIX)
            or is_hf_folder(init_from)
            or not hasattr(data, "conversations")
        ):
            return None
        base = cls.open(init_from)
        base.lora = finetune_config(cfg).lora
        cfg.trainer.init_from = str(Path(init_from).expanduser().resolve())  # the saved config finds it from anywhere
        base.adopt(cfg)
        return base

    def adopt(self, cfg: DictConfig) -> None:
        """Give ``cfg`` the base run's model config; refuse another kind of tokenizer; keep conversations
        apart in packed batches (document starts and masks)."""
        base_tokenizer = self.config["tokenizer"]["name"]
        if cfg.tokenizer.name != base_tokenizer:
            raise ConfigError(
                f"trainer.init_from='{self.source}' was trained with tokenizer={base_tokenizer}, but this run asks "
                f"tokenizer={cfg.tokenizer.name}. A fine-tuning run keeps the base run's tokenizer: pass "
                f"tokenizer={base_tokenizer} (its vocabulary comes from the base run; new special tokens are added)."
            )
        cfg.model = OmegaConf.create(self.config["model"])
        cfg.data.doc_starts = cfg.data.doc_mask = True
        print(f"init_from: {self.path} (model {cfg.model.name}, tokenizer {base_tokenizer} of the base run)")

    def tokenizer_with(self, tokenizer_cfg: Any) -> Tokenizer:
        """The base tokenizer with the chat template of ``tokenizer_cfg``: its tokens, and the other special
        tokens the config declares, appended after the vocabulary where new (bos/eos/pad stay the base run's)."""
        template = ChatTemplate.from_config(tokenizer_cfg.chat_template)
        grown = self.tokenizer.with_special_tokens([*tokenizer_cfg.special_tokens(), *template.tokens])
        state = grown.state()
        state["special"]["template"] = dict(zip(("system", "user", "assistant", "end"), template.tokens))
        return tokenizer_from_state(state)

    def start(self, run: Any) -> FineTuneStart:
        """The start of a fine-tuning run (``run``: its resolved config, with the base model config): the
        tokenizer with the chat template's tokens and the model with the base weights (gptlab/run/build.py)."""
        tokenizer = self.tokenizer_with(run.tokenizer)
        model = self.init_model(registry.build("model", run.model, vocab_size=tokenizer.vocab_size))
        return FineTuneStart(model, tokenizer, run.model)

    def init_model(self, model: nn.Module) -> nn.Module:
        """``model`` (built for the new vocabulary) with the base weights, fresh rows for new tokens, and
        the adapters of the run's ``finetune.lora`` if any."""
        model.load_state_dict(grown_rows(self.weights, model.state_dict()))
        return add_adapters(model, self.lora) if self.lora.enabled else model


@dataclass
class FineTuneStart:
    """What a fine-tuning run starts from; its data are the conversations of the source, packed (sft.py)."""

    model: nn.Module
    tokenizer: Tokenizer
    config: Any

    def token_splits(self, source: Any, block_size: int) -> TokenSplits:
        from gptlab.finetune.sft import conversation_splits

        return conversation_splits(source, self.tokenizer, block_size)


def grown_rows(weights: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``weights`` with every vocabulary matrix (token embedding, head) grown to ``target``'s rows; a new
    row starts as the mean of the old rows (Hewitt 2021, "Initializing new word embeddings")."""
    grown = {}
    for key, value in weights.items():
        want = target.get(key)
        if want is not None and value.shape[1:] == want.shape[1:] and value.shape[0] < want.shape[0]:
            extra = (
                value.float()
                .mean(0, keepdim=True)
                .to(value.dtype)
                .expand(want.shape[0] - value.shape[0], *value.shape[1:])
            )
            value = torch.cat([value, extra])
        grown[key] = value
    return grown
