"""data.ShardOrder: a clip store's training order, each torchrun process its own shards, dealt again every epoch."""

import math

import pytest
import torch.utils.data

from alt_model.data import EpochOrder, ShardOrder

# 4 shards of a store, as ClipStore.shards_of gives them: the dataset indices each shard holds (the last one short)
SHARDS = [list(range(0, 10)), list(range(10, 20)), list(range(20, 30)), list(range(30, 34))]
OF = {index: shard for shard, indices in enumerate(SHARDS) for index in indices}


def orders(world: int, epoch: int, seed: int = 7) -> list[list[int]]:
    result = []
    for rank in range(world):
        order = ShardOrder(SHARDS, world, rank, seed)
        order.set_epoch(epoch)
        result.append(list(order))
    return result


def test_one_process_reads_every_video_once_an_epoch_shard_after_shard():
    for epoch in range(3):
        (order,) = orders(1, epoch)
        assert sorted(order) == list(range(34))
        shards = [OF[i] for i in order]
        runs = [s for i, s in enumerate(shards) if i == 0 or shards[i - 1] != s]
        assert sorted(runs) == [0, 1, 2, 3]  # each shard read in one run, not interleaved with another


@pytest.mark.parametrize("world", [2, 3])
def test_each_process_reads_its_own_shards_as_many_steps_as_distributed_sampler(world):
    for epoch in range(4):
        per_rank = orders(world, epoch)
        assert all(len(order) == math.ceil(34 / world) for order in per_rank)  # DDP: the same number of steps on every rank
        owned = [{OF[i] for i in order} for order in per_rank]
        assert all(not (owned[a] & owned[b]) for a in range(world) for b in range(a + 1, world))  # no shard read twice
        dealt = [sorted(OF[i] for i in set(order)) for order in per_rank]
        assert sorted(s for shards in dealt for s in set(shards)) == [0, 1, 2, 3]
    assert orders(world, 0) != orders(world, 1)  # dealt and shuffled again each epoch
    assert orders(world, 2) == orders(world, 2)  # by (seed, epoch) alone: a resumed run sees the same order


def test_fewer_shards_than_processes_deal_the_videos_like_distributed_sampler():
    per_rank = orders(8, 0)
    assert all(len(order) == math.ceil(34 / 8) for order in per_rank)
    assert set().union(*map(set, per_rank)) == set(range(34))


def test_epoch_order_resumes_a_shard_order_mid_epoch():
    order = EpochOrder(ShardOrder(SHARDS, 2, 1, seed=7))
    order.start(3)
    whole = list(order)
    order.start(3, skip=5)
    assert list(order) == whole[5:] and len(order) == len(whole) - 5
    assert all(epoch == 3 for epoch, _ in whole)
    assert isinstance(order.sampler, torch.utils.data.Sampler)
