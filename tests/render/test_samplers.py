import torch

from nerfplex.render.samplers import merge_edges, midpoints, pdf_edges, stratified_edges


def test_stratified_edges_even_and_jittered_within_strata():
    near, far = torch.full((5, 1), 2.0), torch.full((5, 1), 6.0)
    even = stratified_edges(near, far, 8, perturb=False)
    assert torch.allclose(even[0], torch.linspace(2, 6, 9))
    g = torch.Generator().manual_seed(0)
    jittered = stratified_edges(near, far, 8, perturb=True, generator=g)
    assert jittered.shape == (5, 9)
    assert (jittered[:, 1:] >= jittered[:, :-1]).all()
    assert (jittered >= 2).all() and (jittered <= 6).all()
    mids = midpoints(even)
    lower = torch.cat([near, mids], -1)
    upper = torch.cat([mids, far], -1)
    assert ((jittered >= lower - 1e-6) & (jittered <= upper + 1e-6)).all()
    assert not torch.allclose(jittered, even)


def test_pdf_samples_follow_weights():
    edges = torch.linspace(0, 4, 5).expand(1, 5)
    weights = torch.tensor([[0.0, 1.0, 0.0, 3.0]])
    g = torch.Generator().manual_seed(0)
    t = pdf_edges(edges, weights, 4000, perturb=True, generator=g)
    in_bin1 = ((t >= 1) & (t < 2)).float().mean()
    in_bin3 = ((t >= 3) & (t <= 4)).float().mean()
    assert abs(in_bin1 - 0.25) < 0.01 and abs(in_bin3 - 0.75) < 0.01
    assert (t[:, 1:] >= t[:, :-1]).all()


def test_pdf_deterministic_quantiles():
    edges = torch.tensor([[0.0, 1.0, 2.0]])
    weights = torch.tensor([[1.0, 1.0]])
    t = pdf_edges(edges, weights, 4, perturb=False, eps=0.0)
    assert torch.allclose(t, torch.tensor([[0.25, 0.75, 1.25, 1.75]]))


def test_merge_sorts_union():
    merged = merge_edges(torch.tensor([[0.0, 2.0, 4.0]]), torch.tensor([[3.0, 1.0]]))
    assert torch.equal(merged, torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0]]))
