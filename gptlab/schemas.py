"""Imports every module that registers the config schema of a built-in component, and no module that
imports torch: what Hydra needs to compose and check a config, so ``gptlab-train --cfg job`` (and
``--help``, ``--info``) answer without torch. ``gptlab/components.py`` imports the components too.

A module listed here must stay torch-free (``tests/test_cli.py`` checks it): where a
component needs torch, its config lives apart (``model/config.py``, ``optimizer/config.py``,
``finetune/lora_config.py``) and registers its schema with ``gptlab.registry.register_schema``.
"""

import gptlab.data.arithmetic  # noqa: F401
import gptlab.data.chat  # noqa: F401
import gptlab.data.hf  # noqa: F401
import gptlab.data.jsonl  # noqa: F401
import gptlab.data.qa  # noqa: F401
import gptlab.data.shakespeare  # noqa: F401
import gptlab.data.text  # noqa: F401
import gptlab.finetune.config  # noqa: F401
import gptlab.logger.jsonl  # noqa: F401
import gptlab.logger.none  # noqa: F401
import gptlab.logger.wandb  # noqa: F401
import gptlab.model.config  # noqa: F401
import gptlab.optimizer.config  # noqa: F401
import gptlab.schedule  # noqa: F401
import gptlab.sweep.config  # noqa: F401
import gptlab.tokenizer.bpe  # noqa: F401
import gptlab.tokenizer.byte  # noqa: F401
import gptlab.tokenizer.char  # noqa: F401
import gptlab.tokenizer.hf  # noqa: F401
import gptlab.tokenizer.tiktoken  # noqa: F401
import gptlab.trainer.config  # noqa: F401
