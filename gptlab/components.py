"""Imports every built-in component module so that each registers itself."""

import gptlab.data.shakespeare  # noqa: F401
import gptlab.data.text  # noqa: F401
import gptlab.logger.jsonl  # noqa: F401
import gptlab.logger.none  # noqa: F401
import gptlab.logger.wandb  # noqa: F401
import gptlab.model.attention  # noqa: F401
import gptlab.model.bigram  # noqa: F401
import gptlab.model.gpt  # noqa: F401
import gptlab.model.init  # noqa: F401
import gptlab.model.mlp  # noqa: F401
import gptlab.model.norm  # noqa: F401
import gptlab.model.position  # noqa: F401
import gptlab.optimizer.adamw  # noqa: F401
import gptlab.optimizer.lion  # noqa: F401
import gptlab.optimizer.muon  # noqa: F401
import gptlab.optimizer.sgd  # noqa: F401
import gptlab.optimizer.soap  # noqa: F401
import gptlab.schedule  # noqa: F401
import gptlab.sweep.config  # noqa: F401
import gptlab.tokenizer.char  # noqa: F401
import gptlab.trainer.config  # noqa: F401
