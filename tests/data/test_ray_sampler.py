import torch

from nerfplex.data.ray_sampler import RayBatchSampler


def test_restrict_draws_only_kept_pixels_and_survives_a_state_round_trip(tiny_scene):
    sampler = RayBatchSampler(tiny_scene.train, 256, tiny_scene.near, tiny_scene.far)
    # keep rays pointing up: a property of the ray, so the sampler must pass the right rays per pixel
    size = sampler.restrict(lambda rays: rays.directions[:, 2] > 0, chunk_rays=37)
    assert 0 < size < sampler.num_pixels
    batch = sampler.sample(torch.Generator().manual_seed(0))
    assert (batch.rays.directions[:, 2] > 0).all()
    assert set(batch.pixel_ids.tolist()) <= set(sampler.pool.tolist())

    fresh = RayBatchSampler(tiny_scene.train, 256, tiny_scene.near, tiny_scene.far)
    fresh.load_state_dict(sampler.state_dict())
    assert torch.equal(fresh.pool, sampler.pool)
    again = fresh.sample(torch.Generator().manual_seed(0))
    assert torch.equal(again.pixel_ids, batch.pixel_ids)


def test_restrict_narrows_the_current_pool_and_ignores_an_empty_result(tiny_scene):
    sampler = RayBatchSampler(tiny_scene.train, 8, tiny_scene.near, tiny_scene.far)
    sampler.restrict(lambda rays: rays.directions[:, 2] > 0)
    first = sampler.pool.clone()
    sampler.restrict(lambda rays: rays.directions[:, 0] > 0)
    assert set(sampler.pool.tolist()) < set(first.tolist())
    kept = sampler.pool.clone()
    assert sampler.restrict(lambda rays: torch.zeros(len(rays), dtype=torch.bool)) == 0
    assert torch.equal(sampler.pool, kept)


def test_unrestricted_state_round_trip(tiny_scene):
    sampler = RayBatchSampler(tiny_scene.train, 8, tiny_scene.near, tiny_scene.far)
    assert sampler.state_dict() == {"pool_mask": None}
    sampler.load_state_dict({})
    assert sampler.pool is None
