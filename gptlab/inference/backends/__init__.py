"""Backends: where a model runs. One option (``--model``) picks one: an ``http(s)://`` URL is a remote
OpenAI-compatible endpoint, a folder with ``config.json`` a Hugging Face causal LM, anything else a
gptlab run dir or checkpoint file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from gptlab.errors import GptlabError
from gptlab.inference.backends.base import Backend, Generation, Messages

__all__ = ["Backend", "Generation", "Messages", "open_backend"]


def open_backend(
    spec: str,
    device: str = "auto",
    remote_model: Optional[str] = None,
    api_key_env: Optional[str] = None,
    timeout: float = 60.0,
    name: Optional[str] = None,
    compile: bool = False,
) -> Backend:
    """The backend ``spec`` names; ``compile`` runs a gptlab model's decode step through torch.compile."""
    if spec.startswith(("http://", "https://")):
        from gptlab.inference.backends.remote import RemoteBackend

        return RemoteBackend(spec, remote_model, api_key_env, timeout, name)
    path = Path(spec).expanduser()
    if not path.exists():
        raise GptlabError(
            f"--model '{spec}' does not exist. Pass a gptlab run dir or checkpoint (.pt), a Hugging Face model "
            f"folder (with config.json), or the http(s):// base URL of an OpenAI-compatible endpoint."
        )
    from gptlab.inference.backends.hf import HFBackend, is_hf_folder

    if is_hf_folder(path):
        return HFBackend(path, device, name)
    from gptlab.inference.backends.local import GptlabBackend

    return GptlabBackend(path, device, name, compile)
