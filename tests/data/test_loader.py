import numpy as np
import pytest
import torch

from gptlab.data.cache import Shard
from gptlab.data.loader import IGNORE_INDEX, RandomWindowLoader

CPU = torch.device("cpu")


def _shard(doc_lengths, first_token=0):
    """Documents of the given lengths; every token holds its document's number (+ first_token)."""
    tokens = np.concatenate([np.full(n, first_token + i, dtype=np.uint16) for i, n in enumerate(doc_lengths)])
    return Shard(tokens, np.cumsum([0, *doc_lengths[:-1]]).astype(np.int64))


def test_doc_mask_and_doc_ids_follow_document_boundaries():
    shards = [_shard([5, 7, 3, 20]), _shard([9, 9], first_token=10)]
    loader = RandomWindowLoader(shards, 8, 64, 0, CPU, doc_mask=True)
    x, y, docs = loader.next_batch_with_docs()
    assert x.shape == y.shape == docs.shape == (64, 8)
    crossing = x != torch.cat([x[:, 1:], torch.full((64, 1), -1)], dim=1)  # next input token is another doc
    assert (y == IGNORE_INDEX).any() and (y[y != IGNORE_INDEX] == x[y != IGNORE_INDEX]).all(), "no target crosses"
    assert torch.equal(docs, x - x[:, :1]), "doc ids count documents from 0 within each row"
    assert crossing.any()
    x2, y2 = RandomWindowLoader(shards, 8, 64, 0, CPU).next_batch()
    assert torch.equal(x2, x) and not (y2 == IGNORE_INDEX).any(), "without doc_mask the targets are plain"


def test_doc_starts_begin_windows_at_documents():
    shard = Shard(np.arange(86, dtype=np.uint16), np.array([0, 4, 34, 36, 76]))  # token = its position
    x, _ = RandomWindowLoader([shard], 16, 200, 1, CPU, doc_starts=True).next_batch()
    starts = {int(row[0]) for row in x}
    assert starts == {0, 4, 34, 36}, "windows start at documents; the last one is too close to the end"


def test_ranks_split_one_global_batch_and_resume_replays_it():
    shard = Shard.of(np.arange(5000, dtype=np.uint16))
    global_batch = RandomWindowLoader([shard], 4, 12, 3, CPU, world_size=1)
    ranks = [RandomWindowLoader([shard], 4, 6, 3, CPU, rank=r, world_size=2) for r in range(2)]
    reference = global_batch.next_batch()[0]
    parts = [loader.next_batch()[0] for loader in ranks]
    assert torch.equal(torch.cat(parts), reference), "rank r takes slice r of the same global batch"
    state = ranks[0].state_dict()
    expected = ranks[0].next_batch()[0]
    ranks[0].load_state_dict(state)
    assert torch.equal(ranks[0].next_batch()[0], expected)
    with pytest.raises(ValueError, match="rank=2"):
        RandomWindowLoader([shard], 4, 6, 3, CPU, rank=2, world_size=2)


def test_loss_mask_keeps_only_the_learned_targets():
    tokens = np.arange(40, dtype=np.uint16)  # token = its position
    learned = tokens % 3 == 0
    shards = [Shard(tokens, np.array([0, 10, 20]), learned), _shard([30], first_token=100)]
    x, y, _ = RandomWindowLoader(shards, 6, 64, 0, CPU, doc_mask=True).next_batch_with_docs()
    from_masked = x[:, 0] < 100
    kept = y[from_masked][y[from_masked] != IGNORE_INDEX]
    assert len(kept) and (kept % 3 == 0).all(), "only targets whose loss_mask is true stay"
    assert ((y[from_masked] % 3 == 0) | (y[from_masked] == IGNORE_INDEX)).all()
    assert (y[~from_masked] != IGNORE_INDEX).all(), "a shard without a mask learns every target"
