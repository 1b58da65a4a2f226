"""Supervised fine-tuning data: conversations -> packed examples with the loss on the answers only.

Each conversation is rendered by the tokenizer's one chat template (gptlab/tokenizer/chat.py),
which marks the assistant tokens (content and end-of-turn token) as the ones to learn. The
examples of a split are packed back to back into one in-memory shard whose ``loss_mask`` holds
that mark and whose ``doc_starts`` are the example starts, so the training loader draws windows
that start at an example, masks the other targets to -100 and keeps attention inside each example
(``data.doc_starts`` and ``data.doc_mask``, set by init_from.py). As in InstructGPT-style SFT
(Ouyang et al. 2022, arXiv:2203.02155), only the responses are trained on.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from gptlab.data.cache import Shard, TokenSplits
from gptlab.data.source import SPLITS
from gptlab.errors import DataError, GptlabError
from gptlab.tokenizer import Tokenizer
from gptlab.tokenizer.chat import ChatTemplate


def packed_examples(
    conversations: Iterable[list[dict[str, str]]], tokenizer: Tokenizer, where: str, tail: int = 0
) -> Shard:
    """One shard of the encoded ``conversations`` back to back, with their starts and loss masks,
    followed by ``tail`` unlearned end-of-text tokens so that the last example can start a window."""
    template = ChatTemplate.from_tokenizer(tokenizer)
    ids, masks = [], []
    for index, messages in enumerate(conversations):
        try:
            example, learned = template.encode_for_training(tokenizer, messages)
        except GptlabError as error:
            raise DataError(f"{where}, conversation {index}: {error}") from None
        ids.append(np.asarray(example, dtype=np.int64))
        masks.append(np.asarray(learned, dtype=bool))
    lengths = [len(example) for example in ids]
    filler = tokenizer.eos_id if tokenizer.eos_id is not None else 0
    tokens = np.concatenate([*ids, np.full(tail, filler, dtype=np.int64)]) if ids else np.zeros(0, np.int64)
    loss_mask = np.concatenate([*masks, np.zeros(tail, dtype=bool)]) if masks else np.zeros(0, bool)
    starts = np.cumsum([0, *lengths])[: len(lengths) + (tail > 0)].astype(np.int64)
    return Shard(tokens, starts, loss_mask)


def conversation_splits(source, tokenizer: Tokenizer, block_size: int) -> TokenSplits:
    """``source``'s conversations (``source.conversations()``: (split, messages)) as a packed shard per split."""
    by_split: dict[str, list] = {split: [] for split in SPLITS}
    for split, messages in source.conversations():
        by_split[split].append(messages)
    for split, conversations in by_split.items():
        if not conversations:
            raise DataError(
                f"{source.describe()} has no {split} conversations; give more of them or change data.val_fraction."
            )
    train = packed_examples(by_split["train"], tokenizer, f"{source.describe()}, train split", tail=block_size + 1)
    val = packed_examples(by_split["val"], tokenizer, f"{source.describe()}, val split")
    print(
        f"fine-tuning data: {len(by_split['train'])} train / {len(by_split['val'])} val conversations, "
        f"{int(train.loss_mask.sum()):,} of {len(train.tokens) - block_size - 1:,} train tokens learned"
    )
    return TokenSplits([train], [val], tokenizer, None)
