"""``logger=none``: console output only, no metrics file, no service."""

from dataclasses import dataclass

from gptlab.logger import RunContext
from gptlab.registry import register


@dataclass
class NoLoggerConfig:
    name: str = "none"


@register("logger", "none", NoLoggerConfig)
def no_logger(cfg: NoLoggerConfig, run: RunContext) -> list:
    """Console only: no metrics file, no service."""
    return []
