"""Parameter roles: which parameters are matrices, embeddings, the output head or vectors.

Optimizers treat the roles differently: weight decay usually skips vectors (norm gains, biases)
and embeddings, Muon and SOAP precondition only the hidden matrices, and each role can get its
own lr multiplier.
"""

from __future__ import annotations

from torch import nn

from gptlab.optimizer.config import ROLES


def parameter_roles(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters by role, each parameter once (a tied head counts as the embedding).

    embedding: weights of ``nn.Embedding`` modules; head: an untied output projection (the
    model's ``head`` module); vector: anything with fewer than two dimensions; matrix: the rest.
    """
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    head = getattr(model, "head", None)
    head_ids = {id(p) for p in head.parameters()} if isinstance(head, nn.Module) else set()
    roles: dict[str, list[nn.Parameter]] = {role: [] for role in ROLES}
    seen: set[int] = set()
    for param in model.parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        if id(param) in embeddings:
            roles["embedding"].append(param)
        elif param.dim() < 2:
            roles["vector"].append(param)
        elif id(param) in head_ids:
            roles["head"].append(param)
        else:
            roles["matrix"].append(param)
    return roles
