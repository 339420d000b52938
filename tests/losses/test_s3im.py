"""S3IM pinned to the authors' algorithm (Madaoer/S3IM-Neural-Fields, model_components/s3im.py).

``_authors_s3im`` restates their steps one by one (index lists built in a loop, gather, the
``permute(1, 0).reshape(1, C, H, W·M)`` layout, SSIM with five separate grouped convolutions and a
zero-padded, strided Gaussian window); our vectorised loss must agree with it to 1e-6.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from nerfplex.errors import NerfplexError
from nerfplex.losses.s3im import S3IMConfig, s3im, s3im_from_config, virtual_image_indices


def _authors_window(size, channels):
    g = torch.tensor([math.exp(-((x - size // 2) ** 2) / (2 * 1.5**2)) for x in range(size)])
    g = (g / g.sum()).unsqueeze(1)
    return (g @ g.t()).float().expand(channels, 1, size, size).contiguous()


def _authors_ssim(a, b, size, stride):
    c = a.shape[1]
    w, p = _authors_window(size, c).to(a.dtype), (size - 1) // 2
    mu1 = F.conv2d(a, w, padding=p, groups=c, stride=stride)
    mu2 = F.conv2d(b, w, padding=p, groups=c, stride=stride)
    s11 = F.conv2d(a * a, w, padding=p, groups=c, stride=stride) - mu1.pow(2)
    s22 = F.conv2d(b * b, w, padding=p, groups=c, stride=stride) - mu2.pow(2)
    s12 = F.conv2d(a * b, w, padding=p, groups=c, stride=stride) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1.pow(2) + mu2.pow(2) + c1) * (s11 + s22 + c2))
    return m.mean()


def _authors_s3im(src, tar, perms, kernel, stride, repeat, height, width):
    index_list = [torch.arange(len(tar))] + [perms[i] for i in range(repeat - 1)]
    idx = torch.cat(index_list)
    tar_patch = tar[idx].permute(1, 0).reshape(1, 3, height, width * repeat)
    src_patch = src[idx].permute(1, 0).reshape(1, 3, height, width * repeat)
    return 1 - _authors_ssim(src_patch, tar_patch, kernel, stride)


def _perms(repeat, batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.stack([torch.randperm(batch, generator=g) for _ in range(repeat - 1)])
        if repeat > 1
        else torch.empty(0, batch, dtype=torch.long)
    )


@pytest.mark.parametrize(
    "kernel, stride, repeat, height, width",
    [
        (4, 4, 1, 64, 64),  # M = 1: the batch as one 64x64 image
        (4, 4, 10, 64, 64),  # the authors' defaults (B = 4096)
        (3, 3, 4, 16, 8),  # odd kernel (symmetric window)
        (4, 2, 3, 8, 12),  # overlapping windows
    ],
)
def test_matches_authors_algorithm_forward_and_gradient(kernel, stride, repeat, height, width):
    torch.manual_seed(0)
    batch = height * width
    target = torch.rand(batch, 3)
    pred_ours = (target + 0.2 * torch.randn(batch, 3)).clamp(0, 1).requires_grad_()
    pred_ref = pred_ours.detach().clone().requires_grad_()
    perms = _perms(repeat, batch)
    ours = s3im(
        pred_ours, target, kernel_size=kernel, stride=stride, repeat=repeat, patch_height=height, permutations=perms
    )
    ref = _authors_s3im(pred_ref, target, perms, kernel, stride, repeat, height, width)
    ours.backward()
    ref.backward()
    assert abs(ours.item() - ref.item()) < 1e-6
    torch.testing.assert_close(pred_ours.grad, pred_ref.grad, rtol=0, atol=1e-6)


def test_pinned_values():
    # Deterministic inputs; values from the authors' algorithm (_authors_s3im) in float64, rounded.
    batch = 64
    x = torch.arange(batch * 3, dtype=torch.float32).reshape(batch, 3)
    target = (torch.sin(x * 0.37) + 1) / 2
    pred = (torch.cos(x * 0.11) + 1) / 2
    perms = torch.stack([torch.roll(torch.arange(batch).flip(0), k) for k in (3, 17)])
    one = s3im(pred, target, kernel_size=4, stride=4, repeat=1, patch_height=8)
    three = s3im(pred, target, kernel_size=4, stride=4, repeat=3, patch_height=8, permutations=perms)
    assert one.item() == pytest.approx(
        _authors_s3im(pred.double(), target.double(), perms, 4, 4, 1, 8, 8).item(), abs=1e-6
    )
    assert three.item() == pytest.approx(
        _authors_s3im(pred.double(), target.double(), perms, 4, 4, 3, 8, 8).item(), abs=1e-6
    )
    assert one.item() == pytest.approx(PINNED_M1, abs=1e-6)
    assert three.item() == pytest.approx(PINNED_M3, abs=1e-6)


# _authors_s3im on the inputs of test_pinned_values, in float64.
PINNED_M1 = 0.730243744468114
PINNED_M3 = 0.8737848139788447


def test_identical_inputs_give_zero():
    values = torch.rand(4096, 3)
    assert s3im(values, values.clone(), generator=torch.Generator().manual_seed(0)).item() == pytest.approx(
        0.0, abs=1e-6
    )


def test_layout_is_row_major_concatenation():
    index, width = virtual_image_indices(6, 2, 3, permutations=torch.tensor([[5, 4, 3, 2, 1, 0]]))
    assert width == 4
    # 12 gathered values, rows of 4: the identity fills row 0 and half of row 1.
    assert index.reshape(3, 4).tolist() == [[0, 1, 2, 3], [4, 5, 5, 4], [3, 2, 1, 0]]


def test_any_batch_size_drops_at_most_height_minus_one_values():
    index, width = virtual_image_indices(1000, 10, 64, generator=torch.Generator().manual_seed(0))
    assert width == 156 and index.numel() == 64 * 156 and 10 * 1000 - index.numel() < 64
    assert torch.equal(index[:1000], torch.arange(1000))
    loss = s3im(torch.rand(1000, 3), torch.rand(1000, 3), generator=torch.Generator().manual_seed(0))
    assert 0 < loss.item() < 2


def test_permutations_come_from_the_generator():
    a = virtual_image_indices(128, 4, 16, generator=torch.Generator().manual_seed(3))[0]
    b = virtual_image_indices(128, 4, 16, generator=torch.Generator().manual_seed(3))[0]
    c = virtual_image_indices(128, 4, 16, generator=torch.Generator().manual_seed(4))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)
    for r in range(4):
        assert torch.equal(a[r * 128 : (r + 1) * 128].sort().values, torch.arange(128))


def test_too_small_batch_is_a_clear_error():
    with pytest.raises(NerfplexError, match="patch_height"):
        s3im(torch.rand(8, 3), torch.rand(8, 3), repeat=1, patch_height=64)


def test_config_defaults_are_the_authors():
    cfg = S3IMConfig()
    assert (cfg.kernel_size, cfg.stride, cfg.repeat, cfg.patch_height) == (4, 4, 10, 64)
    values = torch.rand(4096, 3)
    assert s3im_from_config(cfg, values, values).item() == pytest.approx(0.0, abs=1e-6)
