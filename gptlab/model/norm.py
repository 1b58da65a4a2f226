"""Normalization layers (registry kind ``norm``, selected by ``model.norm``)."""

from torch import nn

from gptlab.registry import register


@register("norm", "layernorm")
class LayerNorm(nn.LayerNorm):
    """LayerNorm (Ba et al. 2016, arXiv:1607.06450), with an optional bias."""

    def __init__(self, dim: int, bias: bool = True):
        super().__init__(dim, bias=bias)
