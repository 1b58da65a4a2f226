"""Imports every built-in component module so that each registers itself."""

import gptlab.data.hf  # noqa: F401
import gptlab.data.jsonl  # noqa: F401
import gptlab.data.qa  # noqa: F401
import gptlab.data.shakespeare  # noqa: F401
import gptlab.data.text  # noqa: F401
import gptlab.logger.jsonl  # noqa: F401
import gptlab.logger.none  # noqa: F401
import gptlab.logger.wandb  # noqa: F401
import gptlab.model.attention  # noqa: F401
import gptlab.model.gpt  # noqa: F401
import gptlab.model.mlp  # noqa: F401
import gptlab.model.norm  # noqa: F401
import gptlab.model.position  # noqa: F401
import gptlab.optimizer.adamw  # noqa: F401
import gptlab.schedule  # noqa: F401
import gptlab.tokenizer.bpe  # noqa: F401
import gptlab.tokenizer.byte  # noqa: F401
import gptlab.tokenizer.char  # noqa: F401
import gptlab.tokenizer.hf  # noqa: F401
import gptlab.tokenizer.tiktoken  # noqa: F401
import gptlab.trainer.config  # noqa: F401
