"""The in-memory loader: whole-batch indexing, seeded shuffling, standard DataLoader parts."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch.utilities.data import _update_dataloader
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

from trainlab.data import TensorSplit, make_loader
from trainlab.data.loader import BatchedTensorDataset
from trainlab.errors import TrainlabError

N = 23


def numbered_split(n: int = N) -> TensorSplit:
    """Image i is filled with the value i and has label i, so a batch tells which samples it holds."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    return TensorSplit(images, torch.arange(n, dtype=torch.int64))


def epoch_order(loader: DataLoader) -> list[int]:
    return [int(v) for _, labels in loader for v in labels]


def test_batches_shapes_and_dtypes() -> None:
    loader = make_loader(numbered_split(), batch_size=8, shuffle=True, seed=0)
    batches = list(loader)
    assert [len(labels) for _, labels in batches] == [8, 8, 7]
    for images, labels in batches:
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 4, 4)
        assert labels.dtype == torch.int64
        assert torch.equal(images[:, 0, 0, 0].long(), labels)


def test_every_sample_once_per_epoch() -> None:
    loader = make_loader(numbered_split(), batch_size=5, shuffle=True, seed=1)
    for _ in range(2):
        order = epoch_order(loader)
        assert sorted(order) == list(range(N))


def test_seeded_order() -> None:
    def loader(seed: int) -> DataLoader:
        return make_loader(numbered_split(), batch_size=4, shuffle=True, seed=seed)

    same_a, same_b, other = loader(7), loader(7), loader(8)
    assert epoch_order(same_a) == epoch_order(same_b)
    assert epoch_order(same_a) == epoch_order(same_b)  # the second epochs match too
    assert epoch_order(loader(7)) != epoch_order(other)
    assert epoch_order(make_loader(numbered_split(), batch_size=4, shuffle=False, seed=0)) == list(range(N))


def test_length_with_and_without_drop_last() -> None:
    assert len(make_loader(numbered_split(), batch_size=5, shuffle=True, seed=0)) == 5
    dropped = make_loader(numbered_split(), batch_size=5, shuffle=True, seed=0, drop_last=True)
    assert len(dropped) == 4 and sum(1 for _ in dropped) == 4


def test_standard_dataloader_parts_and_whole_batch_indexing(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = make_loader(numbered_split(), batch_size=8, shuffle=True, seed=0)
    assert type(loader) is DataLoader
    assert isinstance(loader.sampler, RandomSampler)
    assert isinstance(make_loader(numbered_split(), batch_size=8, shuffle=False, seed=0).sampler, SequentialSampler)

    def per_sample(self: BatchedTensorDataset, index: int) -> None:
        raise AssertionError("the loader must fetch whole batches through __getitems__")

    monkeypatch.setattr(BatchedTensorDataset, "__getitem__", per_sample)
    assert sorted(epoch_order(loader)) == list(range(N))


def test_lightning_rebuilds_the_loader_for_ddp_and_it_still_serves_whole_batches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Under DDP Lightning re-creates each training loader around a DistributedSampler (``_update_dataloader``); the
    rebuilt loader must keep trainlab's batched dataset and collate, fetch whole batches, and split the samples
    between the ranks."""
    loader = make_loader(numbered_split(), batch_size=4, shuffle=True, seed=0)

    def per_sample(self: BatchedTensorDataset, index: int) -> None:
        raise AssertionError("the rebuilt loader must still fetch whole batches through __getitems__")

    monkeypatch.setattr(BatchedTensorDataset, "__getitem__", per_sample)
    shards = []
    for rank in range(2):
        sampler = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, shuffle=True, seed=0)
        rebuilt = _update_dataloader(loader, sampler)
        assert rebuilt.dataset is loader.dataset and rebuilt.collate_fn is loader.collate_fn
        shards.append(epoch_order(rebuilt))
    # every sample on some rank; the training sampler pads the shorter shard (evaluation uses EvalShardSampler)
    assert set(shards[0] + shards[1]) == set(range(N)) and len(shards[0]) == len(shards[1]) == (N + 1) // 2


def test_worker_processes() -> None:
    loader = make_loader(numbered_split(), batch_size=6, shuffle=True, seed=0, num_workers=1)
    assert loader.persistent_workers
    assert sorted(epoch_order(loader)) == list(range(N))


def test_gpu_resident_data_refuses_workers() -> None:
    with pytest.raises(TrainlabError, match="num_workers must be 0"):
        make_loader(numbered_split(), batch_size=4, shuffle=True, seed=0, device="cuda", num_workers=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_resident_batches() -> None:
    loader = make_loader(numbered_split(), batch_size=8, shuffle=True, seed=0, device="cuda")
    images, labels = next(iter(loader))
    assert images.is_cuda and labels.is_cuda


def test_eval_shards_cover_every_sample_exactly_once_without_padding() -> None:
    split = TensorSplit(torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10))
    seen = []
    for rank in range(3):
        loader = make_loader(split, batch_size=4, shuffle=False, seed=0, shard=(rank, 3))
        assert isinstance(loader.sampler, DistributedSampler)  # so Lightning does not swap in a padding sampler
        seen += [int(label) for _, labels in loader for label in labels]
    assert sorted(seen) == list(range(10))  # 4 + 3 + 3, nothing repeated
    with pytest.raises(ValueError, match="cannot shuffle"):
        make_loader(split, batch_size=4, shuffle=True, seed=0, shard=(0, 2))
