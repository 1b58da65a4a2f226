"""Quick access to a module's registered submodules and parameters.

``nn.Module`` keeps its submodules and parameters in the dicts ``_modules`` and ``_parameters`` and finds
them in ``__getattr__``, which Python calls only after the normal lookup has failed: every ``self.qkv``
or ``self.weight`` first raises and catches an AttributeError (about 2 us on this repository's CPU; a
batch-1 decode step of ``llama_like`` makes some 120 such reads). An attribute of the class (:class:`_Entry`) is found by
the normal lookup and reads the same dict entry, so what it returns is always what ``nn.Module`` would
(assignment, ``load_state_dict``, ``.to()``, LoRA's module swaps and FSDP2 all write those dicts).
"""

from __future__ import annotations

from torch import nn


class _Entry:
    """A class attribute that reads ``obj.<store>[name]``. Not a data descriptor: a value put in the
    instance's ``__dict__`` (as some weight reparametrizations do) still takes precedence, as it does
    over ``nn.Module.__getattr__``."""

    __slots__ = ("store", "name")

    def __init__(self, store: str, name: str):
        self.store, self.name = store, name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        try:
            return obj.__dict__[self.store][self.name]
        except KeyError:  # not registered (yet): as nn.Module, so hasattr() during registration is False
            raise AttributeError(f"'{type(obj).__name__}' object has no attribute '{self.name}'") from None


def submodules(*names: str) -> tuple[_Entry, ...]:
    """Class attributes for the submodules ``names``: ``attn, mlp = submodules("attn", "mlp")``."""
    return tuple(_Entry("_modules", name) for name in names)


def parameters(*names: str) -> tuple[_Entry, ...]:
    """Class attributes for the parameters ``names`` (a parameter registered as None reads None)."""
    return tuple(_Entry("_parameters", name) for name in names)


def buffers(*names: str) -> tuple[_Entry, ...]:
    """Class attributes for the buffers ``names``."""
    return tuple(_Entry("_buffers", name) for name in names)


class Linear(nn.Linear):
    """``nn.Linear`` whose ``forward`` reads its weight and bias without two failed lookups."""

    weight, bias = parameters("weight", "bias")
