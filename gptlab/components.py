"""Imports every built-in component module so that each registers itself (the torch-free ones, which
Hydra needs to compose a config, through ``gptlab/schemas.py``)."""

import gptlab.distributed.compile  # noqa: F401
import gptlab.distributed.strategy  # noqa: F401
import gptlab.model.attention  # noqa: F401
import gptlab.model.bigram  # noqa: F401
import gptlab.model.cross_entropy  # noqa: F401
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
import gptlab.schemas  # noqa: F401
