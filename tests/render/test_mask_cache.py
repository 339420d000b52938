import torch

from nerfplex.render.mask_cache import MaskCache

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])


def test_mask_cache_reads_the_nearest_vertex_and_is_false_outside():
    mask = torch.zeros(3, 3, 3, dtype=torch.bool)
    mask[2, 1, 1] = True  # vertex (1, 0, 0)
    cache = MaskCache(mask, BOX)
    points = torch.tensor([[0.6, 0.1, -0.2], [0.4, 0.0, 0.0], [1.0, 0.0, 0.0], [1.2, 0.0, 0.0], [1.6, 0.0, 0.0]])
    # within half a voxel beyond the box the nearest vertex still counts (the authors' rounding)
    assert cache(points).tolist() == [True, False, True, True, False]


def test_full_mask_keeps_the_box_and_vertices_span_it():
    cache = MaskCache.full([3, 4, 5], BOX)
    assert cache.resolution == [3, 4, 5] and bool(cache.mask.all())
    vertices = cache.vertices()
    assert vertices.shape == (3, 4, 5, 3)
    torch.testing.assert_close(vertices[0, 0, 0], BOX[0])
    torch.testing.assert_close(vertices[-1, -1, -1], BOX[1])
    assert cache(torch.tensor([[0.3, -0.2, 0.9], [1.6, 0.0, 0.0]])).tolist() == [True, False]
