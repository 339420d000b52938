import torch

from nerfplex.cameras import RayBundle
from nerfplex.models.base import Model


class _Recorder(Model):
    def __init__(self):
        super().__init__()
        self.seen = 0

    def get_outputs(self, rays, background, generator=None):
        self.seen += len(rays)
        n = len(rays)
        return {"rgb": torch.full((n, 3), 0.5), "depth": torch.ones(n, 1), "opacity": torch.ones(n, 1)}


def test_render_skips_empty_rays_and_shows_background():
    model = _Recorder()
    rays = RayBundle(torch.zeros(3, 3), torch.ones(3, 3), torch.zeros(3, 1), torch.tensor([[1.0], [0.0], [2.0]]))
    background = torch.tensor([[0.0, 0.0, 0.0], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]])
    out = model.render(rays, background)
    assert model.seen == 2
    torch.testing.assert_close(out["rgb"][1], background[1])
    torch.testing.assert_close(out["rgb"][0], torch.full((3,), 0.5))
    assert out["opacity"][1] == 0 and out["depth"][2] == 1


def test_render_rays_in_chunks_covers_every_ray_once():
    from nerfplex.eval.view_rendering import render_rays

    model = _Recorder()
    rays = RayBundle(torch.zeros(10, 3), torch.ones(10, 3), torch.zeros(10, 1), torch.ones(10, 1))
    out = render_rays(model, rays, torch.zeros(10, 3), chunk_rays=3)
    assert out["rgb"].shape == (10, 3) and model.seen == 10
