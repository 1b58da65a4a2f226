"""LoRA on the language-model head (``finetune.lora.target`` with ``head``), as a peft custom layer.

The head returns a ModelOutput (logits, loss), not a tensor, so peft's Linear cannot wrap it as is:
this layer adds the adapter's update to the head's logits before its softcap and loss.
"""

from __future__ import annotations

import torch
from peft.tuners.lora import Linear as LoraLinear

from gptlab.model.head import LMHead
from gptlab.model.output import ModelOutput


class LoraLMHead(LoraLinear):
    """peft's LoRA Linear around an :class:`LMHead`: logits = W x + scale * B A x, then the head's output."""

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> ModelOutput:
        head: LMHead = self.get_base_layer()
        if self.disable_adapters or self.merged:
            return head(x, targets)
        logits = torch.nn.functional.linear(x, head.weight)
        for name in self.active_adapters:
            if name in self.lora_A:
                update = self.lora_B[name](self.lora_A[name](self.lora_dropout[name](x)))
                logits = logits + update * self.scaling[name]
        return head.output(logits, targets)


CUSTOM_LAYERS = {LMHead: LoraLMHead}
