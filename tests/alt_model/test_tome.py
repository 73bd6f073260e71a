"""alt_model/tome.py: bipartite soft matching, size-weighted merging, the source map."""

from __future__ import annotations

import pytest
import torch
from test_precision import near_tie

from alt_model.tome import bipartite_matching, max_merges, merge_assignment, merge_sum, merge_tokens, source_map


def _merge_steps(x: torch.Tensor, rs: list[int]):
    """Merge x [B, n, c] (keys = x) r tokens at a time; returns tokens, sizes and the index map."""
    batch, n, _ = x.shape
    sizes, assignment = x.new_ones(batch, n, 1), torch.arange(n).expand(batch, -1)
    for r in rs:
        m = bipartite_matching(x, r)
        assignment = merge_assignment(assignment, m, x.shape[1])
        x, sizes = merge_tokens(x, sizes, m)
    return x, sizes, assignment


def test_merged_tokens_are_the_mean_of_the_inputs_they_cover():
    torch.manual_seed(0)
    x0 = torch.randn(3, 17, 8)
    x, sizes, assignment = _merge_steps(x0, [4, 3, 2])
    sources = source_map(assignment, x.shape[1])
    assert x.shape == (3, 17 - 9, 8)
    torch.testing.assert_close(sizes[..., 0], sources.sum(-1))
    torch.testing.assert_close(x, sources @ x0 / sources.sum(-1, keepdim=True))


def test_source_map_partitions_the_inputs():
    torch.manual_seed(1)
    _, _, assignment = _merge_steps(torch.randn(2, 33, 4), [8, 8, 4])
    sources = source_map(assignment, 33 - 20)
    assert torch.equal(sources.sum(1), torch.ones(2, 33))  # every input position in exactly one token


def test_class_token_is_never_merged_even_when_it_is_the_best_match():
    x = torch.randn(2, 9, 4, generator=torch.Generator().manual_seed(0))
    x[:, 0] = x[:, 1]  # the class token's key equals a B token's: a perfect match
    m = bipartite_matching(x, max_merges(9))
    assert (m.merged != 0).all() and (m.kept[:, 0] == 0).all()
    merged, sizes = merge_tokens(x, x.new_ones(2, 9, 1), m)
    assert torch.equal(merged[:, 0], x[:, 0]) and (sizes[:, 0] == 1).all()


def test_most_similar_pairs_are_merged_first():
    x = torch.eye(7)[None]  # orthogonal tokens ...
    x[0, 4] = x[0, 3]  # ... but A token 4 duplicates B token 3
    m = bipartite_matching(x, 1)
    assert m.merged.tolist() == [[2]] and m.into.tolist() == [[1]]  # A position 2 = token 4, B position 1 = token 3


def test_max_merges_leaves_the_class_token_and_set_b():
    assert [max_merges(n) for n in (1, 2, 3, 4, 5, 197)] == [0, 0, 1, 1, 2, 98]


def test_merging_clip_scale_outliers_in_fp16_gives_the_exact_mean():
    # ViT-B/16's residual stream has a few channels in the thousands; times regions of tens of patches that is
    # past fp16's 65504, so the size-weighted sum is taken in fp32
    x = torch.randn(2, 17, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x[..., 3] += 3000
    sizes = torch.randint(10, 60, (2, 17, 1), generator=torch.Generator().manual_seed(1)).double()
    m = bipartite_matching(x, 6)
    merged, merged_sizes = merge_tokens(x.half(), sizes.half(), m)
    exact_sizes = merge_sum(sizes, m)
    exact = merge_sum(x.half().double() * sizes, m) / exact_sizes  # in fp64
    assert merged.dtype == torch.float16 and merged.isfinite().all()
    torch.testing.assert_close(merged, exact.half())
    assert torch.equal(merged_sizes.double(), exact_sizes)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_merges_the_pair_fp32_finds_most_similar(dtype):
    a, b = near_tie()  # keys [class token, B 0, A 1, B 1]: A 1 is 5e-5 closer to B 1 than to B 0
    keys = torch.stack([b.new_ones(a.shape[1]), b[0], a[0], b[1]])[None]
    with torch.autocast("cpu", dtype=dtype):
        m = bipartite_matching(keys, 1)
    assert m.merged.tolist() == [[1]] and m.into.tolist() == [[1]]
